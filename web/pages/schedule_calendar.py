"""Schedule as a month calendar: each day's publications, in the workspace's timezone."""
from __future__ import annotations

import calendar
from collections import defaultdict
from datetime import date, datetime, time, timedelta

from flask import Blueprint, g, render_template, request

from schedulerx.models import Publication
from schedulerx.timeutil import from_storage, to_storage, zone

from .schedule import with_post_and_account

bp = Blueprint("calendar", __name__)

#: More than this in one month is cut (the list page shows everything).
MONTH_LIMIT = 2000


def _month(tz) -> date:
    try:
        return datetime.strptime(request.args.get("month", ""), "%Y-%m").date()
    except ValueError:
        return datetime.now(tz).date().replace(day=1)


@bp.route("/schedule/calendar")
def month():
    tz = zone(g.workspace.timezone)
    first = _month(tz)
    weeks = calendar.Calendar(firstweekday=0).monthdatescalendar(first.year, first.month)
    start = to_storage(datetime.combine(weeks[0][0], time(), tz))
    end = to_storage(datetime.combine(weeks[-1][-1] + timedelta(days=1), time(), tz))
    pubs = with_post_and_account(Publication.select().where(
        Publication.workspace == g.workspace.id, Publication.scheduled_at >= start,
        Publication.scheduled_at < end)).order_by(Publication.scheduled_at, Publication.id).limit(MONTH_LIMIT)
    by_day = defaultdict(list)
    for pub in pubs:
        local = from_storage(pub.scheduled_at).astimezone(tz)
        by_day[local.date()].append((local, pub))
    prev_month = (first - timedelta(days=1)).replace(day=1)
    next_month = (first + timedelta(days=32)).replace(day=1)
    return render_template("pages/calendar.html", weeks=weeks, by_day=by_day, first=first,
                           today=datetime.now(tz).date(), prev_month=prev_month,
                           next_month=next_month, weekdays=list(calendar.day_abbr))
