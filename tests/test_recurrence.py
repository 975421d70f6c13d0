"""Recurring rules: every kind, validation, and daylight saving in every IANA zone.

The DST property: daily, weekly and monthly rules run through two years in every
zone fire exactly once per intended local date; at the intended wall time when
it exists, at the first valid instant after it when it does not (spring
forward), and at the first of the two when it happens twice (fall back).
"""
from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo, available_timezones

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from schedulerx.errors import ValidationError
from schedulerx.recurrence import compile_rule

START = datetime(2027, 1, 1, tzinfo=timezone.utc)
END = datetime(2029, 1, 1, tzinfo=timezone.utc)
ZONES = sorted(available_timezones())


def local_dates(first: date, last: date):
    d = first
    while d <= last:
        yield d
        d += timedelta(days=1)


def expected_instant(day: date, wall: time, tz: ZoneInfo) -> datetime:
    """Independent of the code under test: scan the day minute by minute in UTC."""
    target = datetime.combine(day, wall)
    probe = datetime.combine(day, time()) - timedelta(days=1)
    probe = probe.replace(tzinfo=timezone.utc)
    # The first whole UTC minute whose local wall time is at or after the target.
    lo, hi = 0, 3 * 24 * 60
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if (probe + timedelta(minutes=mid)).astimezone(tz).replace(tzinfo=None) >= target:
            hi = mid
        else:
            lo = mid
    return probe + timedelta(minutes=hi)


def check_once_per_date(rule, tz_name: str, wall: time, wanted) -> None:
    tz = ZoneInfo(tz_name)
    fired = rule.between(START - timedelta(seconds=1), END - timedelta(seconds=1))
    by_date: dict[date, list[datetime]] = {}
    for when in fired:
        local = when.astimezone(tz)
        by_date.setdefault(local.date(), []).append(when)
    first = (START.astimezone(tz) + timedelta(days=1)).date()
    last = (END.astimezone(tz) - timedelta(days=1)).date()
    for day in local_dates(first, last):
        got = by_date.get(day, [])
        if not wanted(day):
            assert got == [], (tz_name, day, got)
            continue
        assert len(got) == 1, (tz_name, day, got)
        local = got[0].astimezone(tz)
        assert local.fold == 0, (tz_name, day, local)  # the first of two, when ambiguous
        if local.replace(tzinfo=None).time() != wall:
            # The wall time does not exist that day: the first valid instant after it.
            assert got[0] == expected_instant(day, wall, tz), (tz_name, day, got[0])


@pytest.mark.parametrize("wall", [time(0, 30), time(1, 30), time(2, 30)])
def test_daily_fires_once_per_local_date_in_every_zone(wall):
    for tz_name in ZONES:
        rule = compile_rule({"kind": "daily", "times": [wall.strftime("%H:%M")]}, tz_name, START)
        check_once_per_date(rule, tz_name, wall, lambda d: True)


def test_weekly_fires_once_per_chosen_weekday_in_every_zone():
    wall = time(2, 30)
    for tz_name in ZONES:
        rule = compile_rule({"kind": "weekly", "weekdays": ["sun", "fri"], "times": ["02:30"]},
                            tz_name, START)
        check_once_per_date(rule, tz_name, wall, lambda d: d.weekday() in (6, 4))


def test_monthly_fires_once_per_chosen_day_in_every_zone():
    wall = time(1, 30)

    def wanted(d: date) -> bool:
        last = (d.replace(day=28) + timedelta(days=4)).replace(day=1) - timedelta(days=1)
        return d.day in (1, 15) or d == last

    for tz_name in ZONES:
        rule = compile_rule({"kind": "monthly", "days": [1, 15, "last"], "times": ["01:30"]},
                            tz_name, START)
        check_once_per_date(rule, tz_name, wall, wanted)


@settings(max_examples=60, deadline=None)
@given(tz_name=st.sampled_from(ZONES), hour=st.integers(0, 23), minute=st.sampled_from([0, 15, 30, 45]))
def test_daily_at_any_time_in_any_zone(tz_name, hour, minute):
    wall = time(hour, minute)
    rule = compile_rule({"kind": "daily", "times": [wall.strftime("%H:%M")]}, tz_name, START)
    check_once_per_date(rule, tz_name, wall, lambda d: True)


def test_spring_forward_and_fall_back_in_new_york():
    ny = ZoneInfo("America/New_York")
    gap = compile_rule({"kind": "daily", "times": ["02:30"]}, "America/New_York", START)
    fired = gap.after(datetime(2027, 3, 13, 12, tzinfo=timezone.utc), 2)
    # 2027-03-14 02:30 does not exist: 03:00 EDT, the first valid instant after it.
    assert fired[0].astimezone(ny).isoformat() == "2027-03-14T03:00:00-04:00"
    assert fired[1].astimezone(ny).isoformat() == "2027-03-15T02:30:00-04:00"
    fold = compile_rule({"kind": "daily", "times": ["01:30"]}, "America/New_York", START)
    fired = fold.after(datetime(2027, 11, 6, 12, tzinfo=timezone.utc), 2)
    # 2027-11-07 01:30 happens twice: the first (EDT, 05:30 UTC), once.
    assert fired[0] == datetime(2027, 11, 7, 5, 30, tzinfo=timezone.utc)
    assert fired[1].astimezone(ny).isoformat() == "2027-11-08T01:30:00-05:00"


