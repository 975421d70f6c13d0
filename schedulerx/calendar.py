"""The content calendar: day/week/month views, conflicts, slot suggestions, content
gaps and reservations. Read-only over publications, except reservations.

Days are local days in the view's timezone: the account's when one account is
asked for, else the workspace's.
"""
from __future__ import annotations

import difflib
import re
from collections import Counter, defaultdict
from datetime import date, datetime, time, timedelta

from . import events, publications, slots, states
from .db import database
from .errors import Conflict, NotFound, ValidationError
from .models import Account, Post, Publication, Reservation, Workspace
from .timeutil import from_storage, localize, to_storage, utcnow, zone

VIEWS = ("day", "week", "month")
#: Longest range a conflicts/suggestions/gaps query may cover.
MAX_RANGE = timedelta(days=92)


def _accounts(workspace_id: int, account_id: int | None) -> list[Account]:
    q = Account.select().where(Account.workspace == workspace_id)
    if account_id is not None:
        q = q.where(Account.id == account_id)
        if not q.exists():
            raise NotFound(f"account {account_id} not found")
    return list(q.order_by(Account.display_name, Account.id))


def _view_zone(workspace_id: int, accounts: list[Account], account_id: int | None) -> str:
    if account_id is not None and accounts[0].timezone:
        return accounts[0].timezone
    return Workspace.get_by_id(workspace_id).timezone


def view_range(view: str, day: date, tz: str) -> tuple[date, date, datetime, datetime]:
    """(first day, day after the last, start, end) of the view around ``day``."""
    if view not in VIEWS:
        raise ValidationError(f"view must be one of {', '.join(VIEWS)}", field="view")
    if view == "day":
        first, last = day, day + timedelta(days=1)
    elif view == "week":
        first = day - timedelta(days=day.weekday())
        last = first + timedelta(days=7)
    else:
        first = day.replace(day=1)
        last = (first + timedelta(days=32)).replace(day=1)
    return first, last, localize(datetime.combine(first, time()), tz), \
        localize(datetime.combine(last, time()), tz)


def _check_range(start: datetime, end: datetime) -> None:
    if end <= start:
        raise ValidationError("end must be after start", field="end")
    if end - start > MAX_RANGE:
        raise ValidationError("the range may cover at most 92 days", field="end")


def _publications(account_ids: list[int], start: datetime, end: datetime, statuses=None):
    q = (Publication.select(Publication, Post.id, Post.title, Post.body)
         .join(Post).switch(Publication)
         .where(Publication.account.in_(account_ids or [0]),
                Publication.scheduled_at >= to_storage(start),
                Publication.scheduled_at < to_storage(end)))
    if statuses:
        q = q.where(Publication.status.in_(statuses))
    return list(q.order_by(Publication.scheduled_at, Publication.id))


def _reservations(account_ids: list[int], start: datetime, end: datetime):
    return list(Reservation.select().where(
        Reservation.account.in_(account_ids or [0]), Reservation.at >= to_storage(start),
        Reservation.at < to_storage(end)).order_by(Reservation.at))


def calendar_view(pm, workspace_id: int, view: str, day: date, account_id: int | None = None) -> dict:
    """Entries, free slots and utilisation for each local day of the view."""
    accounts = _accounts(workspace_id, account_id)
    tz = _view_zone(workspace_id, accounts, account_id)
    first, last, start, end = view_range(view, day, tz)
    ids = [a.id for a in accounts]
    names = {a.id: a.display_name for a in accounts}
    days = {first + timedelta(days=i): {"entries": [], "free_slots": [], "capacity": 0, "planned": 0}
            for i in range((last - first).days)}
    local = zone(tz)
    for p in _publications(ids, start, end):
        d = days[from_storage(p.scheduled_at).astimezone(local).date()]
        d["entries"].append({"type": "publication", "id": p.id, "post_id": p.post_id,
                             "account_id": p.account_id, "account": names[p.account_id],
                             "at": from_storage(p.scheduled_at), "status": p.status,
                             "title": p.post.title})
        if p.status in states.OCCUPYING:
            d["planned"] += 1
    for r in _reservations(ids, start, end):
        d = days[from_storage(r.at).astimezone(local).date()]
        d["entries"].append({"type": "reservation", "id": r.id, "account_id": r.account_id,
                             "account": names[r.account_id], "at": from_storage(r.at),
                             "status": "reserved", "title": r.topic})
        d["planned"] += 1
    now = from_storage(utcnow())
    usage = []
    for acc in accounts:
        rules = slots.rules_for(pm, acc)
        board = slots.Board(rules, acc.id, start, end)
        instants = slots.slot_instants(rules, start - timedelta(microseconds=1), end - timedelta(microseconds=1))
        per_day: Counter = Counter()
        for s in instants:
            key = s.astimezone(local).date()
            if key not in days or board.local_date(s) in rules.blackouts:
                continue
            per_day[key] += 1
            if s > now and board.is_free(s):
                days[key]["free_slots"].append({"account_id": acc.id, "at": s})
        capacity = 0
        for key in days:
            cap = per_day[key]
            if rules.max_per_day is not None:
                cap = min(cap, rules.max_per_day)
            days[key]["capacity"] += cap
            capacity += cap
        used = sum(1 for t in board.items
                   if start <= t.at < end and t.at.astimezone(local).date() in days)
        usage.append({"account_id": acc.id, "display_name": acc.display_name,
                      "slots_source": rules.source, "capacity": capacity, "used": used,
                      "utilisation": round(used / capacity, 3) if capacity else None})
    return {"view": view, "timezone": tz, "start": start, "end": end,
            "days": [{"date": d.isoformat(), **v,
                      "utilisation": round(v["planned"] / v["capacity"], 3) if v["capacity"] else None}
                     for d, v in sorted(days.items())],
            "accounts": usage}


