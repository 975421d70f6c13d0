"""Times: ISO 8601 in, the workspace zone for naive input, DST gaps and folds, UTC storage."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest
from hypothesis import given, settings, strategies as st

from schedulerx.errors import ValidationError
from schedulerx.timeutil import isoformat, localize, parse_datetime, to_storage


def test_offset_kept_and_naive_read_in_workspace_zone():
    assert parse_datetime("2026-06-01T10:00:00+02:00", "UTC").utcoffset().total_seconds() == 7200
    dt = parse_datetime("2026-06-01T10:00:00", "Europe/Berlin")
    assert to_storage(dt) == datetime(2026, 6, 1, 8, 0)
    assert to_storage(parse_datetime("2026-06-01T10:00:00Z", "Asia/Tokyo")) == datetime(2026, 6, 1, 10)


@pytest.mark.parametrize("bad", ["tomorrow", "2026-13-01T00:00", "", "12:00"])
def test_bad_datetimes_are_validation_errors(bad):
    with pytest.raises(ValidationError):
        parse_datetime(bad, "UTC")


def test_unknown_zone_is_a_validation_error():
    with pytest.raises(ValidationError):
        parse_datetime("2026-06-01T10:00:00", "Mars/Olympus")


def test_spring_forward_gap_moves_to_the_first_valid_instant():
    # 02:30 does not exist in New York on 2026-03-08: clocks jump 02:00 → 03:00.
    assert localize(datetime(2026, 3, 8, 2, 30), "America/New_York").isoformat() == "2026-03-08T03:00:00-04:00"


def test_fall_back_fold_takes_the_first_occurrence():
    dt = localize(datetime(2026, 11, 1, 1, 30), "America/New_York")
    assert dt.utcoffset().total_seconds() == -4 * 3600  # EDT, the first 01:30


@settings(max_examples=300, deadline=None)
@given(st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2040, 1, 1)),
       st.sampled_from(["America/New_York", "Europe/Berlin", "Australia/Lord_Howe",
                        "Asia/Kolkata", "America/Santiago", "Pacific/Chatham", "UTC"]))
def test_localize_never_goes_back_in_wall_time(naive, zone):
    aware = localize(naive, zone)
    wall = aware.replace(tzinfo=None)
    assert wall >= naive  # same time, or the first instant after a gap
    assert (wall - naive).total_seconds() <= 3600  # gaps are at most an hour in these zones
    assert isoformat(to_storage(aware)) == aware.astimezone(timezone.utc).isoformat()
