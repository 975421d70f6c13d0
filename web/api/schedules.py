"""Recurring schedules: rules, templates, preview, pause and resume, occurrences."""
from __future__ import annotations

import json

import marshmallow as ma
from flask import g
from flask.views import MethodView
from flask_smorest import Blueprint

from schedulerx import schedules
from schedulerx.models import Occurrence
from schedulerx.timeutil import from_storage

from ..pagination import PageArgs, page_schema, paginate
from .schemas import UTCDateTime, WhenField, stored_time, workspace_time

blp = Blueprint("schedules", __name__, description="Recurring schedules")
blp.url_prefix_name = "schedules"

RULE_DOC = (
    'One of: {"kind": "daily", "times": ["09:00"], "every": 1} · '
    '{"kind": "weekly", "weekdays": ["mon", "thu"], "times": ["09:00"], "every": 1} · '
    '{"kind": "monthly", "days": [1, 15, "last"], "times": ["09:00"]} · '
    '{"kind": "interval", "every": 90, "unit": "minutes" | "hours"} · '
    '{"kind": "cron", "expression": "0 9 * * 1-5"} · '
    '{"kind": "rrule", "rrule": "FREQ=WEEKLY;BYDAY=MO;BYHOUR=9;BYMINUTE=0"}')


class AIOptionsSchema(ma.Schema):
    enabled = ma.fields.Boolean(load_default=False)
    template_id = ma.fields.Integer(allow_none=True, metadata={
        "description": "a metadata prompt template; default the active one"})
    persona_id = ma.fields.Integer(allow_none=True)


class PostTemplateSchema(ma.Schema):
    title = ma.fields.String(validate=ma.validate.Length(max=500), metadata={
        "description": "topic-template variables allowed; default {topic}"})
    body = ma.fields.String(validate=ma.validate.Length(max=100_000))
    tags = ma.fields.List(ma.fields.String(validate=ma.validate.Length(min=1, max=100)),
                          validate=ma.validate.Length(max=100))
    media = ma.fields.List(ma.fields.Integer(strict=True), validate=ma.validate.Length(max=50))
    ai = ma.fields.Nested(AIOptionsSchema, allow_none=True, metadata={
        "description": "enabled: each occurrence's post is AI-written about its topic (docs/ai.md)"})


class RecurringScheduleSchema(ma.Schema):
    id = ma.fields.Integer(dump_only=True)
    name = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=200))
    rule = ma.fields.Dict(required=True, metadata={"description": RULE_DOC})
    timezone = ma.fields.String(validate=ma.validate.Length(min=1, max=64), metadata={
        "description": "IANA zone the rule runs in; default the workspace's"})
    starts_at = WhenField(metadata={"description": "ISO 8601; default now"})
    ends_at = WhenField(allow_none=True)
    topic_template = ma.fields.String(load_default="", validate=ma.validate.Length(max=500), metadata={
        "description": "e.g. 'Tutorial — Week {week}'; see docs/scheduling.md for the variables"})
    post_template = ma.fields.Nested(PostTemplateSchema, load_default=dict)
    account_ids = ma.fields.List(ma.fields.Integer(strict=True), required=True,
                                 validate=ma.validate.Length(min=1, max=100))
    enabled = ma.fields.Boolean(load_default=True)
    misfire_policy = ma.fields.String(load_default="latest",
                                      validate=ma.validate.OneOf(schedules.MISFIRE_POLICIES))
    max_lateness = ma.fields.Integer(load_default=3600, validate=ma.validate.Range(min=0, max=7 * 86400),
                                     metadata={"description": "seconds; missed runs older than this never run"})
    next_run_at = UTCDateTime(dump_only=True)
    created_at = UTCDateTime(dump_only=True)


class RecurringSchedulePatchSchema(RecurringScheduleSchema):
    """Any field of a schedule (loaded with partial=True)."""


class RecurringScheduleOutSchema(RecurringScheduleSchema):
    """What is stored, with the rule in its normalised form."""

    def get_attribute(self, obj, attr, default):
        if attr == "rule":
            return json.loads(obj.rule)
        if attr == "post_template":
            return obj.action
        if attr == "account_ids":
            return obj.accounts
        if attr in ("starts_at", "ends_at"):
            value = getattr(obj, attr)
            return value and from_storage(value).isoformat()
        return super().get_attribute(obj, attr, default)


