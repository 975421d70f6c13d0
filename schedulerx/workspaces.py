"""Workspace settings: name, timezone, and what happens to a one-off post the
scheduler missed (it was down when the post was due).

``misfire.policy``:
  * ``mark_missed`` (default): a post later than ``misfire.max_lateness`` seconds
    becomes ``missed`` and waits for the user (reschedule, force or cancel);
  * ``publish_late``: it is published, however late.
"""
from __future__ import annotations

from .errors import ValidationError
from .models import Workspace
from .timeutil import is_zone

MISFIRE_POLICIES = ("mark_missed", "publish_late")
DEFAULT_MISFIRE = {"policy": "mark_missed", "max_lateness": 3600}


def misfire(ws: Workspace) -> dict:
    return {**DEFAULT_MISFIRE, **((ws.settings or {}).get("misfire") or {})}


def update(ws: Workspace, *, name=None, timezone=None, misfire_policy=None,
           misfire_max_lateness=None) -> Workspace:
    if name is not None:
        if not name.strip():
            raise ValidationError("name cannot be empty", field="name")
        ws.name = name.strip()
    if timezone is not None:
        if not is_zone(timezone):
            raise ValidationError(f"unknown IANA timezone {timezone!r}", field="timezone")
        ws.timezone = timezone
    mis = misfire(ws)
    if misfire_policy is not None:
        if misfire_policy not in MISFIRE_POLICIES:
            raise ValidationError(f"misfire policy must be one of {', '.join(MISFIRE_POLICIES)}",
                                  field="misfire.policy")
        mis["policy"] = misfire_policy
    if misfire_max_lateness is not None:
        if not 60 <= misfire_max_lateness <= 30 * 86400:
            raise ValidationError("misfire.max_lateness: 60 to 2592000 seconds",
                                  field="misfire.max_lateness")
        mis["max_lateness"] = int(misfire_max_lateness)
    ws.settings = {**(ws.settings or {}), "misfire": mis}
    ws.save()
    return ws