# --- conflicts ---------------------------------------------------------------------

def _text(title: str, body: str) -> str:
    return re.sub(r"\s+", " ", f"{title} {body}".lower()).strip()


def similarity(a: str, b: str) -> float:
    matcher = difflib.SequenceMatcher(None, a, b, autojunk=False)
    if matcher.real_quick_ratio() < 0.5 or matcher.quick_ratio() < 0.5:
        return 0.0
    return matcher.ratio()


def conflicts(pm, workspace_id: int, start: datetime, end: datetime, *, account_id: int | None = None,
              duplicate_days: int = 7, threshold: float = 0.85) -> list[dict]:
    """Gap, daily-maximum, blackout and near-duplicate conflicts touching ``[start, end)``."""
    _check_range(start, end)
    if not 0 <= duplicate_days <= 90:
        raise ValidationError("duplicate_days: 0 to 90", field="duplicate_days")
    if not 0.5 <= threshold <= 1:
        raise ValidationError("threshold: 0.5 to 1", field="threshold")
    found = []
    window = timedelta(days=duplicate_days)
    for acc in _accounts(workspace_id, account_id):
        rules = slots.rules_for(pm, acc)
        local = zone(rules.tz)
        pubs = _publications([acc.id], start - window - timedelta(days=1),
                             end + window + timedelta(days=1), states.OCCUPYING)
        items = [(from_storage(p.scheduled_at), p) for p in pubs]

        def inside(*whens):
            return any(start <= w < end for w in whens)

        def entry(when, p):
            return {"publication_id": p.id, "post_id": p.post_id, "at": when, "title": p.post.title}

        for (a_at, a), (b_at, b) in zip(items, items[1:]):
            if b_at - a_at < rules.spacing and inside(a_at, b_at):
                found.append({"kind": "gap", "account_id": acc.id, "items": [entry(a_at, a), entry(b_at, b)],
                              "message": f"{(b_at - a_at).total_seconds() / 60:.0f} min apart; "
                                         f"{acc.display_name} needs {rules.spacing.total_seconds() / 60:.0f}"})
        by_day = defaultdict(list)
        for when, p in items:
            by_day[when.astimezone(local).date()].append((when, p))
        for day, rows in sorted(by_day.items()):
            if not inside(*(w for w, _ in rows)):
                continue
            if rules.max_per_day is not None and len(rows) > rules.max_per_day:
                found.append({"kind": "daily_max", "account_id": acc.id, "date": day.isoformat(),
                              "items": [entry(w, p) for w, p in rows],
                              "message": f"{len(rows)} posts on {day.isoformat()}; "
                                         f"{acc.display_name} allows {rules.max_per_day}"})
            if day in rules.blackouts:
                found.append({"kind": "blackout", "account_id": acc.id, "date": day.isoformat(),
                              "items": [entry(w, p) for w, p in rows],
                              "message": f"{day.isoformat()} is a blackout date for {acc.display_name}"})
        texts = [_text(p.post.title, p.post.body) for _, p in items]
        for i, (a_at, a) in enumerate(items):
            for j in range(i + 1, len(items)):
                b_at, b = items[j]
                if b_at - a_at > window:
                    break
                if not inside(a_at, b_at) or not texts[i]:
                    continue
                score = 1.0 if a.post_id == b.post_id else similarity(texts[i], texts[j])
                if score >= threshold:
                    found.append({"kind": "duplicate", "account_id": acc.id, "similarity": round(score, 3),
                                  "items": [entry(a_at, a), entry(b_at, b)],
                                  "message": f"posts {a.post_id} and {b.post_id} are {score:.0%} alike "
                                             f"within {duplicate_days} days on {acc.display_name}"})
    return found


# --- suggestions and gaps ------------------------------------------------------------

def _best_times(pm, platform: str) -> list[tuple[int, time]]:
    publisher = pm.publishers().get(platform)
    raw = list(publisher.descriptor.best_times) if publisher else []
    return [(s["weekday"], slots.parse_time(s["time"])) for s in slots.parse_slots(raw)]


