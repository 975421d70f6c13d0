"""Scheduling posts onto accounts, and the user actions on a publication."""
from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from . import events, quotas, slots, states
from .db import database, is_sqlite
from .errors import Conflict, NotFound, ValidationError
from .models import Account, Post, Publication, PublishAttempt
from .publish_context import media_items, pick_variant
from .retry import RetryPolicy
from .timeutil import from_storage, isoformat, to_storage, utcnow

#: How far in the past a new schedule time may lie (clock skew, slow clients).
PAST_TOLERANCE = timedelta(minutes=1)


def get(workspace_id: int, pub_id: int) -> Publication:
    pub = Publication.get_or_none(Publication.id == pub_id, Publication.workspace == workspace_id)
    if pub is None:
        raise NotFound(f"publication {pub_id} not found")
    return pub


def attempts(pub: Publication) -> list[PublishAttempt]:
    return list(PublishAttempt.select().where(PublishAttempt.publication == pub)
                .order_by(PublishAttempt.number))


def check_time(at: datetime) -> datetime:
    stored = to_storage(at)
    if stored < utcnow() - PAST_TOLERANCE:
        raise ValidationError("the time is in the past", field="scheduled_at")
    return stored


def validate_for(config, pm, post: Post, account: Account, at: datetime | None = None) -> list[str]:
    """Problems the account's platform would reject the post for; with ``at`` (aware, or
    stored naive UTC), the daily quotas of that UTC day too."""
    publisher = pm.publisher(account.platform)(config)
    variant = pick_variant(post, account)
    title = variant.title if variant and variant.title is not None else post.title
    body = variant.body if variant and variant.body is not None else post.body
    items = media_items(config, pm, list(post.media or []), post.workspace_id)
    problems = publisher.validate(title, body, items, dict(account.settings or {}),
                                  info=dict(account.platform_info or {}), tags=list(post.tags or []))
    if at is not None and publisher.quotas:
        day = (to_storage(at) if at.tzinfo else at).date()
        problems += quotas.problems_for(publisher, account, day, publisher.quota_cost(items))
    return problems


def check(config, pm, post: Post, plan: list[tuple[Account, datetime | None]]) -> dict:
    """{account id: problems} for each (account, time) the post does not fit."""
    problems = {}
    for acc, at in plan:
        if acc.health == "disabled":
            problems[str(acc.id)] = ["the account is disabled"]
            continue
        found = validate_for(config, pm, post, acc, at)
        if found:
            problems[str(acc.id)] = found
    return problems


def check_ids(config, pm, workspace_id: int, post: Post, account_ids: list[int],
              at: datetime | None = None) -> dict:
    """``check`` for account ids of the workspace (422 for an unknown one), nothing written."""
    return check(config, pm, post, [(acc, at) for acc in resolve_accounts(workspace_id, account_ids)])


def resolve_accounts(workspace_id: int, account_ids: list[int]) -> list[Account]:
    """The accounts, in the order given; 422 for none, a repeat or an unknown id."""
    if not account_ids:
        raise ValidationError("choose at least one account", field="account_ids")
    if len(set(account_ids)) != len(account_ids):
        raise ValidationError("an account is listed twice", field="account_ids")
    found = {a.id: a for a in Account.select().where(
        Account.id.in_(account_ids), Account.workspace == workspace_id)}
    missing = [a for a in account_ids if a not in found]
    if missing:
        raise ValidationError(f"unknown accounts: {missing}", field="account_ids")
    return [found[a] for a in account_ids]


def lock_accounts(accounts: list[Account]) -> None:
    """Serialise slot-finding per account (SQLite transactions are already exclusive)."""
    if not is_sqlite():
        list(Account.select(Account.id).where(Account.id.in_([a.id for a in accounts]))
             .order_by(Account.id).for_update())


def create(config, pm, workspace_id: int, post: Post, plan: list[tuple[Account, datetime, str]],
           retry: dict | None = None) -> list[Publication]:
    """One publication per (account, stored UTC time, zone) in ``plan``, all or none.

    422 with every problem found: a disabled account, a post that does not fit an
    account's platform, or one that would take an account past a daily quota.
    """
    problems = check(config, pm, post, [(acc, stored_at) for acc, stored_at, _ in plan])
    if problems:
        raise ValidationError("the post does not fit these accounts", errors={"accounts": problems})
    created = []
    with database.atomic():
        for acc, stored_at, tz_name in plan:
            policy = RetryPolicy(**{**(acc.retry_policy or {}), **(retry or {})})
            pub = Publication.create(
                workspace=workspace_id, post=post, account=acc, status=states.SCHEDULED,
                scheduled_at=stored_at, due_at=stored_at, timezone=tz_name,
                idempotency_key=uuid.uuid4().hex, **policy.as_fields())
            events.record(workspace_id, "scheduler",
                          f"scheduled post {post.id} on {acc.display_name} for "
                          f"{isoformat(stored_at)}", subject=("publication", pub.id))
            created.append(pub)
    return created


