"""Logs: the workspace's events, filtered by level and source, live over server-sent events."""
from __future__ import annotations

import json
import time

from flask import Blueprint, Response, current_app, g, render_template, request

from schedulerx import events
from schedulerx.db import database
from schedulerx.models import Event
from schedulerx.timeutil import isoformat

from .helpers import localtime, paged

bp = Blueprint("logs", __name__)

PAGE_SIZE = 100
#: A stream ends after this long (``SCHEDULERX_SSE_SECONDS`` in the Flask config overrides it),
#: so it never holds a server thread for good; the browser's EventSource reconnects.
STREAM_SECONDS = 300
POLL_SECONDS = 1.0
KEEPALIVE_SECONDS = 15
RECONNECT_MS = 3000
BATCH = 200


def _filters() -> tuple[str | None, str | None]:
    level = request.args.get("level")
    source = (request.args.get("source") or "").strip() or None
    return (level if level in events.LEVELS else None), source


def _newest_id(workspace_id: int) -> int:
    newest = events.query(workspace_id).first()
    return newest.id if newest else 0


@bp.route("/logs")
def index():
    level, source = _filters()
    sources = [e.source for e in Event.select(Event.source).where(Event.workspace == g.workspace.id)
               .distinct().order_by(Event.source)]
    return render_template("pages/logs.html", page=paged(events.query(g.workspace.id, level=level,
                                                                      source=source), PAGE_SIZE),
                           levels=events.LEVELS, level=level, source=source, sources=sources,
                           newest_id=_newest_id(g.workspace.id))


def _message(event: Event, tz_name: str) -> str:
    data = {"id": event.id, "time": localtime(event.time, "%Y-%m-%d %H:%M:%S", tz_name),
            "iso": isoformat(event.time), "level": event.level, "source": event.source,
            "subject_type": event.subject_type, "subject_id": event.subject_id,
            "message": event.message}
    return f"id: {event.id}\ndata: {json.dumps(data)}\n\n"


@bp.route("/logs/stream")
def stream():
    """text/event-stream of the events after Last-Event-ID (or ?after=, or now)."""
    workspace_id, tz_name = g.workspace.id, g.workspace.timezone
    level, source = _filters()
    try:
        last_id = int(request.headers.get("Last-Event-ID") or request.args["after"])
    except (KeyError, ValueError):
        last_id = _newest_id(workspace_id)
    seconds = float(current_app.config.get("SCHEDULERX_SSE_SECONDS", STREAM_SECONDS))

    def generate(last_id: int):
        yield f"retry: {RECONNECT_MS}\n: stream open\n\n"
        deadline = time.monotonic() + seconds
        quiet_since = time.monotonic()
        while time.monotonic() < deadline:
            # One short-lived connection per poll: an idle stream holds no database connection.
            with database.connection_context():
                rows = list(events.query(workspace_id, level=level, source=source, after_id=last_id)
                            .order_by(Event.id.asc()).limit(BATCH))
            for event in rows:
                last_id = event.id
                yield _message(event, tz_name)
            if rows:
                quiet_since = time.monotonic()
            elif time.monotonic() - quiet_since >= KEEPALIVE_SECONDS:
                quiet_since = time.monotonic()
                yield ": keep-alive\n\n"
            if len(rows) < BATCH:
                time.sleep(POLL_SECONDS)

    return Response(generate(last_id), mimetype="text/event-stream",
                    headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})