class PreviewArgs(ma.Schema):
    count = ma.fields.Integer(load_default=10, validate=ma.validate.Range(min=1, max=200))
    after = WhenField(metadata={"description": "default now"})


class PlannedSchema(ma.Schema):
    at = UTCDateTime(metadata={"description": "UTC"})
    local = ma.fields.Function(lambda p: p.local.isoformat(), metadata={
        "description": "the same instant in the schedule's timezone"})
    topic = ma.fields.String()
    title = ma.fields.String()
    body = ma.fields.String()


class OccurrenceSchema(ma.Schema):
    id = ma.fields.Integer()
    occurs_at = UTCDateTime()
    status = ma.fields.String(metadata={"description": "created or failed"})
    post_id = ma.fields.Integer(allow_none=True)
    error = ma.fields.String(allow_none=True)
    created_at = UTCDateTime()


def _fields(data: dict) -> dict:
    out = dict(data)
    for key in ("starts_at", "ends_at"):
        if key in out:
            out[key] = stored_time(out[key], key)
    return out


def _after(args: dict):
    return workspace_time(args.get("after"), "after")


@blp.route("")
class Schedules(MethodView):
    @blp.arguments(PageArgs, location="query")
    @blp.response(200, page_schema(RecurringScheduleOutSchema))
    def get(self, args):
        """List the workspace's schedules by name."""
        return paginate(schedules.listing(g.workspace.id), args["page"], args["page_size"])

    @blp.arguments(RecurringScheduleSchema)
    @blp.response(201, RecurringScheduleOutSchema)
    def post(self, data):
        """Create a schedule; the rule, templates and accounts are checked (422)."""
        return schedules.create(g.workspace.id, **_fields(data))


@blp.route("/preview")
class UnsavedPreview(MethodView):
    @blp.arguments(RecurringScheduleSchema)
    @blp.arguments(PreviewArgs, location="query")
    @blp.response(200, PlannedSchema(many=True))
    def post(self, data, args):
        """Preview the next occurrences of a schedule before saving it (nothing is stored)."""
        return schedules.preview(schedules.draft(g.workspace.id, **_fields(data)), args["count"],
                                 _after(args))


@blp.route("/<int:schedule_id>")
class Schedule(MethodView):
    @blp.response(200, RecurringScheduleOutSchema)
    def get(self, schedule_id):
        """One schedule, with its next run."""
        return schedules.get(g.workspace.id, schedule_id)

    @blp.arguments(RecurringSchedulePatchSchema(partial=True))
    @blp.response(200, RecurringScheduleOutSchema)
    def patch(self, data, schedule_id):
        """Change any field; the next run is recomputed from now."""
        return schedules.save(schedules.get(g.workspace.id, schedule_id), **_fields(data))

    @blp.response(204)
    def delete(self, schedule_id):
        """Delete the schedule; the posts it made stay."""
        schedules.delete(schedules.get(g.workspace.id, schedule_id))


@blp.route("/<int:schedule_id>/preview")
class Preview(MethodView):
    @blp.arguments(PreviewArgs, location="query")
    @blp.response(200, PlannedSchema(many=True))
    def get(self, args, schedule_id):
        """The next occurrences with their rendered topic and title, in UTC and local time."""
        return schedules.preview(schedules.get(g.workspace.id, schedule_id), args["count"],
                                 _after(args))


@blp.route("/<int:schedule_id>/<any(pause, resume):action>")
class PauseResume(MethodView):
    @blp.response(200, RecurringScheduleOutSchema)
    def post(self, schedule_id, action):
        """Pause, or resume from now on (occurrences during the pause are not run)."""
        return schedules.save(schedules.get(g.workspace.id, schedule_id),
                              enabled=action == "resume")


@blp.route("/<int:schedule_id>/occurrences")
class Occurrences(MethodView):
    @blp.arguments(PageArgs, location="query")
    @blp.response(200, page_schema(OccurrenceSchema))
    def get(self, args, schedule_id):
        """Occurrences made so far, newest first, with the post each made."""
        sch = schedules.get(g.workspace.id, schedule_id)
        query = Occurrence.select().where(Occurrence.schedule == sch).order_by(
            Occurrence.occurs_at.desc())
        return paginate(query, args["page"], args["page_size"])
