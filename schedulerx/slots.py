"""An account's queue: weekly posting slots in local wall time, and the rules that
decide which slots are free.

A slot instant is free when
  * it is later than the given time,
  * its local date is not a blackout date,
  * no post or reservation on the account lies closer than ``max(min_gap, 1 min)``,
  * the account has fewer than ``max_per_day`` posts on that local date.

The slots are the account's own, else the platform plugin's best times
(``PlatformDescriptor.best_times``). Slot times are wall times: they go through
``recurrence`` so daylight saving is handled in one place.
"""
from __future__ import annotations

import bisect
from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from . import states
from .errors import ValidationError
from .models import Account, Publication, Reservation, Workspace
from .recurrence import WEEKDAYS, compile_rule, parse_time
from .timeutil import from_storage, to_storage, utcnow, zone

#: Two posts closer than this share a slot, whatever the minimum gap.
SLOT_WIDTH = timedelta(minutes=1)
#: How far ahead the queue looks for a free slot.
HORIZON = timedelta(days=366)


@dataclass(frozen=True)
class QueueRules:
    tz: str
    slots: tuple[tuple[int, time], ...]  # (weekday 0 = Monday, wall time)
    source: str  # "account", "platform" or "none"
    min_gap: timedelta
    max_per_day: int | None
    blackouts: frozenset[date]

    @property
    def spacing(self) -> timedelta:
        return max(self.min_gap, SLOT_WIDTH)


def parse_slots(raw) -> list[dict]:
    """Validate ``[{"weekday": 0-6 | "mon", "time": "HH:MM"}]``; return it normalised."""
    if not isinstance(raw, list) or len(raw) > 7 * 48:
        raise ValidationError("slots must be a list of at most 336 {weekday, time}", field="slots")
    out = set()
    for i, slot in enumerate(raw):
        if not isinstance(slot, dict) or set(slot) - {"weekday", "time"}:
            raise ValidationError(f"slot {i}: give {{weekday, time}}", field="slots")
        day = slot.get("weekday")
        if isinstance(day, str) and day.lower()[:3] in WEEKDAYS:
            day = WEEKDAYS.index(day.lower()[:3])
        if not isinstance(day, int) or isinstance(day, bool) or not 0 <= day <= 6:
            raise ValidationError(f"slot {i}: weekday is 0–6 (Monday = 0) or mon…sun",
                                  field="slots")
        out.add((day, parse_time(slot.get("time"), "slots").strftime("%H:%M")))
    return [{"weekday": d, "time": t} for d, t in sorted(out)]


def parse_blackouts(raw) -> list[str]:
    if not isinstance(raw, list) or len(raw) > 1000:
        raise ValidationError("blackout_dates must be a list of at most 1000 dates", field="blackout_dates")
    try:
        return sorted({date.fromisoformat(str(d)).isoformat() for d in raw})
    except ValueError as exc:
        raise ValidationError(f"blackout_dates: {exc}", field="blackout_dates")


def rules_for(pm, account: Account) -> QueueRules:
    tz = account.timezone or Workspace.get_by_id(account.workspace_id).timezone
    raw, source = account.slots, "account"
    if not raw:
        publisher = pm.publishers().get(account.platform)
        raw = list(publisher.descriptor.best_times) if publisher else []
        source = "platform" if raw else "none"
    return QueueRules(
        tz=tz, source=source,
        slots=tuple((s["weekday"], parse_time(s["time"])) for s in parse_slots(raw)),
        min_gap=timedelta(seconds=account.min_gap or 0), max_per_day=account.max_per_day,
        blackouts=frozenset(date.fromisoformat(d) for d in account.blackout_dates or []))


def slot_instants(rules: QueueRules, after: datetime, until: datetime) -> list[datetime]:
    """Every slot instant in ``(after, until]`` (aware UTC), ascending, blackouts left in."""
    by_time: dict[time, list[int]] = {}
    for day, t in rules.slots:
        by_time.setdefault(t, []).append(day)
    found = set()
    for t, days in by_time.items():
        rule = compile_rule({"kind": "weekly", "weekdays": days, "times": [t.strftime("%H:%M")]},
                            rules.tz, after - timedelta(days=8))
        found.update(rule.between(after, until))
    return sorted(found)


@dataclass(frozen=True)
class Taken:
    at: datetime  # aware UTC
    kind: str  # "publication" or "reservation"
    id: int


def taken(account_id: int, start: datetime, end: datetime, *,
          exclude_publication: int | None = None) -> list[Taken]:
    """Publications that hold a place, and reservations, in ``[start, end]``, by time."""
    lo, hi = to_storage(start), to_storage(end)
    pubs = (Publication.select(Publication.id, Publication.scheduled_at)
            .where(Publication.account == account_id, Publication.status.in_(states.OCCUPYING),
                   Publication.scheduled_at.between(lo, hi)))
    if exclude_publication is not None:
        pubs = pubs.where(Publication.id != exclude_publication)
    out = [Taken(from_storage(p.scheduled_at), "publication", p.id) for p in pubs]
    out += [Taken(from_storage(r.at), "reservation", r.id) for r in Reservation.select(
        Reservation.id, Reservation.at).where(Reservation.account == account_id,
                                               Reservation.at.between(lo, hi))]
    return sorted(out, key=lambda t: (t.at, t.kind, t.id))