def suggestions(pm, workspace_id: int, start: datetime, end: datetime, *, count: int = 5,
                platforms: list[str] | None = None, account_ids: list[int] | None = None,
                preferred_hours: list[int] | None = None) -> list[dict]:
    """Free slots ranked: platform best times, preferred hours, then the emptiest days."""
    _check_range(start, end)
    now = from_storage(utcnow())
    start = max(start, now)
    accounts = _accounts(workspace_id, None)
    if platforms:
        accounts = [a for a in accounts if a.platform in platforms]
    if account_ids:
        accounts = [a for a in accounts if a.id in account_ids]
    ranked = []
    for acc in accounts:
        rules = slots.rules_for(pm, acc)
        if not rules.slots:
            continue
        local = zone(rules.tz)
        best = _best_times(pm, acc.platform)
        board = slots.Board(rules, acc.id, start, end)
        for s in slots.slot_instants(rules, start, end):
            if not board.is_free(s):
                continue
            wall = s.astimezone(local)
            minutes = wall.hour * 60 + wall.minute
            score, reasons = 1.0, []
            near = [abs(minutes - (t.hour * 60 + t.minute)) for d, t in best if d == wall.weekday()]
            if near and min(near) <= 30:
                score += 1.0
                reasons.append("a best time for the platform")
            elif any(abs(minutes - (t.hour * 60 + t.minute)) <= 60 for _, t in best):
                score += 0.5
                reasons.append("near a best hour for the platform")
            if preferred_hours and wall.hour in preferred_hours:
                score += 1.0
                reasons.append("a preferred hour")
            load = board.per_day[wall.date()]
            score -= 0.25 * load
            reasons.append(f"{load} posts already that day" if load else "nothing else that day")
            ranked.append({"account_id": acc.id, "platform": acc.platform, "at": s,
                           "local": wall, "score": round(score, 3), "reasons": reasons})
    ranked.sort(key=lambda r: (-r["score"], r["at"], r["account_id"]))
    return ranked[:count]


def gaps(pm, workspace_id: int, start_day: date, end_day: date, *, account_id: int | None = None) -> dict:
    """Local days with nothing planned, per account, and the free slots left on them."""
    if end_day < start_day or (end_day - start_day).days > 92:
        raise ValidationError("give a range of 1 to 93 days (end on or after start)", field="end")
    out = []
    all_days = set()
    for acc in _accounts(workspace_id, account_id):
        rules = slots.rules_for(pm, acc)
        start = localize(datetime.combine(start_day, time()), rules.tz)
        end = localize(datetime.combine(end_day + timedelta(days=1), time()), rules.tz)
        board = slots.Board(rules, acc.id, start, end)
        now = from_storage(utcnow())
        free = Counter(board.local_date(s) for s in slots.slot_instants(rules, max(start, now), end)
                       if board.is_free(s))
        empty = [start_day + timedelta(days=i) for i in range((end_day - start_day).days + 1)]
        empty = [d for d in empty if board.per_day[d] == 0 and d not in rules.blackouts]
        all_days.update(empty)
        out.append({"account_id": acc.id, "display_name": acc.display_name,
                    "empty_days": [d.isoformat() for d in empty],
                    "free_slots": sum(free.values()),
                    "free_slots_by_day": {d.isoformat(): n for d, n in sorted(free.items())}})
    nobody = [d for d in sorted(all_days) if all(d.isoformat() in a["empty_days"] for a in out)]
    return {"start": start_day.isoformat(), "end": end_day.isoformat(),
            "days_with_nothing_planned": [d.isoformat() for d in nobody], "accounts": out}


# --- reservations ------------------------------------------------------------------

def reservation(workspace_id: int, reservation_id: int) -> Reservation:
    r = Reservation.get_or_none(Reservation.id == reservation_id, Reservation.workspace == workspace_id)
    if r is None:
        raise NotFound(f"reservation {reservation_id} not found")
    return r


def reserve(pm, workspace_id: int, account_id: int, at: datetime, topic: str, note: str = "") -> Reservation:
    """Hold a slot for a topic; 409 with the conflicts when the time is not free."""
    if not (topic or "").strip():
        raise ValidationError("topic is required", field="topic")
    acc = publications.resolve_accounts(workspace_id, [account_id])[0]
    stored = publications.check_time(at)
    with database.atomic():
        publications.lock_accounts([acc])
        problems = slots.check(pm, acc, from_storage(stored))
        if problems:
            raise Conflict("the time is not free on this account", errors={"conflicts": problems})
        r = Reservation.create(workspace=workspace_id, account=acc, at=stored, topic=topic.strip(),
                               note=note or "")
        events.record(workspace_id, "user", f"reserved {acc.display_name} at {at.isoformat()} "
                                            f"for {topic!r}", subject=("reservation", r.id))
    return r


def fill(config, pm, r: Reservation, post: Post, retry: dict | None = None) -> list[Publication]:
    """Schedule ``post`` into the reserved slot and release the reservation."""
    acc = Account.get_by_id(r.account_id)
    stored = publications.check_time(from_storage(r.at))
    with database.atomic():
        created = publications.create(config, pm, r.workspace_id, post,
                                      [(acc, stored, slots.rules_for(pm, acc).tz)], retry)
        r.delete_instance()
    return created
