"""Liveness of the web process and its database. No auth."""
from __future__ import annotations

import marshmallow as ma
from flask.views import MethodView
from flask_smorest import Blueprint

from schedulerx.models import Workspace

from ..auth import public

blp = Blueprint("health", __name__, description="Liveness")
blp.url_prefix_name = "health"


class HealthSchema(ma.Schema):
    status = ma.fields.String()
    database = ma.fields.Boolean()


@blp.route("")
class Health(MethodView):
    schedulerx_public = True

    @blp.response(200, HealthSchema)
    @blp.alt_response(503, schema=HealthSchema)
    def get(self):
        """Is the web process up and the database reachable?"""
        try:
            Workspace.select().limit(1).count()
            return {"status": "ok", "database": True}
        except Exception:
            return {"status": "degraded", "database": False}, 503
