"""Publishing statistics, and purging old finished publications."""
from __future__ import annotations

from datetime import timedelta

import marshmallow as ma
from flask import g
from flask.views import MethodView
from flask_smorest import Blueprint

from schedulerx import stats
from schedulerx.timeutil import from_storage, utcnow

from .schemas import UTCDateTime, WhenField, workspace_time

blp = Blueprint("stats", __name__, description="Statistics and housekeeping")
blp.url_prefix_name = "stats"


class StatsArgs(ma.Schema):
    start = WhenField(metadata={"description": "scheduled at or after; default 30 days ago"})
    end = WhenField(metadata={"description": "scheduled before; default now + 30 days"})


class SummarySchema(ma.Schema):
    total = ma.fields.Integer()
    by_status = ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.Integer())
    success_rate = ma.fields.Float(allow_none=True, metadata={
        "description": "published / (published + failed)"})
    average_lateness_seconds = ma.fields.Float(allow_none=True, metadata={
        "description": "published_at − scheduled_at, over published posts"})
    p95_lateness_seconds = ma.fields.Float(allow_none=True)


class PlatformSummarySchema(SummarySchema):
    platform = ma.fields.String()


class AccountSummarySchema(PlatformSummarySchema):
    account_id = ma.fields.Integer()
    display_name = ma.fields.String()


class StatsSchema(SummarySchema):
    start = UTCDateTime()
    end = UTCDateTime()
    per_platform = ma.fields.List(ma.fields.Nested(PlatformSummarySchema))
    per_account = ma.fields.List(ma.fields.Nested(AccountSummarySchema))


class PurgeSchema(ma.Schema):
    older_than_days = ma.fields.Integer(required=True, strict=True,
                                        validate=ma.validate.Range(min=1, max=36500))
    dry_run = ma.fields.Boolean(load_default=False)


class PurgeResultSchema(ma.Schema):
    purged = ma.fields.Integer(metadata={"description": "publications deleted (or that would be)"})
    dry_run = ma.fields.Boolean()


@blp.route("")
class Stats(MethodView):
    @blp.arguments(StatsArgs, location="query")
    @blp.response(200, StatsSchema)
    def get(self, args):
        """Totals by status, success rate and lateness, overall, per platform and per account."""
        now = from_storage(utcnow())
        start = workspace_time(args.get("start"), "start") or now - timedelta(days=30)
        end = workspace_time(args.get("end"), "end") or now + timedelta(days=30)
        return stats.stats(g.workspace.id, start, end)


@blp.route("/purge")
class Purge(MethodView):
    @blp.arguments(PurgeSchema)
    @blp.response(200, PurgeResultSchema)
    def post(self, data):
        """Delete published, failed and canceled publications last changed more than N days ago."""
        n = stats.purge(data["older_than_days"], workspace_id=g.workspace.id, dry_run=data["dry_run"])
        return {"purged": n, "dry_run": data["dry_run"]}
