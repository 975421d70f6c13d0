"""Publications (one post on one account at one time): list, inspect, and the user actions."""
from __future__ import annotations

import marshmallow as ma
from flask import g
from flask.views import MethodView
from flask_smorest import Blueprint

from schedulerx import metrics, publications, states
from schedulerx.errors import ValidationError
from schedulerx.retry import RetryPolicy

from ..app import runtime
from ..pagination import PageArgs, page_schema, paginate
from .schemas import RetryPolicySchema, UTCDateTime, WhenField, row_id, workspace_time

blp = Blueprint("publications", __name__, description="Publications and their state machine")
blp.url_prefix_name = "publications"

#: URL spelling of each user action (mark-published → states.ACTIONS["mark_published"]).
ACTION_PATHS = {name.replace("_", "-"): name for name in states.ACTIONS}


class PublicationErrorSchema(ma.Schema):
    code = ma.fields.String(allow_none=True)
    message = ma.fields.String(allow_none=True)


class PublicationSchema(ma.Schema):
    id = ma.fields.Integer()
    post_id = ma.fields.Integer()
    account_id = ma.fields.Integer()
    status = ma.fields.String(metadata={"enum": list(states.ALL)})
    scheduled_at = UTCDateTime()
    timezone = ma.fields.String(metadata={"description": "the zone the time was chosen in"})
    attempts = ma.fields.Integer(metadata={"description": "tries made so far"})
    max_attempts = ma.fields.Integer()
    retry = ma.fields.Nested(RetryPolicySchema)
    next_attempt_at = UTCDateTime(allow_none=True)
    remote_id = ma.fields.String(allow_none=True)
    remote_url = ma.fields.String(allow_none=True)
    error = ma.fields.Nested(PublicationErrorSchema, allow_none=True,
                             metadata={"description": "the last error, null when none"})
    published_at = UTCDateTime(allow_none=True)
    created_at = UTCDateTime()
    updated_at = UTCDateTime()
    idempotency_key = ma.fields.String()

    def get_attribute(self, obj, attr, default):
        # The row stores the policy and the error as flat columns; the API nests them.
        if attr == "retry":
            return RetryPolicy.of(obj)
        if attr == "error":
            if obj.error_code is None and obj.error_message is None:
                return None
            return {"code": obj.error_code, "message": obj.error_message}
        return super().get_attribute(obj, attr, default)


class AttemptSchema(ma.Schema):
    number = ma.fields.Integer()
    started_at = UTCDateTime()
    finished_at = UTCDateTime(allow_none=True)
    outcome = ma.fields.String(metadata={"description": "running, published, retry, failed or unknown"})
    error_code = ma.fields.String(allow_none=True)
    error_message = ma.fields.String(allow_none=True)
    raw_response = ma.fields.String(allow_none=True)
    worker = ma.fields.String()


class PublicationDetailSchema(PublicationSchema):
    attempt_log = ma.fields.List(ma.fields.Nested(AttemptSchema),
                                 metadata={"description": "every try, oldest first"})


class PublicationListArgs(PageArgs):
    status = ma.fields.String(validate=ma.validate.OneOf(states.ALL))
    account_id = row_id()
    post_id = row_id()
    upcoming_days = ma.fields.Float(validate=ma.validate.Range(min=0, max=366), metadata={
        "description": "only what is still to go out within this many days"})


class ActionSchema(ma.Schema):
    scheduled_at = WhenField(metadata={"description": "reschedule: the new time (ISO 8601)"})
    remote_url = ma.fields.Url(schemes=("http", "https"), validate=ma.validate.Length(max=2000),
                               metadata={"description": "mark-published: where the post is"})


@blp.route("")
class Publications(MethodView):
    @blp.arguments(PublicationListArgs, location="query")
    @blp.response(200, page_schema(PublicationSchema))
    def get(self, args):
        """List publications, soonest first, by status, account, post or the next days."""
        page, page_size = args.pop("page"), args.pop("page_size")
        return paginate(publications.listing(g.workspace.id, **args), page, page_size)


@blp.route("/<int:publication_id>")
class Publication(MethodView):
    @blp.response(200, PublicationDetailSchema)
    def get(self, publication_id):
        """One publication with its retry policy, next attempt and every attempt made."""
        pub = publications.get(g.workspace.id, publication_id)
        pub.attempt_log = publications.attempts(pub)
        return pub


_ACTIONS_RULE = ", ".join(f'"{path}"' for path in ACTION_PATHS)


@blp.route(f"/<int:publication_id>/<any({_ACTIONS_RULE}):action>")
class PublicationAction(MethodView):
    @blp.arguments(ActionSchema)
    @blp.response(200, PublicationSchema)
    def post(self, data, publication_id, action):
        """Act on a publication: reschedule, cancel, force, pause, resume, retry, mark-published,
        mark-failed.

        Refused (409) when the publication's status does not allow the action.
        """
        rt = runtime()
        action = ACTION_PATHS[action]
        if "scheduled_at" in data and action != "reschedule":
            raise ValidationError("scheduled_at only goes with reschedule", field="scheduled_at")
        if "remote_url" in data and action != "mark_published":
            raise ValidationError("remote_url only goes with mark-published", field="remote_url")
        pub = publications.get(g.workspace.id, publication_id)
        at = workspace_time(data.get("scheduled_at"), "scheduled_at")
        pub = publications.act(rt.pm, pub, action, at=at, remote_url=data.get("remote_url"))
        if action == "force":
            # Due now: ask for a tick so it goes without waiting for the clock.
            rt.pm.hook.dispatch_tick()
        return pub


class MetricsSchema(ma.Schema):
    fetched_at = UTCDateTime()
    views = ma.fields.Integer(allow_none=True)
    likes = ma.fields.Integer(allow_none=True)
    comments = ma.fields.Integer(allow_none=True)
    shares = ma.fields.Integer(allow_none=True)
    raw = ma.fields.Raw(metadata={"description": "the platform's answer"})


@blp.route("/<int:publication_id>/metrics")
class PublicationMetrics(MethodView):
    @blp.arguments(PageArgs, location="query")
    @blp.response(200, page_schema(MetricsSchema))
    def get(self, args, publication_id):
        """The post's numbers as read from the platform, newest reading first."""
        pub = publications.get(g.workspace.id, publication_id)
        return paginate(metrics.history(pub), args["page"], args["page_size"])

    @blp.response(201, MetricsSchema)
    def post(self, publication_id):
        """Read the published post's views, likes, comments and shares from the platform now.

        409 when it is not published, 422 when the platform offers no numbers,
        502 when the platform could not be asked.
        """
        rt = runtime()
        return metrics.collect(rt.config, rt.pm, publications.get(g.workspace.id, publication_id))
