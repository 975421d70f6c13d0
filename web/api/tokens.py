"""API tokens: create (shown once), list, revoke."""
from __future__ import annotations

import marshmallow as ma
from flask import g
from flask.views import MethodView
from flask_smorest import Blueprint

from schedulerx import auth as core_auth
from schedulerx.models import ApiToken

from ..pagination import PageArgs, page_schema, paginate
from .schemas import UTCDateTime

blp = Blueprint("tokens", __name__, description="API tokens of the workspace")
blp.url_prefix_name = "tokens"


class TokenSchema(ma.Schema):
    id = ma.fields.Integer(dump_only=True)
    name = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=200))
    prefix = ma.fields.String(dump_only=True)
    user_id = ma.fields.Integer(dump_only=True)
    created_at = UTCDateTime(dump_only=True)
    last_used_at = UTCDateTime(dump_only=True, allow_none=True)
    revoked_at = UTCDateTime(dump_only=True, allow_none=True)


class NewTokenSchema(TokenSchema):
    token = ma.fields.String(dump_only=True, metadata={"description": "shown once; store it now"})


@blp.route("")
class Tokens(MethodView):
    @blp.arguments(PageArgs, location="query")
    @blp.response(200, page_schema(TokenSchema))
    def get(self, args):
        """List the workspace's API tokens (never their secret)."""
        q = ApiToken.select().where(ApiToken.workspace == g.workspace.id).order_by(ApiToken.id.desc())
        return paginate(q, args["page"], args["page_size"])

    @blp.arguments(TokenSchema)
    @blp.response(201, NewTokenSchema)
    def post(self, data):
        """Create a token acting as you in this workspace. The secret is in this answer only."""
        row, plain = core_auth.create_token(g.user, g.workspace, data["name"])
        row.token = plain
        return row


@blp.route("/<int:token_id>")
class Token(MethodView):
    @blp.response(200, TokenSchema)
    def delete(self, token_id):
        """Revoke a token; it stops working at once."""
        return core_auth.revoke_token(g.workspace.id, token_id)
