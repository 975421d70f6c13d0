"""Daily platform quotas per account: what was spent, what is planned, what is left.

A publisher declares its quotas (``Publisher.quotas``: unit, daily limit, cost
per publish; an account setting may hold the account's own limit, e.g. its plan
tier). Days are UTC days: the platforms reset at midnight UTC. Usage is counted
when a publication is published; a publication that is still to go out on a day
counts as planned for that day. Scheduling a post that would take a day past its
limit is refused (422); publishing past it waits for the reset.
"""
from __future__ import annotations

from datetime import date, datetime, time, timedelta

from .db import database
from .models import Account, Publication, QuotaUsage
from . import states
from .timeutil import utcnow

#: Publications that will still spend quota on their day.
PENDING = (states.SCHEDULED, states.PAUSED, states.QUEUED, states.PUBLISHING, states.RETRY_WAIT)


def limit_of(quota, settings: dict) -> int:
    if quota.setting and settings.get(quota.setting) not in (None, ""):
        return int(settings[quota.setting])
    return quota.limit


def _day_bounds(day: date) -> tuple[datetime, datetime]:
    start = datetime.combine(day, time())
    return start, start + timedelta(days=1)


def used(account_id: int, day: date) -> dict[str, int]:
    return {row.unit: row.used for row in QuotaUsage.select().where(
        QuotaUsage.account == account_id, QuotaUsage.day == day)}


def planned(account_id: int, day: date, *, exclude: int | None = None) -> int:
    """How many publications of the account are still to go out on ``day``."""
    start, end = _day_bounds(day)
    q = Publication.select().where(Publication.account == account_id,
                                   Publication.status.in_(PENDING),
                                   Publication.scheduled_at >= start, Publication.scheduled_at < end)
    if exclude is not None:
        q = q.where(Publication.id != exclude)
    return q.count()


def spend(account_id: int, costs: dict[str, int], day: date | None = None) -> None:
    """Add ``costs`` to the account's usage of ``day`` (today, UTC), atomically."""
    day = day or utcnow().date()
    with database.atomic():
        for unit, n in costs.items():
            if n:
                (QuotaUsage.insert(account=account_id, day=day, unit=unit, used=n)
                 .on_conflict(conflict_target=[QuotaUsage.account, QuotaUsage.day, QuotaUsage.unit],
                              update={QuotaUsage.used: QuotaUsage.used + n})
                 .execute())


def status(publisher_cls, account: Account, day: date | None = None) -> list[dict]:
    """Each quota of the account on ``day``: limit, used, planned, left."""
    day = day or utcnow().date()
    spent = used(account.id, day)
    per_pub = publisher_cls(None).quota_cost([]) if publisher_cls.quotas else {}
    pending = planned(account.id, day) if publisher_cls.quotas else 0
    out = []
    for q in publisher_cls.quotas:
        limit = limit_of(q, account.settings or {})
        u, p = spent.get(q.unit, 0), pending * per_pub.get(q.unit, q.per_publish)
        out.append({"unit": q.unit, "label": q.label or q.unit, "day": day.isoformat(),
                    "limit": limit, "used": u, "planned": p, "left": max(0, limit - u - p)})
    return out


def problems_for(publisher, account: Account, day: date, costs: dict[str, int]) -> list[str]:
    """Why one more publication of this cost on ``day`` would exceed a quota (empty: fits)."""
    out = []
    for row in status(type(publisher), account, day):
        cost = costs.get(row["unit"], 0)
        if cost and row["used"] + row["planned"] + cost > row["limit"]:
            out.append(f"{publisher.descriptor.label} allows {row['limit']} {row['label']} a day "
                       f"(UTC); {row['used']} used and {row['planned']} planned on {row['day']}, "
                       f"so this post ({cost}) would exceed it")
    return out


def exceeded_now(publisher, account: Account, costs: dict[str, int]) -> tuple[str, float] | None:
    """At publish time: (message, seconds to the reset) when today's quota is spent."""
    now = utcnow()
    spent = used(account.id, now.date())
    for q in publisher.quotas:
        limit, cost = limit_of(q, account.settings or {}), costs.get(q.unit, 0)
        if cost and spent.get(q.unit, 0) + cost > limit:
            reset = datetime.combine(now.date() + timedelta(days=1), time())
            return (f"{publisher.descriptor.label}'s daily quota of {limit} {q.label or q.unit} "
                    f"is spent; it resets at midnight UTC", (reset - now).total_seconds())
    return None
