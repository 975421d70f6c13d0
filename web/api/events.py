"""The audit trail and logs: what happened, newest first."""
from __future__ import annotations

import marshmallow as ma
from flask import g
from flask.views import MethodView
from flask_smorest import Blueprint

from schedulerx import events

from ..pagination import PageArgs, page_schema, paginate
from .schemas import UTCDateTime, WhenField, row_id, stored_time

blp = Blueprint("events", __name__, description="Audit trail and logs")
blp.url_prefix_name = "events"


class EventSchema(ma.Schema):
    id = ma.fields.Integer()
    time = UTCDateTime()
    level = ma.fields.String(metadata={"enum": list(events.LEVELS)})
    source = ma.fields.String()
    subject_type = ma.fields.String(allow_none=True)
    subject_id = ma.fields.Integer(allow_none=True)
    message = ma.fields.String()
    data = ma.fields.Dict()


class EventListArgs(PageArgs):
    level = ma.fields.String(validate=ma.validate.OneOf(events.LEVELS),
                             metadata={"description": "this level and the more severe ones"})
    source = ma.fields.String(validate=ma.validate.Length(min=1, max=64))
    subject_type = ma.fields.String(validate=ma.validate.Length(min=1, max=32))
    subject_id = row_id()
    since = WhenField(metadata={"description": "at or after (ISO 8601)"})
    until = WhenField(metadata={"description": "before (ISO 8601)"})


@blp.route("")
class Events(MethodView):
    @blp.arguments(EventListArgs, location="query")
    @blp.response(200, page_schema(EventSchema))
    def get(self, args):
        """List events, newest first, by level, source, subject and time."""
        query = events.query(g.workspace.id, level=args.get("level"), source=args.get("source"),
                             subject_type=args.get("subject_type"),
                             subject_id=args.get("subject_id"),
                             since=stored_time(args.get("since"), "since"),
                             until=stored_time(args.get("until"), "until"))
        return paginate(query, args["page"], args["page_size"])
