"""Publishing statistics and housekeeping (purging old finished publications)."""
from __future__ import annotations

from collections import Counter, defaultdict
from datetime import datetime, timedelta

from peewee import fn

from . import events, states
from .db import database
from .errors import ValidationError
from .models import Account, Publication, PublishAttempt
from .timeutil import to_storage, utcnow


def _summary(counts: Counter, lateness: list[float]) -> dict:
    done = counts[states.PUBLISHED] + counts[states.FAILED]
    lateness = sorted(lateness)
    return {
        "total": sum(counts.values()),
        "by_status": {s: counts[s] for s in states.ALL if counts[s]},
        "success_rate": round(counts[states.PUBLISHED] / done, 4) if done else None,
        "average_lateness_seconds": round(sum(lateness) / len(lateness), 3) if lateness else None,
        "p95_lateness_seconds": round(lateness[int(0.95 * (len(lateness) - 1))], 3) if lateness else None,
    }


def stats(workspace_id: int, start: datetime, end: datetime) -> dict:
    """Totals by status, success rate (published / (published + failed)) and lateness
    (published_at − scheduled_at), for publications scheduled in ``[start, end)``,
    overall, per platform and per account."""
    if end <= start:
        raise ValidationError("end must be after start", field="end")
    lo, hi = to_storage(start), to_storage(end)
    where = (Publication.workspace == workspace_id, Publication.scheduled_at >= lo,
             Publication.scheduled_at < hi)
    accounts = {a.id: a for a in Account.select().where(Account.workspace == workspace_id)}
    counts: dict[int, Counter] = defaultdict(Counter)
    for row in (Publication.select(Publication.account, Publication.status,
                                   fn.COUNT(Publication.id).alias("n"))
                .where(*where).group_by(Publication.account, Publication.status).namedtuples()):
        counts[row.account][row.status] += row.n
    late: dict[int, list[float]] = defaultdict(list)
    for row in (Publication.select(Publication.account, Publication.scheduled_at, Publication.published_at)
                .where(*where, Publication.status == states.PUBLISHED,
                       Publication.published_at.is_null(False)).namedtuples()):
        late[row.account].append(max(0.0, (row.published_at - row.scheduled_at).total_seconds()))
    per_platform_counts: dict[str, Counter] = defaultdict(Counter)
    per_platform_late: dict[str, list[float]] = defaultdict(list)
    total, total_late = Counter(), []
    for acc_id, c in counts.items():
        platform = accounts[acc_id].platform
        per_platform_counts[platform].update(c)
        per_platform_late[platform] += late[acc_id]
        total.update(c)
        total_late += late[acc_id]
    return {
        "start": start, "end": end, **_summary(total, total_late),
        "per_platform": [{"platform": p, **_summary(c, per_platform_late[p])}
                         for p, c in sorted(per_platform_counts.items())],
        "per_account": [{"account_id": a, "display_name": accounts[a].display_name,
                         "platform": accounts[a].platform, **_summary(c, late[a])}
                        for a, c in sorted(counts.items())],
    }


def purge(older_than_days: int, *, workspace_id: int | None = None, dry_run: bool = False) -> int:
    """Delete finished publications (published, failed, canceled) last changed more than
    ``older_than_days`` ago, with their attempts; posts stay. Returns how many."""
    if not isinstance(older_than_days, int) or older_than_days < 1:
        raise ValidationError("older_than_days must be at least 1", field="older_than_days")
    cutoff = utcnow() - timedelta(days=older_than_days)
    q = Publication.select(Publication.id).where(Publication.status.in_(states.FINISHED),
                                                 Publication.updated_at < cutoff)
    if workspace_id is not None:
        q = q.where(Publication.workspace == workspace_id)
    if dry_run:
        return q.count()
    with database.atomic():
        ids = [p.id for p in q]
        for i in range(0, len(ids), 500):
            chunk = ids[i:i + 500]
            PublishAttempt.delete().where(PublishAttempt.publication.in_(chunk)).execute()
            Publication.delete().where(Publication.id.in_(chunk)).execute()
        if ids:
            events.record(workspace_id, "housekeeping",
                          f"purged {len(ids)} finished publications older than {older_than_days} days")
    return len(ids)
