"""The execution engine: claim, publish, reap, reconcile. No broker in here.

The workers wrap these functions in Dramatiq actors; the database is the source
of truth and a message carries only ``(publication_id, claim_token)``.

* ``tick`` claims due rows in one atomic statement (``FOR UPDATE SKIP LOCKED`` on
  PostgreSQL, an immediate transaction on SQLite), so concurrent ticks never
  claim a row twice; it also re-claims ``queued`` rows whose message was lost and
  moves ``publishing`` rows whose lease ran out to ``unknown``.
* ``publish`` compare-and-sets ``queued → publishing`` for the exact claim, calls
  the publisher outside any transaction, and records the outcome and the attempt
  in one transaction.
* ``reconcile`` settles an ``unknown`` row through the publisher's lookup, or
  leaves it for the user: never a blind second post.
"""
from __future__ import annotations

import logging
import os
import socket
import uuid
from dataclasses import dataclass, field
from datetime import timedelta

from . import events, oauth, quotas, schedules, states, workspaces
from .db import database, is_sqlite
from .models import Account, Heartbeat, Publication, PublishAttempt, Workspace
from .publish_context import build_context, publisher_for
from .publishers import AuthError, PermanentError, PublishResult, RateLimited, TemporaryError
from .retry import RetryPolicy
from .timeutil import isoformat, utcnow

log = logging.getLogger(__name__)

WORKER_NAME = f"{socket.gethostname()}:{os.getpid()}"


@dataclass
class TickResult:
    claimed: list[tuple[int, str]] = field(default_factory=list)
    expired: list[int] = field(default_factory=list)
    missed: list[int] = field(default_factory=list)
    occurrences: list[int] = field(default_factory=list)
    #: ``unknown`` rows whose reconcile never reported back: to send again.
    unreconciled: list[int] = field(default_factory=list)

    @property
    def to_reconcile(self) -> list[int]:
        return self.expired + self.unreconciled


def claim_due(config, now=None, limit: int | None = None) -> list[tuple[int, str]]:
    """Move due publications to ``queued`` under a fresh claim token; return them."""
    now = now or utcnow()
    token = uuid.uuid4().hex
    lease = now + timedelta(seconds=config.queue_lease)
    due = (Publication.select(Publication.id)
           .where(Publication.status.in_(states.CLAIMABLE), Publication.due_at <= now)
           .order_by(Publication.due_at)
           .limit(limit or config.claim_batch))
    if not is_sqlite():  # SQLite: every transaction is IMMEDIATE (see db.py)
        due = due.for_update(skip_locked=True)
    query = (Publication
             .update(status=states.QUEUED, claim_token=token, due_at=lease,
                     lease_until=lease, updated_at=now)
             .where(Publication.id.in_(due))
             .returning(Publication.id))
    with database.atomic():
        ids = [row.id for row in query.execute()]
    return [(pid, token) for pid in ids]


def reap_expired(now=None, reconcile_by=None) -> list[int]:
    """``publishing`` past its lease → ``unknown``: the worker died mid-call.

    ``reconcile_by`` is the deadline of the reconcile the caller sends next; past
    it, ``claim_unreconciled`` sends it again (the message or its worker was lost).
    """
    now = now or utcnow()
    with database.atomic():
        rows = list(Publication.select(Publication.id, Publication.workspace)
                    .where(Publication.status == states.PUBLISHING, Publication.due_at <= now))
        if not rows:
            return []
        ids = [r.id for r in rows]
        (Publication.update(status=states.UNKNOWN, due_at=reconcile_by, updated_at=now,
                            error_code="lease_expired",
                            error_message="the worker stopped before reporting the outcome")
         .where(Publication.id.in_(ids), Publication.status == states.PUBLISHING).execute())
        (PublishAttempt.update(outcome="unknown", finished_at=now, error_code="lease_expired")
         .where(PublishAttempt.publication.in_(ids), PublishAttempt.outcome == "running").execute())
        for r in rows:
            events.record(r.workspace_id, "engine", "publish lease expired; outcome unknown",
                          level="warning", subject=("publication", r.id))
    return ids