def test_cron_and_rrule_follow_the_same_dst_rules():
    ny = ZoneInfo("America/New_York")
    after = datetime(2027, 3, 13, 12, tzinfo=timezone.utc)
    for spec in ({"kind": "cron", "expression": "30 2 * * *"},
                 {"kind": "rrule", "rrule": "FREQ=DAILY;BYHOUR=2;BYMINUTE=30"}):
        fired = compile_rule(spec, "America/New_York", START).after(after, 2)
        assert [f.astimezone(ny).isoformat() for f in fired] == [
            "2027-03-14T03:00:00-04:00", "2027-03-15T02:30:00-04:00"], spec


def test_interval_is_elapsed_time_across_dst():
    rule = compile_rule({"kind": "interval", "every": 2, "unit": "hours"}, "America/New_York",
                        datetime(2027, 3, 13, 23, tzinfo=timezone.utc))
    fired = rule.after(datetime(2027, 3, 14, 0, tzinfo=timezone.utc), 5)
    gaps = {b - a for a, b in zip(fired, fired[1:])}
    assert gaps == {timedelta(hours=2)}  # the lost local hour changes nothing
    # Far from the start: the rule is rebased, not walked from its first run.
    later = rule.after(datetime(2035, 1, 1, 0, 30, tzinfo=timezone.utc), 1)[0]
    assert (later - rule.start) % timedelta(hours=2) == timedelta(0)


def test_weekly_every_two_weeks_and_end_date():
    start = datetime(2027, 1, 4, 8, tzinfo=timezone.utc)  # a Monday
    rule = compile_rule({"kind": "weekly", "weekdays": ["mon"], "times": ["09:00"], "every": 2},
                        "UTC", start, datetime(2027, 2, 15, 9, tzinfo=timezone.utc))
    fired = rule.after(start - timedelta(seconds=1), 10)
    assert [f.date().isoformat() for f in fired] == [
        "2027-01-04", "2027-01-18", "2027-02-01", "2027-02-15"]


def test_monthly_last_day_and_day_31():
    rule = compile_rule({"kind": "monthly", "days": [31, "last"], "times": ["12:00"]}, "UTC", START)
    fired = rule.after(START, 4)
    assert [f.date().isoformat() for f in fired] == ["2027-01-31", "2027-02-28", "2027-03-31",
                                                     "2027-04-30"]


@pytest.mark.parametrize("spec, field", [
    ({"kind": "hourly"}, "rule.kind"),
    ({"kind": "daily"}, "rule.times"),
    ({"kind": "daily", "times": ["25:00"]}, "rule.times"),
    ({"kind": "daily", "times": ["9"]}, "rule.times"),
    ({"kind": "daily", "times": ["09:00"], "every": 0}, "rule.every"),
    ({"kind": "weekly", "times": ["09:00"], "weekdays": ["funday"]}, "rule.weekdays"),
    ({"kind": "weekly", "times": ["09:00"], "weekdays": []}, "rule.weekdays"),
    ({"kind": "monthly", "times": ["09:00"], "days": [32]}, "rule.days"),
    ({"kind": "interval", "every": 1, "unit": "minutes"}, "rule.every"),
    ({"kind": "interval", "every": 3, "unit": "days"}, "rule.unit"),
    ({"kind": "cron", "expression": "61 * * * *"}, "rule.expression"),
    ({"kind": "cron", "expression": "0 0 30 2 *"}, "rule"),
    ({"kind": "rrule", "rrule": "FREQ=NEVERLY"}, "rule.rrule"),
    ({"kind": "rrule", "rrule": "DTSTART:20270101T000000\nRRULE:FREQ=DAILY"}, "rule.rrule"),
    ({"kind": "rrule", "rrule": "FREQ=MINUTELY"}, "rule.rrule"),
])
def test_bad_rules_are_refused_naming_the_field(spec, field):
    with pytest.raises(ValidationError) as exc:
        compile_rule(spec, "UTC", START)
    assert field in exc.value.errors, exc.value.errors


def test_unknown_zone_and_end_before_start():
    with pytest.raises(ValidationError) as exc:
        compile_rule({"kind": "daily", "times": ["09:00"]}, "Mars/Olympus", START)
    assert "timezone" in exc.value.errors
    with pytest.raises(ValidationError) as exc:
        compile_rule({"kind": "daily", "times": ["09:00"]}, "UTC", START, START - timedelta(days=1))
    assert "ends_at" in exc.value.errors
