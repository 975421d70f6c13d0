"""Scheduler status (heartbeats, queue depth, counts, plugin errors) and "tick now"."""
from __future__ import annotations

import marshmallow as ma
from flask import g
from flask.views import MethodView
from flask_smorest import Blueprint

from schedulerx import events
from schedulerx.status import snapshot

from ..app import runtime

blp = Blueprint("status", __name__, description="Scheduler status")
blp.url_prefix_name = "status"


class StatusSchema(ma.Schema):
    healthy = ma.fields.Boolean()
    clock_alive = ma.fields.Boolean()
    tick_alive = ma.fields.Boolean()
    workers_alive = ma.fields.Boolean()
    heartbeats = ma.fields.List(ma.fields.Dict())
    queue = ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.Integer())
    counts = ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.Integer())
    plugins = ma.fields.List(ma.fields.Dict())
    plugin_errors = ma.fields.List(ma.fields.Dict())
    now = ma.fields.String()


class TickSchema(ma.Schema):
    sent = ma.fields.Boolean()


@blp.route("")
class Status(MethodView):
    @blp.response(200, StatusSchema)
    def get(self):
        """Heartbeats of clock, tick and workers; queue depth; counts by status; plugin errors."""
        rt = runtime()
        return snapshot(rt.config, rt.pm, g.workspace.id)


@blp.route("/tick")
class TickNow(MethodView):
    @blp.response(202, TickSchema)
    def post(self):
        """Run the scheduler now instead of waiting for the clock."""
        sent = bool(runtime().pm.hook.dispatch_tick())
        events.record(g.workspace.id, "user", "asked for a tick now" if sent else
                      "tick requested but no execution plugin is loaded",
                      level="info" if sent else "warning")
        return {"sent": sent}