def schedule(config, pm, workspace_id: int, post: Post, account_ids: list[int], at: datetime,
             tz_name: str, retry: dict | None = None) -> list[Publication]:
    """The post on every account at one time: one publication each, all or none."""
    stored_at = check_time(at)
    plan = [(acc, stored_at, tz_name) for acc in resolve_accounts(workspace_id, account_ids)]
    return create(config, pm, workspace_id, post, plan, retry)


def queue(config, pm, workspace_id: int, post: Post, account_ids: list[int], *,
          after: datetime | None = None, retry: dict | None = None) -> list[Publication]:
    """The post on each account's next free slot (slots.py), all or none."""
    accounts = resolve_accounts(workspace_id, account_ids)
    with database.atomic():
        lock_accounts(accounts)
        plan = [(acc, to_storage(slots.next_free(pm, acc, after)), slots.rules_for(pm, acc).tz)
                for acc in accounts]
        return create(config, pm, workspace_id, post, plan, retry)


def spread(config, pm, workspace_id: int, posts: list[Post], account_ids: list[int],
           start: datetime, end: datetime, retry: dict | None = None) -> list[Publication]:
    """The posts, in order, across ``start``–``end`` on each account's free slots, evenly."""
    if not posts:
        raise ValidationError("give at least one post", field="post_ids")
    if end <= start:
        raise ValidationError("end must be after start", field="end")
    if start < from_storage(utcnow()) - PAST_TOLERANCE:
        raise ValidationError("start is in the past", field="start")
    accounts = resolve_accounts(workspace_id, account_ids)
    created = []
    with database.atomic():
        lock_accounts(accounts)
        for acc in accounts:
            tz_name = slots.rules_for(pm, acc).tz
            for post, when in zip(posts, slots.spread(pm, acc, len(posts), start, end)):
                created += create(config, pm, workspace_id, post,
                                  [(acc, to_storage(when), tz_name)], retry)
    return created


def act(pm, pub: Publication, action: str, *, at: datetime | None = None,
        remote_url: str | None = None) -> Publication:
    """Apply a user action (states.ACTIONS) with compare-and-set; 409 when not allowed."""
    allowed, target = states.ACTIONS[action]
    if pub.status not in allowed:
        raise Conflict(f"cannot {action.replace('_', ' ')} a publication that is {pub.status}",
                       errors={"status": [pub.status]})
    now = utcnow()
    fields: dict = {"updated_at": now}
    if action == "cancel" or action == "pause":
        fields.update(due_at=None)
    elif action == "resume":
        fields.update(due_at=pub.scheduled_at)
    elif action == "force":
        fields.update(scheduled_at=now, due_at=now)
    elif action == "reschedule":
        if at is None:
            raise ValidationError("scheduled_at is required", field="scheduled_at")
        stored = check_time(at)
        fields.update(scheduled_at=stored, due_at=stored, next_attempt_at=None)
    elif action == "retry":
        # A fresh round of the publication's own retry policy.
        policy = RetryPolicy.of(pub)
        fields.update(due_at=now, next_attempt_at=None, error_code=None, error_message=None,
                      max_attempts=pub.attempts + RetryPolicy(
                          policy.strategy, policy.base_delay, policy.max_delay).max_attempts)
    elif action == "mark_published":
        fields.update(published_at=now, remote_url=remote_url or pub.remote_url, due_at=None,
                      error_code=None, error_message=None)
    elif action == "mark_failed":
        fields.update(due_at=None, error_code=pub.error_code or "marked_failed")
    with database.atomic():
        n = (Publication.update(status=target, **fields)
             .where(Publication.id == pub.id, Publication.status == pub.status).execute())
        if n == 0:
            fresh = Publication.get_by_id(pub.id)
            raise Conflict(f"the publication changed to {fresh.status} meanwhile; reload",
                           errors={"status": [fresh.status]})
        events.record(pub.workspace_id, "user", f"{action.replace('_', ' ')}: {pub.status} → {target}",
                      subject=("publication", pub.id))
    events.notify_status_changed(pm, pub.id, pub.status, target)
    return Publication.get_by_id(pub.id)


def listing(workspace_id: int, *, status: str | None = None, account_id: int | None = None,
            post_id: int | None = None, upcoming_days: float | None = None):
    """A query of the workspace's publications, soonest first, to paginate."""
    q = Publication.select().where(Publication.workspace == workspace_id)
    if status:
        if status not in states.ALL:
            raise ValidationError(f"status must be one of {', '.join(states.ALL)}", field="status")
        q = q.where(Publication.status == status)
    if account_id is not None:
        q = q.where(Publication.account == account_id)
    if post_id is not None:
        q = q.where(Publication.post == post_id)
    if upcoming_days is not None:
        now = utcnow()
        q = q.where(Publication.scheduled_at >= now,
                    Publication.scheduled_at <= now + timedelta(days=upcoming_days),
                    Publication.status.in_((states.SCHEDULED, states.PAUSED, states.QUEUED,
                                            states.RETRY_WAIT)))
    return q.order_by(Publication.scheduled_at.asc(), Publication.id.asc())
