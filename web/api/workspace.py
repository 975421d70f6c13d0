"""The workspace the caller works in: name, timezone and the misfire policy for one-off posts."""
from __future__ import annotations

import marshmallow as ma
from flask import g
from flask.views import MethodView
from flask_smorest import Blueprint

from schedulerx import workspaces

blp = Blueprint("workspace", __name__, description="The current workspace")
blp.url_prefix_name = "workspace"


class MisfireSchema(ma.Schema):
    policy = ma.fields.String(validate=ma.validate.OneOf(workspaces.MISFIRE_POLICIES), metadata={
        "description": "what happens to a one-off post later than max_lateness"})
    max_lateness = ma.fields.Integer(validate=ma.validate.Range(min=60, max=30 * 86400),
                                     metadata={"description": "seconds"})


class WorkspaceSchema(ma.Schema):
    id = ma.fields.Integer(dump_only=True)
    name = ma.fields.String(validate=ma.validate.Length(min=1, max=200))
    timezone = ma.fields.String(validate=ma.validate.Length(min=1, max=64))
    misfire = ma.fields.Nested(MisfireSchema)

    def get_attribute(self, obj, attr, default):
        if attr == "misfire":
            return workspaces.misfire(obj)
        return super().get_attribute(obj, attr, default)


@blp.route("")
class Workspace(MethodView):
    @blp.response(200, WorkspaceSchema)
    def get(self):
        """Name, timezone and misfire policy."""
        return g.workspace

    @blp.arguments(WorkspaceSchema)
    @blp.response(200, WorkspaceSchema)
    def patch(self, data):
        """Change the name, the timezone or the misfire policy."""
        misfire = data.get("misfire") or {}
        return workspaces.update(g.workspace, name=data.get("name"), timezone=data.get("timezone"),
                                 misfire_policy=misfire.get("policy"),
                                 misfire_max_lateness=misfire.get("max_lateness"))
