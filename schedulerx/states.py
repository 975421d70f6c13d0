"""The publication state machine (DESIGN.md), in one table.

  draft → scheduled → queued → publishing → published
                ↘ paused ↗        ↘ retry_wait → queued
  scheduled|paused|retry_wait → canceled
  scheduled (later than the workspace's misfire lateness) → missed → scheduled | canceled
  publishing (lease expired) → unknown → published | retry_wait | failed
  any active → failed
"""
from __future__ import annotations

DRAFT, SCHEDULED, PAUSED, QUEUED, PUBLISHING = "draft", "scheduled", "paused", "queued", "publishing"
PUBLISHED, RETRY_WAIT, UNKNOWN, FAILED, CANCELED = "published", "retry_wait", "unknown", "failed", "canceled"
MISSED = "missed"

ALL = (DRAFT, SCHEDULED, PAUSED, QUEUED, PUBLISHING, PUBLISHED, RETRY_WAIT, UNKNOWN, FAILED, CANCELED,
       MISSED)

TRANSITIONS: dict[str, frozenset[str]] = {
    DRAFT: frozenset({SCHEDULED, CANCELED}),
    SCHEDULED: frozenset({QUEUED, PAUSED, CANCELED, SCHEDULED, FAILED, MISSED}),
    PAUSED: frozenset({SCHEDULED, CANCELED}),
    # queued → queued: a claim whose message was lost is claimed again.
    QUEUED: frozenset({PUBLISHING, QUEUED, FAILED}),
    PUBLISHING: frozenset({PUBLISHED, RETRY_WAIT, FAILED, UNKNOWN}),
    RETRY_WAIT: frozenset({QUEUED, SCHEDULED, CANCELED, FAILED}),
    UNKNOWN: frozenset({PUBLISHED, RETRY_WAIT, FAILED, SCHEDULED}),
    PUBLISHED: frozenset(),
    FAILED: frozenset({SCHEDULED}),
    CANCELED: frozenset(),
    # Missed after downtime (workspace misfire policy): waits for the user.
    MISSED: frozenset({SCHEDULED, CANCELED}),
}

#: States the tick claims once their due_at has passed.
CLAIMABLE = (SCHEDULED, RETRY_WAIT, QUEUED)
#: States no worker will touch again.
FINISHED = (PUBLISHED, FAILED, CANCELED)
#: States that hold a place on an account's calendar (the queue skips them).
OCCUPYING = (SCHEDULED, PAUSED, QUEUED, PUBLISHING, RETRY_WAIT, UNKNOWN, PUBLISHED)


def sources(target: str) -> tuple[str, ...]:
    """Every state from which ``target`` may be reached."""
    return tuple(s for s, targets in TRANSITIONS.items() if target in targets)


def can(source: str, target: str) -> bool:
    return target in TRANSITIONS.get(source, ())


# User actions: the states each is allowed from, and where it leads.
ACTIONS: dict[str, tuple[tuple[str, ...], str]] = {
    "cancel": ((SCHEDULED, PAUSED, RETRY_WAIT, MISSED), CANCELED),
    "pause": ((SCHEDULED,), PAUSED),
    "resume": ((PAUSED,), SCHEDULED),
    "force": ((SCHEDULED, PAUSED, RETRY_WAIT, MISSED), SCHEDULED),
    "reschedule": ((SCHEDULED, PAUSED, RETRY_WAIT, MISSED), SCHEDULED),
    # After failed, or after unknown when the user has checked the platform.
    "retry": ((FAILED, UNKNOWN), SCHEDULED),
    "mark_published": ((UNKNOWN,), PUBLISHED),
    "mark_failed": ((UNKNOWN,), FAILED),
}

for _action, (_froms, _to) in ACTIONS.items():
    assert all(can(f, _to) for f in _froms), f"action {_action} breaks the state machine"
