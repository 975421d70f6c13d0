"""The content calendar: views, conflicts, suggestions, gaps and reservations."""
from __future__ import annotations

from datetime import date, datetime, timedelta

import marshmallow as ma
from flask import g
from flask.views import MethodView
from flask_smorest import Blueprint
from webargs.fields import DelimitedList

from schedulerx import calendar, posts
from schedulerx.models import Reservation
from schedulerx.timeutil import MAX_YEAR, MIN_YEAR, from_storage, utcnow, zone

from ..app import runtime
from ..pagination import PageArgs, page_schema, paginate
from .publications import PublicationSchema
from .schemas import RetryPolicySchema, UTCDateTime, WhenField, workspace_time

blp = Blueprint("calendar", __name__, description="Content calendar")
blp.url_prefix_name = "calendar"


def _day(**kw):
    """A calendar date within the years times are accepted in (see timeutil)."""
    return ma.fields.Date(validate=ma.validate.Range(min=date(MIN_YEAR, 1, 2), max=date(MAX_YEAR, 12, 1)), **kw)


class ViewArgs(ma.Schema):
    view = ma.fields.String(load_default="week", validate=ma.validate.OneOf(calendar.VIEWS))
    date = _day(metadata={"description": "a day inside the view; default today"})
    account_id = ma.fields.Integer(metadata={"description": "one account, in its own timezone"})


class EntrySchema(ma.Schema):
    type = ma.fields.String(metadata={"description": "publication or reservation"})
    id = ma.fields.Integer()
    post_id = ma.fields.Integer()
    account_id = ma.fields.Integer()
    account = ma.fields.String()
    at = UTCDateTime()
    status = ma.fields.String()
    title = ma.fields.String()


class FreeSlotSchema(ma.Schema):
    account_id = ma.fields.Integer()
    at = UTCDateTime()


class DaySchema(ma.Schema):
    date = ma.fields.String()
    entries = ma.fields.List(ma.fields.Nested(EntrySchema))
    free_slots = ma.fields.List(ma.fields.Nested(FreeSlotSchema))
    planned = ma.fields.Integer(metadata={"description": "posts and reservations holding a place"})
    capacity = ma.fields.Integer(metadata={"description": "slots that day, within daily maximums"})
    utilisation = ma.fields.Float(allow_none=True)


class UsageSchema(ma.Schema):
    account_id = ma.fields.Integer()
    display_name = ma.fields.String()
    slots_source = ma.fields.String()
    capacity = ma.fields.Integer()
    used = ma.fields.Integer()
    utilisation = ma.fields.Float(allow_none=True)


class ViewSchema(ma.Schema):
    view = ma.fields.String()
    timezone = ma.fields.String()
    start = UTCDateTime()
    end = UTCDateTime()
    days = ma.fields.List(ma.fields.Nested(DaySchema))
    accounts = ma.fields.List(ma.fields.Nested(UsageSchema))


class RangeArgs(ma.Schema):
    start = WhenField(metadata={"description": "default now"})
    end = WhenField(metadata={"description": "default start + 14 days (at most 92 days)"})
    account_id = ma.fields.Integer()


class ConflictArgs(RangeArgs):
    duplicate_days = ma.fields.Integer(load_default=7, validate=ma.validate.Range(min=0, max=90))
    threshold = ma.fields.Float(load_default=0.85, validate=ma.validate.Range(min=0.5, max=1), metadata={
        "description": "how alike two posts' text must be to count as near-duplicates"})


class ConflictItemSchema(ma.Schema):
    publication_id = ma.fields.Integer()
    post_id = ma.fields.Integer()
    at = UTCDateTime()
    title = ma.fields.String()


class ConflictSchema(ma.Schema):
    kind = ma.fields.String(metadata={"description": "gap, daily_max, blackout or duplicate"})
    account_id = ma.fields.Integer()
    date = ma.fields.String()
    similarity = ma.fields.Float()
    items = ma.fields.List(ma.fields.Nested(ConflictItemSchema))
    message = ma.fields.String()


class SuggestArgs(ma.Schema):
    start = WhenField()
    end = WhenField()
    count = ma.fields.Integer(load_default=5, validate=ma.validate.Range(min=1, max=100))
    platforms = DelimitedList(ma.fields.String(), metadata={"description": "comma-separated"})
    account_ids = DelimitedList(ma.fields.Integer())
    preferred_hours = DelimitedList(ma.fields.Integer(validate=ma.validate.Range(min=0, max=23)))


class SuggestionSchema(ma.Schema):
    account_id = ma.fields.Integer()
    platform = ma.fields.String()
    at = UTCDateTime()
    local = ma.fields.Function(lambda s: s["local"].isoformat())
    score = ma.fields.Float()
    reasons = ma.fields.List(ma.fields.String())