class Board:
    """What is taken on one account around a window, to test instants against the rules."""

    def __init__(self, rules: QueueRules, account_id: int, start: datetime, end: datetime, *,
                 exclude_publication: int | None = None):
        self.rules = rules
        self.tz = zone(rules.tz)
        # A day either side: daily counts need whole local days.
        self.items = taken(account_id, start - timedelta(days=1) - rules.spacing,
                           end + timedelta(days=1) + rules.spacing,
                           exclude_publication=exclude_publication)
        self.times = [t.at for t in self.items]
        self.per_day = Counter(self.local_date(t) for t in self.times)

    def local_date(self, when: datetime) -> date:
        return when.astimezone(self.tz).date()

    def add(self, when: datetime) -> None:
        """Hold ``when`` (a slot just given out), so the next question sees it."""
        bisect.insort(self.times, when)
        self.items.append(Taken(when, "pending", 0))
        self.per_day[self.local_date(when)] += 1

    def near(self, when: datetime) -> list[Taken]:
        gap = self.rules.spacing
        return [t for t in self.items if abs(t.at - when) < gap]

    def problems(self, when: datetime) -> list[dict]:
        """Why ``when`` breaks the account's rules (empty: it is fine)."""
        out = []
        rules, day = self.rules, self.local_date(when)
        if day in rules.blackouts:
            out.append({"kind": "blackout", "message": f"{day.isoformat()} is a blackout date"})
        for t in self.near(when):
            minutes = abs(t.at - when).total_seconds() / 60
            out.append({"kind": "gap", "with": {"type": t.kind, "id": t.id, "at": t.at.isoformat()},
                        "message": f"{t.kind} {t.id} is {minutes:.0f} min away; the account "
                                   f"needs {rules.spacing.total_seconds() / 60:.0f} min between posts"})
        if rules.max_per_day is not None and self.per_day[day] >= rules.max_per_day:
            out.append({"kind": "daily_max",
                        "message": f"{self.per_day[day]} posts already on {day.isoformat()}; "
                                   f"the account allows {rules.max_per_day} a day"})
        return out

    def is_free(self, when: datetime) -> bool:
        rules, day = self.rules, self.local_date(when)
        if day in rules.blackouts:
            return False
        if rules.max_per_day is not None and self.per_day[day] >= rules.max_per_day:
            return False
        # The first taken time after ``when - spacing`` must not be before ``when + spacing``.
        i = bisect.bisect_right(self.times, when - rules.spacing)
        return not (i < len(self.times) and self.times[i] < when + rules.spacing)


def free_slots(pm, account: Account, after: datetime, until: datetime) -> list[datetime]:
    """Free slot instants of the account in ``(after, until]``."""
    rules = rules_for(pm, account)
    board = Board(rules, account.id, after, until)
    return [s for s in slot_instants(rules, after, until) if board.is_free(s)]


def _no_slots(account: Account):
    raise ValidationError(f"account {account.display_name!r} has no posting slots and its "
                          "platform suggests none; set slots on the account", field="slots")


def next_free(pm, account: Account, after: datetime | None = None) -> datetime:
    """The account's next free slot after ``after`` (default now); 422 if none within a year."""
    rules = rules_for(pm, account)
    if not rules.slots:
        _no_slots(account)
    after = after or from_storage(utcnow())
    start, limit = after, after + HORIZON
    while start < limit:
        end = min(start + timedelta(days=28), limit)
        b = Board(rules, account.id, start, end)
        for s in slot_instants(rules, start, end):
            if b.is_free(s):
                return s
        start = end
    raise ValidationError(f"account {account.display_name!r} has no free slot in the next year",
                          field="slots")


def check(pm, account: Account, when: datetime, *, exclude_publication: int | None = None) -> list[dict]:
    """Conflicts of a post on ``account`` at ``when`` with what is planned there."""
    rules = rules_for(pm, account)
    return Board(rules, account.id, when, when,
                 exclude_publication=exclude_publication).problems(when)


def spread(pm, account: Account, count: int, start: datetime, end: datetime) -> list[datetime]:
    """``count`` free slots between ``start`` and ``end``, as evenly spaced as the slots allow.

    Each pick aims at an even division of the range and takes the free slot
    nearest to it that still keeps the account's gap and daily maximum with the
    picks before it.
    """
    rules = rules_for(pm, account)
    if not rules.slots:
        _no_slots(account)
    board = Board(rules, account.id, start, end)
    candidates = [s for s in slot_instants(rules, start, end) if board.is_free(s)]
    picks: list[datetime] = []
    span = end - start
    for i in range(count):
        target = start + span * (i + 0.5) / count
        for s in sorted(candidates, key=lambda s: abs(s - target)):
            if board.is_free(s):
                board.add(s)
                picks.append(s)
                candidates.remove(s)
                break
        else:
            raise ValidationError(
                f"account {account.display_name!r} has only {len(picks)} free slots between "
                f"{start.isoformat()} and {end.isoformat()}; {count} are needed", field="count")
    return sorted(picks)

