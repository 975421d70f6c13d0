"""Scheduler status: heartbeats, queue depth, counts by status, plugin load errors."""
from __future__ import annotations

from peewee import fn

from . import states
from .models import Heartbeat, Publication
from .timeutil import isoformat, utcnow


def heartbeats(config) -> list[dict]:
    now = utcnow()
    stale_after = max(config.heartbeat_interval, config.tick_interval) * 3 + 5
    out = []
    for hb in Heartbeat.select().order_by(Heartbeat.kind, Heartbeat.name):
        age = (now - hb.last_seen).total_seconds()
        out.append({"name": hb.name, "kind": hb.kind, "hostname": hb.hostname, "pid": hb.pid,
                    "last_seen": isoformat(hb.last_seen), "age_seconds": round(age, 1),
                    "alive": age <= stale_after, "info": hb.info})
    return out


def counts(workspace_id: int | None = None) -> dict[str, int]:
    q = Publication.select(Publication.status, fn.COUNT(Publication.id).alias("n"))
    if workspace_id is not None:
        q = q.where(Publication.workspace == workspace_id)
    found = {row.status: row.n for row in q.group_by(Publication.status)}
    return {s: found.get(s, 0) for s in states.ALL}


def queue_depth() -> dict[str, int]:
    """Publications due now but not yet published, system-wide."""
    now = utcnow()
    due = (Publication.select()
           .where(Publication.status.in_((states.SCHEDULED, states.RETRY_WAIT)),
                  Publication.due_at <= now).count())
    in_flight = Publication.select().where(
        Publication.status.in_((states.QUEUED, states.PUBLISHING))).count()
    return {"due": due, "in_flight": in_flight}


def snapshot(config, pm, workspace_id: int) -> dict:
    beats = heartbeats(config)

    def alive(kind):
        return any(b["alive"] for b in beats if b["kind"] == kind)

    return {
        "healthy": alive("clock") and alive("tick") and alive("worker") and not pm.load_errors,
        "clock_alive": alive("clock"), "tick_alive": alive("tick"), "workers_alive": alive("worker"),
        "heartbeats": beats,
        "queue": queue_depth(),
        "counts": counts(workspace_id),
        "plugins": pm.plugin_info(),
        "plugin_errors": [e.as_dict() for e in pm.load_errors],
        "now": isoformat(utcnow()),
    }