class GapArgs(ma.Schema):
    start = _day(metadata={"description": "first local day; default today"})
    end = _day(metadata={"description": "last local day; default start + 13 days"})
    account_id = ma.fields.Integer()


class GapSchema(ma.Schema):
    start = ma.fields.String()
    end = ma.fields.String()
    days_with_nothing_planned = ma.fields.List(ma.fields.String())
    accounts = ma.fields.List(ma.fields.Dict())


class ReservationSchema(ma.Schema):
    id = ma.fields.Integer(dump_only=True)
    account_id = ma.fields.Integer(required=True, strict=True)
    at = WhenField(required=True, metadata={"description": "ISO 8601"})
    topic = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=500))
    note = ma.fields.String(load_default="", validate=ma.validate.Length(max=5000))
    created_at = UTCDateTime(dump_only=True)


class ReservationOutSchema(ReservationSchema):
    at = UTCDateTime()


class FillSchema(ma.Schema):
    post_id = ma.fields.Integer(required=True, strict=True)
    retry = ma.fields.Nested(RetryPolicySchema)


def _today():
    return datetime.now(zone(g.workspace.timezone)).date()


def _range(args: dict, default_days: int = 14):
    start = workspace_time(args.get("start"), "start") or from_storage(utcnow())
    end = workspace_time(args.get("end"), "end") or start + timedelta(days=default_days)
    return start, end


@blp.route("")
class View(MethodView):
    @blp.arguments(ViewArgs, location="query")
    @blp.response(200, ViewSchema)
    def get(self, args):
        """Day, week (Monday first) or month view: entries, free slots and utilisation."""
        rt = runtime()
        day = args.get("date") or _today()
        return calendar.calendar_view(rt.pm, g.workspace.id, args["view"], day, args.get("account_id"))


@blp.route("/conflicts")
class Conflicts(MethodView):
    @blp.arguments(ConflictArgs, location="query")
    @blp.response(200, ConflictSchema(many=True))
    def get(self, args):
        """Posts closer than the account's gap, days above its maximum, blackout days, near-duplicates."""
        start, end = _range(args)
        return calendar.conflicts(runtime().pm, g.workspace.id, start, end,
                                  account_id=args.get("account_id"),
                                  duplicate_days=args["duplicate_days"], threshold=args["threshold"])


@blp.route("/suggestions")
class Suggestions(MethodView):
    @blp.arguments(SuggestArgs, location="query")
    @blp.response(200, SuggestionSchema(many=True))
    def get(self, args):
        """The best free slots, ranked by platform best times, preferred hours and day load."""
        start, end = _range(args)
        return calendar.suggestions(runtime().pm, g.workspace.id, start, end, count=args["count"],
                                    platforms=args.get("platforms"), account_ids=args.get("account_ids"),
                                    preferred_hours=args.get("preferred_hours"))


@blp.route("/gaps")
class Gaps(MethodView):
    @blp.arguments(GapArgs, location="query")
    @blp.response(200, GapSchema)
    def get(self, args):
        """Days with nothing planned, per account and for the whole workspace."""
        start = args.get("start") or _today()
        end = args.get("end") or start + timedelta(days=13)
        return calendar.gaps(runtime().pm, g.workspace.id, start, end, account_id=args.get("account_id"))


@blp.route("/reservations")
class Reservations(MethodView):
    @blp.arguments(PageArgs, location="query")
    @blp.response(200, page_schema(ReservationOutSchema))
    def get(self, args):
        """Reserved slots, soonest first."""
        query = Reservation.select().where(Reservation.workspace == g.workspace.id).order_by(
            Reservation.at, Reservation.id)
        return paginate(query, args["page"], args["page_size"])

    @blp.arguments(ReservationSchema)
    @blp.response(201, ReservationOutSchema)
    def post(self, data):
        """Reserve a slot for a topic before the content exists; 409 when the time is not free."""
        return calendar.reserve(runtime().pm, g.workspace.id, data["account_id"],
                                workspace_time(data["at"], "at"), data["topic"], data["note"])


@blp.route("/reservations/<int:reservation_id>")
class ReservationItem(MethodView):
    @blp.response(204)
    def delete(self, reservation_id):
        """Release a reserved slot."""
        calendar.reservation(g.workspace.id, reservation_id).delete_instance()


@blp.route("/reservations/<int:reservation_id>/fill")
class Fill(MethodView):
    @blp.arguments(FillSchema)
    @blp.response(201, PublicationSchema(many=True))
    def post(self, data, reservation_id):
        """Schedule a post into the reserved slot; the reservation is released."""
        rt = runtime()
        r = calendar.reservation(g.workspace.id, reservation_id)
        return calendar.fill(rt.config, rt.pm, r, posts.get(g.workspace.id, data["post_id"]),
                             retry=data.get("retry"))
