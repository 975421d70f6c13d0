"""Recurring rules: daily, weekly, monthly, every N minutes/hours, cron, RFC 5545 RRULE.

A rule is a JSON-able dict (``{"kind": "weekly", "weekdays": ["mon"], "times": ["09:00"]}``)
compiled into dateutil rrules or a croniter expression. Calendar rules run in
*wall time* of the rule's timezone, and each wall time is placed on the UTC
timeline by ``timeutil.localize``, which is where daylight saving is decided:

* a wall time that does not exist (spring forward) fires once, at the first valid
  instant after it (the transition itself);
* a wall time that happens twice (fall back) fires once, at the first of the two.

``every N minutes/hours`` is elapsed time, not wall time: it runs on the UTC
timeline from its start, so a DST change neither doubles nor drops a run.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta, timezone
from typing import Iterator

from croniter import CroniterBadDateError, croniter
from dateutil import rrule as du

from .errors import ValidationError
from .timeutil import localize, to_storage, zone

KINDS = ("daily", "weekly", "monthly", "interval", "cron", "rrule")
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_DU_DAYS = (du.MO, du.TU, du.WE, du.TH, du.FR, du.SA, du.SU)
UNITS = {"minutes": du.MINUTELY, "hours": du.HOURLY}
#: How far back of an "after" instant to start scanning wall times: wider than any
#: UTC offset change, so no occurrence near a transition is skipped.
_SCAN_MARGIN = timedelta(days=2)


def _fail(message: str, field: str = "rule"):
    raise ValidationError(message, field=field)


def parse_time(text, field: str = "times") -> time:
    """``"HH:MM"`` → time; 422 otherwise."""
    try:
        hh, mm = str(text).split(":")
        if len(mm) != 2:
            raise ValueError
        return time(int(hh), int(mm))
    except (ValueError, TypeError):
        _fail(f"{text!r} is not a time of day (HH:MM)", field)


def _times(spec: dict) -> list[time]:
    raw = spec.get("times")
    if not isinstance(raw, list) or not raw:
        _fail("times: give at least one time of day, e.g. [\"09:00\"]", "rule.times")
    if len(raw) > 48:
        _fail("times: at most 48 times a day", "rule.times")
    return sorted({parse_time(t, "rule.times") for t in raw})


def _every(spec: dict, top: int) -> int:
    every = spec.get("every", 1)
    if not isinstance(every, int) or isinstance(every, bool) or not 1 <= every <= top:
        _fail(f"every must be a whole number from 1 to {top}", "rule.every")
    return every


def _weekdays(spec: dict) -> list[int]:
    raw = spec.get("weekdays")
    if not isinstance(raw, list) or not raw:
        _fail("weekdays: give at least one of " + ", ".join(WEEKDAYS), "rule.weekdays")
    out = set()
    for d in raw:
        if isinstance(d, str) and d.lower()[:3] in WEEKDAYS:
            out.add(WEEKDAYS.index(d.lower()[:3]))
        elif isinstance(d, int) and not isinstance(d, bool) and 0 <= d <= 6:
            out.add(d)
        else:
            _fail(f"weekdays: {d!r} is not a weekday (mon…sun or 0–6, Monday = 0)", "rule.weekdays")
    return sorted(out)


def _monthdays(spec: dict) -> list[int]:
    raw = spec.get("days")
    if not isinstance(raw, list) or not raw:
        _fail('days: give days of the month, 1–31 or "last"', "rule.days")
    out = set()
    for d in raw:
        if d == "last" or d == -1:
            out.add(-1)
        elif isinstance(d, int) and not isinstance(d, bool) and 1 <= d <= 31:
            out.add(d)
        else:
            _fail(f'days: {d!r} is not a day of the month (1–31 or "last")', "rule.days")
    return sorted(out)


@dataclass(frozen=True)
class Rule:
    """A validated rule, ready to list occurrences in ``tz`` from ``start`` (aware)."""
    spec: dict
    tz: str
    start: datetime
    end: datetime | None = None

    @property
    def kind(self) -> str:
        return self.spec["kind"]

    # --- generation -------------------------------------------------------------
    def _wall_rules(self, dtstart: datetime) -> du.rruleset:
        """The calendar kinds as an rruleset over naive wall times."""
        s, rs = self.spec, du.rruleset()
        if self.kind == "rrule":
            rs.rrule(du.rrulestr(s["rrule"], dtstart=dtstart))
            return rs
        for t in _times(s):
            common = dict(dtstart=dtstart, byhour=t.hour, byminute=t.minute, bysecond=0)
            if self.kind == "daily":
                rs.rrule(du.rrule(du.DAILY, interval=_every(s, 365), **common))
            elif self.kind == "weekly":
                rs.rrule(du.rrule(du.WEEKLY, interval=_every(s, 52), wkst=du.MO,
                                  byweekday=[_DU_DAYS[d] for d in _weekdays(s)], **common))
            elif self.kind == "monthly":
                rs.rrule(du.rrule(du.MONTHLY, interval=_every(s, 12),
                                  bymonthday=_monthdays(s), **common))
        return rs

    def _instants(self, after: datetime) -> Iterator[datetime]:
        """Aware UTC instants strictly after ``after``, ascending, never repeated."""
        tz = self.tz
        if self.kind == "interval":
            step = timedelta(**{self.spec["unit"]: _every(self.spec, 10_000)})
            # Start the rule at the last run at or before ``after``: rrule would
            # otherwise walk every run since the schedule began.
            begin = self.start.astimezone(timezone.utc).replace(tzinfo=None)
            base = to_storage(after)
            if base > begin:
                begin += ((base - begin) // step) * step
            rule = du.rrule(UNITS[self.spec["unit"]], interval=_every(self.spec, 10_000),
                            dtstart=begin)
            walls, tz = rule.xafter(begin, inc=True), "UTC"
        else:
            local_start = self.start.astimezone(zone(tz)).replace(tzinfo=None)
            scan_from = max(after.astimezone(zone(tz)).replace(tzinfo=None) - _SCAN_MARGIN,
                            local_start)
            if self.kind == "cron":
                walls = _cron_walls(self.spec["expression"], scan_from)
            else:
                walls = self._wall_rules(local_start).xafter(scan_from, inc=True)
        last = None
        for wall in walls:
            when = localize(wall, tz).astimezone(timezone.utc)
            if when < self.start:
                continue
            if self.end is not None and when > self.end:
                return
            if when <= after or when == last:
                continue  # before the window, or two wall times in one DST gap
            last = when
            yield when

    def after(self, after: datetime, count: int) -> list[datetime]:
        """The next ``count`` occurrences strictly after ``after`` (aware UTC)."""
        out = []
        for when in self._instants(after):
            out.append(when)
            if len(out) >= count:
                break
        return out

    def between(self, after: datetime, until: datetime, limit: int = 100_000) -> list[datetime]:
        """Occurrences in ``(after, until]``, at most ``limit`` of them."""
        out = []
        for when in self._instants(after):
            if when > until or len(out) >= limit:
                break
            out.append(when)
        return out


def _cron_walls(expression: str, scan_from: datetime) -> Iterator[datetime]:
    """Naive wall times of a cron expression from ``scan_from`` on (inclusive)."""
    it = croniter(expression, scan_from - timedelta(seconds=1))
    while True:
        try:
            yield it.get_next(datetime)
        except CroniterBadDateError:  # e.g. "0 0 30 2 *": no such date, ever
            return


def compile_rule(spec, tz: str, start: datetime, end: datetime | None = None) -> Rule:
    """Validate ``spec`` (422 naming the field) and return a Rule."""
    if not isinstance(spec, dict) or spec.get("kind") not in KINDS:
        _fail("rule.kind must be one of " + ", ".join(KINDS), "rule.kind")
    zone(tz)  # 422 for an unknown zone
    if start.tzinfo is None:
        raise ValueError("start must be aware")
    if end is not None and end <= start:
        _fail("ends_at must be after starts_at", "ends_at")
    kind, clean = spec["kind"], {"kind": spec["kind"]}
    if kind in ("daily", "weekly", "monthly"):
        clean["times"] = [t.strftime("%H:%M") for t in _times(spec)]
        clean["every"] = _every(spec, {"daily": 365, "weekly": 52, "monthly": 12}[kind])
        if kind == "weekly":
            clean["weekdays"] = [WEEKDAYS[d] for d in _weekdays(spec)]
        if kind == "monthly":
            clean["days"] = ["last" if d == -1 else d for d in _monthdays(spec)]
    elif kind == "interval":
        if spec.get("unit") not in UNITS:
            _fail("unit must be minutes or hours (use a daily rule with every: N for days)",
                  "rule.unit")
        clean["unit"] = spec["unit"]
        clean["every"] = _every(spec, 10_000)
        if clean["unit"] == "minutes" and clean["every"] < 5:
            _fail("every: at least 5 minutes between runs", "rule.every")
    elif kind == "cron":
        expr = spec.get("expression")
        if not isinstance(expr, str) or not croniter.is_valid(expr) or len(expr.split()) != 5:
            _fail(f"{expr!r} is not a five-field cron expression (minute hour day month weekday)",
                  "rule.expression")
        clean["expression"] = expr.strip()
    else:
        text = spec.get("rrule")
        if not isinstance(text, str) or not text.strip():
            _fail("rrule: give an RFC 5545 rule, e.g. FREQ=WEEKLY;BYDAY=MO;BYHOUR=9;BYMINUTE=0",
                  "rule.rrule")
        text = text.strip()
        upper = text.upper()
        if "DTSTART" in upper or "TZID" in upper or "\n" in text:
            _fail("rrule: give a single RRULE line; the start and timezone are the schedule's "
                  "starts_at and timezone", "rule.rrule")
        if upper.startswith("RRULE:"):
            text = text[6:]
        try:
            du.rrulestr(text, dtstart=datetime(2000, 1, 1))
        except (ValueError, TypeError) as exc:
            _fail(f"rrule: {exc}", "rule.rrule")
        if any(f in upper for f in ("FREQ=SECONDLY", "FREQ=MINUTELY")):
            _fail("rrule: FREQ=SECONDLY and MINUTELY are not allowed; use an interval rule",
                  "rule.rrule")
        clean["rrule"] = text
    rule = Rule(clean, tz, start, end)
    if not rule.after(start - timedelta(seconds=1), 1):
        _fail("the rule never fires between starts_at and ends_at", "rule")
    return rule
