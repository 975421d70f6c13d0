"""The one place for time: UTC storage, ISO 8601 parsing, workspace-zone defaults.

Stored datetimes are naive UTC (portable across SQLite and PostgreSQL); every
datetime that leaves the core is timezone-aware.
"""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from .errors import ValidationError


#: Times outside these years are refused: nothing is planned that far, and date
#: arithmetic near datetime's limits would overflow.
MIN_YEAR, MAX_YEAR = 1970, 2200


def utcnow() -> datetime:
    """Now, as stored: naive UTC."""
    return datetime.now(timezone.utc).replace(tzinfo=None)


def to_storage(dt: datetime) -> datetime:
    """Aware datetime → naive UTC for the database."""
    if dt.tzinfo is None:
        raise ValueError("naive datetime given to to_storage; localize it first")
    return dt.astimezone(timezone.utc).replace(tzinfo=None)


def from_storage(dt: datetime | None) -> datetime | None:
    """Naive UTC from the database → aware UTC."""
    if dt is None:
        return None
    return dt.replace(tzinfo=timezone.utc)


def zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, TypeError):
        raise ValidationError(f"unknown IANA timezone {name!r}", field="timezone")


def is_zone(name: str) -> bool:
    return name in available_timezones()


def localize(dt: datetime, tz_name: str) -> datetime:
    """Give a naive wall-clock time the zone; an aware one is returned as is.

    A wall time that does not exist (spring forward) is moved to the first valid
    instant after it; an ambiguous one (fall back) takes its first occurrence.
    """
    if dt.tzinfo is not None:
        return dt
    tz = zone(tz_name)
    aware = dt.replace(tzinfo=tz, fold=0)
    if _wall(aware.astimezone(timezone.utc), tz) == dt:
        return aware
    # dt lies in a gap. The two folds bracket the transition in UTC; the first
    # instant whose wall time is >= dt is the transition itself.
    a = dt.replace(tzinfo=tz, fold=0).astimezone(timezone.utc)
    b = dt.replace(tzinfo=tz, fold=1).astimezone(timezone.utc)
    lo, hi = min(a, b), max(a, b)
    while hi - lo > timedelta(seconds=1):
        mid = lo + (hi - lo) / 2
        if _wall(mid, tz) >= dt:
            hi = mid
        else:
            lo = mid
    aware = hi.replace(microsecond=0).astimezone(tz)
    return aware


def _wall(instant: datetime, tz: ZoneInfo) -> datetime:
    return instant.astimezone(tz).replace(tzinfo=None)


def parse_datetime(value: str | datetime, tz_name: str, field: str = "scheduled_at") -> datetime:
    """ISO 8601 text → aware datetime; a time without offset is read in ``tz_name``."""
    if isinstance(value, datetime):
        dt = value
    else:
        text = str(value).strip()
        if text.endswith("Z"):
            text = text[:-1] + "+00:00"
        try:
            dt = datetime.fromisoformat(text)
        except ValueError:
            raise ValidationError(f"{value!r} is not an ISO 8601 datetime", field=field)
    if not MIN_YEAR <= dt.year <= MAX_YEAR:
        raise ValidationError(f"the year must be between {MIN_YEAR} and {MAX_YEAR}", field=field)
    return localize(dt, tz_name)


def isoformat(dt: datetime | None) -> str | None:
    """Stored naive UTC or aware datetime → ISO 8601 with offset."""
    if dt is None:
        return None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)
    return dt.isoformat()
