"""The queue: an account's posting slots and rules, its next free slot, conflict
checks, adding a post to the queue, and spreading posts over a date range."""
from __future__ import annotations

import marshmallow as ma
from flask import g
from flask.views import MethodView
from flask_smorest import Blueprint

from schedulerx import accounts, posts, publications, slots
from schedulerx.errors import ValidationError
from schedulerx.timeutil import zone

from ..app import runtime
from .publications import PublicationSchema
from .schemas import RetryPolicySchema, UTCDateTime, WhenField, workspace_time

blp = Blueprint("queue", __name__, description="Posting slots and the queue")
blp.url_prefix_name = "queue"


class SlotSchema(ma.Schema):
    weekday = ma.fields.Raw(required=True, metadata={"description": "0–6 (Monday = 0) or mon…sun"})
    time = ma.fields.String(required=True, metadata={"description": "HH:MM, local wall time"})


class QueueRulesSchema(ma.Schema):
    slots = ma.fields.List(ma.fields.Nested(SlotSchema), validate=ma.validate.Length(max=336),
                           metadata={"description": "empty: the platform's best times"})
    timezone = ma.fields.String(allow_none=True, validate=ma.validate.Length(max=64),
                                metadata={"description": "the account's own zone; null: the workspace's"})
    min_gap_minutes = ma.fields.Integer(validate=ma.validate.Range(min=0, max=7 * 24 * 60))
    max_per_day = ma.fields.Integer(allow_none=True, validate=ma.validate.Range(min=1, max=1000))
    blackout_dates = ma.fields.List(ma.fields.Date(), validate=ma.validate.Length(max=1000))


class QueueOutSchema(ma.Schema):
    account_id = ma.fields.Integer()
    slots = ma.fields.List(ma.fields.Dict(), metadata={"description": "the account's own slots"})
    effective_slots = ma.fields.List(ma.fields.Dict(), metadata={
        "description": "the slots the queue uses: the account's, else the platform's best times"})
    slots_source = ma.fields.String(metadata={"description": "account, platform or none"})
    timezone = ma.fields.String(metadata={"description": "the zone the slots are read in"})
    min_gap_minutes = ma.fields.Integer()
    max_per_day = ma.fields.Integer(allow_none=True)
    blackout_dates = ma.fields.List(ma.fields.String())
    next_free_slot = UTCDateTime(allow_none=True)


class AfterArgs(ma.Schema):
    after = WhenField(metadata={"description": "ISO 8601; default now"})


class CheckArgs(ma.Schema):
    at = WhenField(required=True)
    exclude_publication = ma.fields.Integer(metadata={
        "description": "leave this publication out (when checking a reschedule)"})


class CheckSchema(ma.Schema):
    at = UTCDateTime()
    free = ma.fields.Boolean()
    conflicts = ma.fields.List(ma.fields.Dict())


class NextSlotSchema(ma.Schema):
    account_id = ma.fields.Integer()
    at = UTCDateTime()
    local = ma.fields.String()


class AddToQueueSchema(ma.Schema):
    account_ids = ma.fields.List(ma.fields.Integer(strict=True), required=True,
                                 validate=ma.validate.Length(min=1, max=100))
    after = WhenField(metadata={"description": "only slots after this time; default now"})
    retry = ma.fields.Nested(RetryPolicySchema)


class SpreadSchema(ma.Schema):
    post_ids = ma.fields.List(ma.fields.Integer(strict=True), required=True,
                              validate=ma.validate.Length(min=1, max=500))
    account_ids = ma.fields.List(ma.fields.Integer(strict=True), required=True,
                                 validate=ma.validate.Length(min=1, max=100))
    start = WhenField(required=True)
    end = WhenField(required=True)
    retry = ma.fields.Nested(RetryPolicySchema)


def _out(pm, acc):
    rules = slots.rules_for(pm, acc)
    try:
        nxt = slots.next_free(pm, acc) if rules.slots else None
    except ValidationError:  # no free slot within a year: shown as null
        nxt = None
    return {"account_id": acc.id, "slots": acc.slots or [],
            "effective_slots": [{"weekday": d, "time": t.strftime("%H:%M")} for d, t in rules.slots],
            "slots_source": rules.source, "timezone": rules.tz,
            "min_gap_minutes": (acc.min_gap or 0) // 60, "max_per_day": acc.max_per_day,
            "blackout_dates": acc.blackout_dates or [], "next_free_slot": nxt}


@blp.route("/accounts/<int:account_id>")
class AccountQueue(MethodView):
    @blp.response(200, QueueOutSchema)
    def get(self, account_id):
        """The account's slots, rules and next free slot."""
        return _out(runtime().pm, accounts.get(g.workspace.id, account_id))

    @blp.arguments(QueueRulesSchema)
    @blp.response(200, QueueOutSchema)
    def put(self, data, account_id):
        """Set the given rules (fields left out keep their value)."""
        rt = runtime()
        acc = accounts.set_queue_rules(accounts.get(g.workspace.id, account_id), **data)
        return _out(rt.pm, acc)


@blp.route("/accounts/<int:account_id>/next-slot")
class NextSlot(MethodView):
    @blp.arguments(AfterArgs, location="query")
    @blp.response(200, NextSlotSchema)
    def get(self, args, account_id):
        """The next free slot (422 when the account has no slots or none free within a year)."""
        rt = runtime()
        acc = accounts.get(g.workspace.id, account_id)
        at = slots.next_free(rt.pm, acc, workspace_time(args.get("after"), "after"))
        return {"account_id": acc.id, "at": at,
                "local": at.astimezone(zone(slots.rules_for(rt.pm, acc).tz)).isoformat()}


@blp.route("/accounts/<int:account_id>/check")
class Check(MethodView):
    @blp.arguments(CheckArgs, location="query")
    @blp.response(200, CheckSchema)
    def get(self, args, account_id):
        """Is there a post at this time? The conflicts a post at ``at`` would have."""
        rt = runtime()
        at = workspace_time(args["at"], "at")
        found = slots.check(rt.pm, accounts.get(g.workspace.id, account_id), at,
                            exclude_publication=args.get("exclude_publication"))
        return {"at": at, "free": not found, "conflicts": found}


@blp.route("/posts/<int:post_id>")
class AddToQueue(MethodView):
    @blp.arguments(AddToQueueSchema)
    @blp.response(201, PublicationSchema(many=True))
    def post(self, data, post_id):
        """Add a post to the queue: each account's next free slot, all or none."""
        rt = runtime()
        post = posts.get(g.workspace.id, post_id)
        return publications.queue(rt.config, rt.pm, g.workspace.id, post, data["account_ids"],
                                  after=workspace_time(data.get("after"), "after"),
                                  retry=data.get("retry"))


@blp.route("/spread")
class Spread(MethodView):
    @blp.arguments(SpreadSchema)
    @blp.response(201, PublicationSchema(many=True))
    def post(self, data):
        """Space the posts, in order, evenly across ``start``–``end`` on each account's free slots."""
        rt = runtime()
        chosen = [posts.get(g.workspace.id, pid) for pid in data["post_ids"]]
        return publications.spread(rt.config, rt.pm, g.workspace.id, chosen, data["account_ids"],
                                   workspace_time(data["start"], "start"),
                                   workspace_time(data["end"], "end"), retry=data.get("retry"))
