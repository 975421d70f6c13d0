"""The audit trail and logs panel: one function to record, one to query."""
from __future__ import annotations

import logging

from .models import Event
from .timeutil import utcnow

log = logging.getLogger("schedulerx.events")

LEVELS = ("debug", "info", "warning", "error")


def record(workspace_id: int | None, source: str, message: str, *, level: str = "info",
           subject: tuple[str, int] | None = None, data: dict | None = None) -> Event:
    """Write an event row (inside the caller's transaction, if any) and log it."""
    getattr(log, level if level != "debug" else "debug")("[%s] %s", source, message)
    return Event.create(
        workspace=workspace_id, time=utcnow(), level=level, source=source,
        subject_type=subject[0] if subject else None,
        subject_id=subject[1] if subject else None,
        message=message, data=data or {},
    )


def query(workspace_id: int, *, level: str | None = None, source: str | None = None,
          subject_type: str | None = None, subject_id: int | None = None,
          since=None, until=None, after_id: int | None = None):
    """Events of one workspace, newest first, filtered; a peewee query to paginate."""
    q = Event.select().where(Event.workspace == workspace_id)
    if level:
        # A level filter shows that level and the more severe ones.
        q = q.where(Event.level.in_(LEVELS[LEVELS.index(level):]))
    if source:
        q = q.where(Event.source == source)
    if subject_type:
        q = q.where(Event.subject_type == subject_type)
    if subject_id is not None:
        q = q.where(Event.subject_id == subject_id)
    if since is not None:
        q = q.where(Event.time >= since)
    if until is not None:
        q = q.where(Event.time < until)
    if after_id is not None:
        q = q.where(Event.id > after_id)
    return q.order_by(Event.id.desc())


def notify_status_changed(pm, pub_id: int, old: str, new: str) -> None:
    """Fire ``publication_status_changed`` after commit; a plugin error never undoes it."""
    from .models import Publication
    if not pm.hook.publication_status_changed.get_hookimpls():
        return  # nobody listens: spare the read
    try:
        pub = Publication.get_by_id(pub_id)
        pm.hook.publication_status_changed(publication=pub, old_status=old, new_status=new)
    except Exception:
        log.exception("publication_status_changed hook failed for publication %s", pub_id)
