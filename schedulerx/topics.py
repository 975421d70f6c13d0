"""Topic templates: ``"Tutorial — Week {week}"`` rendered for an occurrence's local time.

``str.format`` syntax with a closed set of names and no attribute or index
lookups, so a template can only ever read the variables below.
"""
from __future__ import annotations

import string
from datetime import datetime

from .errors import ValidationError

MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August",
          "September", "October", "November", "December")
DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
NAMES = ("date", "time", "datetime", "year", "month", "month_num", "day", "weekday", "week",
         "timestamp", "topic", "schedule")


def variables(local: datetime, **extra) -> dict:
    """The template variables for an aware local datetime (English names, ISO week)."""
    return {
        "date": local.strftime("%Y-%m-%d"), "time": local.strftime("%H:%M"),
        "datetime": local.strftime("%Y-%m-%d %H:%M"), "year": str(local.year),
        "month": MONTHS[local.month - 1], "month_num": str(local.month), "day": str(local.day),
        "weekday": DAYS[local.weekday()], "week": str(local.isocalendar()[1]),
        "timestamp": str(int(local.timestamp())), **extra,
    }


class _Formatter(string.Formatter):
    def get_field(self, field_name, args, kwargs):
        if not field_name or any(c in field_name for c in ".[]"):
            raise ValueError(f"{{{field_name}}}: only plain names like {{week}} are allowed")
        if field_name not in kwargs:
            raise ValueError(f"{{{field_name}}} is not a template variable; "
                             f"use one of {', '.join('{' + n + '}' for n in NAMES)}")
        return kwargs[field_name], field_name


_FORMATTER = _Formatter()


def render(template: str, values: dict, field: str = "topic_template") -> str:
    """Fill ``template``; 422 naming ``field`` for an unknown name or bad syntax."""
    try:
        return _FORMATTER.vformat(template or "", (), values)
    except (ValueError, IndexError, KeyError) as exc:
        raise ValidationError(f"{field}: {exc}", field=field)