def claim_unreconciled(config, now=None) -> list[int]:
    """``unknown`` rows whose reconcile deadline passed: their reconcile message was
    lost (broker restart) or its worker killed. Push the deadline on and return them.

    On an ``unknown`` row ``due_at`` is that deadline while a reconcile is owed, and
    null once reconcile has run and the row waits for the user.
    """
    now = now or utcnow()
    due = (Publication.select(Publication.id)
           .where(Publication.status == states.UNKNOWN, Publication.due_at <= now)
           .order_by(Publication.due_at)
           .limit(config.claim_batch))
    if not is_sqlite():
        due = due.for_update(skip_locked=True)
    query = (Publication
             .update(due_at=now + timedelta(seconds=config.queue_lease), updated_at=now)
             .where(Publication.id.in_(due))
             .returning(Publication.id))
    with database.atomic():
        return [row.id for row in query.execute()]


def mark_missed(pm, now=None) -> list[int]:
    """``scheduled`` later than its workspace's misfire lateness → ``missed`` (if the
    workspace's policy says so): after downtime, stale posts wait for the user."""
    now = now or utcnow()
    by_lateness: dict[int, list[int]] = {}
    for ws in Workspace.select(Workspace.id, Workspace.settings):
        policy = workspaces.misfire(ws)
        if policy["policy"] == "mark_missed":
            by_lateness.setdefault(policy["max_lateness"], []).append(ws.id)
    missed = []
    for lateness, ws_ids in by_lateness.items():
        with database.atomic():
            rows = list(Publication
                        .update(status=states.MISSED, due_at=None, updated_at=now,
                                error_code="missed",
                                error_message=f"the scheduler was not running at the due time; "
                                              f"more than {lateness} s late")
                        .where(Publication.status == states.SCHEDULED,
                               Publication.due_at < now - timedelta(seconds=lateness),
                               Publication.workspace.in_(ws_ids))
                        .returning(Publication.id, Publication.workspace, Publication.scheduled_at)
                        .execute())
            for r in rows:
                events.record(r.workspace_id, "engine",
                              f"missed: was due at {isoformat(r.scheduled_at)}; reschedule, "
                              "publish now or cancel it", level="warning",
                              subject=("publication", r.id))
        for r in rows:
            events.notify_status_changed(pm, r.id, states.SCHEDULED, states.MISSED)
        missed += [r.id for r in rows]
    return missed


def beat(name: str, kind: str, info: dict | None = None) -> None:
    """Record that ``name`` is alive (upsert on its unique name)."""
    now = utcnow()
    (Heartbeat.insert(name=name, kind=kind, hostname=socket.gethostname(), pid=os.getpid(),
                      started_at=now, last_seen=now, info=info or {})
     .on_conflict(conflict_target=[Heartbeat.name],
                  update={Heartbeat.last_seen: now, Heartbeat.info: info or {},
                          Heartbeat.pid: os.getpid(), Heartbeat.hostname: socket.gethostname()})
     .execute())


def tick(config, now=None, pm=None) -> TickResult:
    """One scheduler pass. Safe to run any number of times concurrently.

    With the plugin manager it also materialises recurring schedules and applies
    the workspaces' misfire policy before claiming.
    """
    now = now or utcnow()
    reconcile_by = now + timedelta(seconds=config.queue_lease)
    result = TickResult(expired=reap_expired(now, reconcile_by),
                        unreconciled=claim_unreconciled(config, now))
    if pm is not None:
        result.occurrences = schedules.materialize(config, pm, now)
        result.missed = mark_missed(pm, now)
    result.claimed = claim_due(config, now)
    beat("tick", "tick", {"claimed": len(result.claimed), "expired": len(result.expired),
                          "unreconciled": len(result.unreconciled),
                          "occurrences": len(result.occurrences), "missed": len(result.missed)})
    return result


# --- publishing ------------------------------------------------------------------

def start(config, pub_id: int, claim: str):
    """CAS ``queued → publishing`` for this claim; None when the claim is stale."""
    now = utcnow()
    lease = now + timedelta(seconds=config.publish_lease)
    with database.atomic():
        # RETURNING the row: the claim and the read in one statement.
        rows = list(Publication
                    .update(status=states.PUBLISHING, attempts=Publication.attempts + 1,
                            lease_until=lease, due_at=lease, updated_at=now)
                    .where(Publication.id == pub_id, Publication.status == states.QUEUED,
                           Publication.claim_token == claim)
                    .returning(Publication)
                    .execute())
        if not rows:
            return None
        pub = rows[0]
        attempt = PublishAttempt.create(publication=pub, number=pub.attempts, claim_token=claim,
                                        started_at=now, worker=WORKER_NAME)
        events.record(pub.workspace_id, "engine", f"publishing, attempt {pub.attempts}",
                      subject=("publication", pub_id))
    return pub, attempt


def _finish(pm, pub: Publication, attempt: PublishAttempt, new_status: str, *,
            from_states=(states.PUBLISHING, states.UNKNOWN), outcome: str, level="info",
            message: str, pub_fields: dict, error=None, raw=None) -> bool:
    """Record the outcome and the attempt in one transaction; True when it applied."""
    now = utcnow()
    raw_text = None if raw is None else str(raw)[:20000]
    with database.atomic():
        n = (Publication.update(status=new_status, updated_at=now, **pub_fields)
             .where(Publication.id == pub.id, Publication.claim_token == pub.claim_token,
                    Publication.status.in_(from_states))
             .execute())
        if n == 0:
            log.warning("publication %s changed under us; outcome %s not recorded", pub.id, outcome)
            return False
        if attempt is not None:
            (PublishAttempt.update(outcome=outcome, finished_at=now,
                                   error_code=getattr(error, "code", None) if error else None,
                                   error_message=(str(error)[:5000] if error else None),
                                   raw_response=raw_text)
             .where(PublishAttempt.id == attempt.id).execute())
        events.record(pub.workspace_id, "engine", message, level=level,
                      subject=("publication", pub.id),
                      data={"status": new_status, "attempt": attempt.number if attempt else None})
    events.notify_status_changed(pm, pub.id, pub.status, new_status)
    return True


def _published(pm, pub, attempt, result: PublishResult, **kw) -> bool:
    return _finish(pm, pub, attempt, states.PUBLISHED, outcome="published",
                   message=f"published as {result.remote_id}",
                   pub_fields=dict(remote_id=result.remote_id, remote_url=result.url,
                                   published_at=utcnow(), due_at=None, lease_until=None,
                                   error_code=None, error_message=None, error_raw=None),
                   raw=result.raw, **kw)


def _retry_or_fail(pm, pub, attempt, error, *, retry_after=None, **kw) -> bool:
    delay = RetryPolicy.of(pub).delay(pub.attempts)
    err = dict(error_code=getattr(error, "code", "error"), error_message=str(error)[:5000],
               error_raw=None if getattr(error, "raw", None) is None else str(error.raw)[:20000])
    if delay is None:
        return _finish(pm, pub, attempt, states.FAILED, outcome="failed", level="error",
                       message=f"failed after {pub.attempts} attempt(s): {error}",
                       pub_fields=dict(due_at=None, lease_until=None, next_attempt_at=None, **err),
                       error=error, raw=getattr(error, "raw", None), **kw)
    delay = max(delay, retry_after or 0)
    at = utcnow() + timedelta(seconds=delay)
    return _finish(pm, pub, attempt, states.RETRY_WAIT, outcome="retry", level="warning",
                   message=f"attempt {pub.attempts} failed ({error}); retrying in {delay:.0f}s",
                   pub_fields=dict(due_at=at, next_attempt_at=at, lease_until=None, **err),
                   error=error, raw=getattr(error, "raw", None), **kw)


def _fail(pm, pub, attempt, error, **kw) -> bool:
    return _finish(pm, pub, attempt, states.FAILED, outcome="failed", level="error",
                   message=f"failed: {error}",
                   pub_fields=dict(due_at=None, lease_until=None, next_attempt_at=None,
                                   error_code=getattr(error, "code", "error"),
                                   error_message=str(error)[:5000],
                                   error_raw=None if getattr(error, "raw", None) is None
                                   else str(error.raw)[:20000]),
                   error=error, raw=getattr(error, "raw", None), **kw)


def _needs_reconnect(pm, pub, error) -> None:
    """Mark the account, say why, and fail its other due publications with the reason."""
    now = utcnow()
    reason = f"the account needs reconnecting: {error}"[:5000]
    with database.atomic():
        Account.update(health="needs_reconnect", health_message=str(error)[:2000],
                       updated_at=now).where(Account.id == pub.account_id).execute()
        events.record(pub.workspace_id, "engine", f"account needs reconnecting: {error}",
                      level="error", subject=("account", pub.account_id))
        due = list(Publication.select(Publication.id, Publication.status).where(
            Publication.account == pub.account_id, Publication.id != pub.id,
            Publication.status.in_((states.SCHEDULED, states.RETRY_WAIT)), Publication.due_at <= now))
        for row in due:
            n = (Publication.update(status=states.FAILED, due_at=None, next_attempt_at=None,
                                    updated_at=now, error_code="needs_reconnect", error_message=reason)
                 .where(Publication.id == row.id, Publication.status == row.status).execute())
            if n:
                events.record(pub.workspace_id, "engine", f"failed: {reason}", level="error",
                              subject=("publication", row.id))
    for row in due:
        events.notify_status_changed(pm, row.id, row.status, states.FAILED)


def _note_remote_id(pub: Publication, remote_id: str) -> None:
    """Keep an in-progress remote id (upload session, publish id) while this claim holds."""
    (Publication.update(remote_id=str(remote_id)[:500], updated_at=utcnow())
     .where(Publication.id == pub.id, Publication.claim_token == pub.claim_token,
            Publication.status == states.PUBLISHING).execute())


def publish(pm, config, pub_id: int, claim: str) -> str | None:
    """Run one claimed publication. Returns the new status, or None for a stale claim."""
    started = start(config, pub_id, claim)
    if started is None:
        log.info("publication %s: claim %s is stale; message dropped", pub_id, claim)
        return None
    pub, attempt = started
    account = Account.get_by_id(pub.account_id)
    health = account.health
    if health != "connected":
        # Retrying cannot help until the user reconnects or re-enables the account.
        _fail(pm, pub, attempt, PermanentError(
            f"the account is {health.replace('_', ' ')}; reconnect it, then retry", code=health))
        return states.FAILED
    try:
        publisher = publisher_for(config, pm, pub, account=account)
    except Exception as exc:  # nothing was sent: safe to fail plainly
        _fail(pm, pub, attempt, PermanentError(f"cannot prepare the post: {exc}", code="prepare"))
        return states.FAILED
    try:
        # Before anything is sent: a token close to expiry is refreshed, a spent quota waits.
        oauth.ensure_fresh(config, pm, pub.account_id)
        ctx = build_context(config, pm, pub)
        costs = publisher.quota_cost(ctx.media)
        spent = quotas.exceeded_now(publisher, Account.get_by_id(pub.account_id), costs)
        if spent is not None:
            raise RateLimited(spent[0], retry_after=spent[1], code="quota_exceeded")
    except AuthError as exc:
        _fail(pm, pub, attempt, exc)
        _needs_reconnect(pm, pub, exc)
        return states.FAILED
    except RateLimited as exc:
        _retry_or_fail(pm, pub, attempt, exc, retry_after=exc.retry_after)
        return Publication.get_by_id(pub_id).status
    except TemporaryError as exc:
        _retry_or_fail(pm, pub, attempt, exc)
        return Publication.get_by_id(pub_id).status
    except Exception as exc:  # nothing was sent: safe to fail plainly
        _fail(pm, pub, attempt, PermanentError(f"cannot prepare the post: {exc}", code="prepare"))
        return states.FAILED
    if publisher.oauth is not None:
        ctx.refresh_credentials = lambda: oauth.ensure_fresh(
            config, pm, pub.account_id, rejected=ctx.credentials.get("access_token"))
    ctx.note_remote_id = lambda remote_id: _note_remote_id(pub, remote_id)
    try:
        result = publisher.publish(ctx)
    except AuthError as exc:
        _fail(pm, pub, attempt, exc)
        _needs_reconnect(pm, pub, exc)
        return states.FAILED
    except PermanentError as exc:
        _fail(pm, pub, attempt, exc)
        return states.FAILED
    except RateLimited as exc:
        _retry_or_fail(pm, pub, attempt, exc, retry_after=exc.retry_after)
        return Publication.get_by_id(pub_id).status
    except TemporaryError as exc:
        _retry_or_fail(pm, pub, attempt, exc)
        return Publication.get_by_id(pub_id).status
    except Exception as exc:  # the request may have gone through: never guess
        log.exception("publication %s: outcome unknown", pub_id)
        _finish(pm, pub, attempt, states.UNKNOWN, outcome="unknown", level="warning",
                message=f"outcome unknown ({type(exc).__name__}: {exc}); reconciling",
                # A reconcile is owed: if this worker dies before it runs, the tick resends it.
                pub_fields=dict(due_at=utcnow() + timedelta(seconds=config.queue_lease),
                                lease_until=None, error_code="unknown_outcome",
                                error_message=f"{type(exc).__name__}: {exc}"[:5000]),
                error=exc)
        return reconcile(pm, config, pub_id)
    if _published(pm, pub, attempt, result):
        quotas.spend(pub.account_id, costs)
    return states.PUBLISHED


def reconcile(pm, config, pub_id: int) -> str:
    """Settle an ``unknown`` publication through the publisher; return its status."""
    pub = Publication.get_by_id(pub_id)
    if pub.status != states.UNKNOWN:
        return pub.status
    only_unknown = dict(from_states=(states.UNKNOWN,))
    try:
        publisher = publisher_for(config, pm, pub)
        if publisher.can_look_up:
            oauth.ensure_fresh(config, pm, pub.account_id)
            found = publisher.reconcile(build_context(config, pm, pub))
        else:
            found = None  # the platform cannot be asked: only idempotency can make a retry safe
    except Exception as exc:
        _wait_for_user(pub_id)
        events.record(pub.workspace_id, "engine", f"reconcile failed: {exc}; waiting for you",
                      level="warning", subject=("publication", pub_id))
        return states.UNKNOWN
    if isinstance(found, PublishResult):
        if _published(pm, pub, None, found, **only_unknown):
            quotas.spend(pub.account_id, publisher.quota_cost([]))
    elif found is False or (found is None and publisher.idempotent):
        # Not on the platform, or the platform drops a duplicate: a retry is safe.
        why = TemporaryError("not found on the platform after an unknown outcome"
                             if found is False else "outcome unknown; the platform deduplicates",
                             code="reconciled_retry")
        _retry_or_fail(pm, pub, None, why, **only_unknown)
    else:
        _wait_for_user(pub_id)
        events.record(pub.workspace_id, "engine",
                      "outcome unknown and the platform cannot be asked: check the account "
                      "and mark it published, or retry", level="warning",
                      subject=("publication", pub_id))
    return Publication.get_by_id(pub_id).status


def _wait_for_user(pub_id: int) -> None:
    """Reconcile has run and could not settle the row: no reconcile is owed any more."""
    (Publication.update(due_at=None, updated_at=utcnow())
     .where(Publication.id == pub_id, Publication.status == states.UNKNOWN).execute())
