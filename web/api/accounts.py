"""Connected platform accounts. Secrets go in, never out: answers carry ``has_credentials``."""
from __future__ import annotations

import marshmallow as ma
from flask import g
from flask.views import MethodView
from flask_smorest import Blueprint

from schedulerx import accounts, oauth, quotas

from ..app import runtime
from ..pagination import PageArgs, page_schema, paginate
from .schemas import RetryPolicySchema, UTCDateTime

blp = Blueprint("accounts", __name__, description="Connected platform accounts")
blp.url_prefix_name = "accounts"


class AccountSchema(ma.Schema):
    id = ma.fields.Integer()
    platform = ma.fields.String()
    display_name = ma.fields.String()
    settings = ma.fields.Dict(metadata={"description": "the non-secret settings"})
    has_credentials = ma.fields.Function(lambda a: bool(a.credentials), metadata={
        "description": "whether secret settings are stored (they are never shown)"})
    timezone = ma.fields.String(allow_none=True)
    health = ma.fields.String(metadata={"enum": list(accounts.HEALTH)})
    health_message = ma.fields.String()
    platform_info = ma.fields.Dict(metadata={
        "description": "what the platform told when connecting (ids, handle, limits)"})
    quotas = ma.fields.Method("_quotas", metadata={
        "description": "each daily quota today (UTC): limit, used, planned, left"})
    token_expires_at = UTCDateTime(allow_none=True)
    slots = ma.fields.List(ma.fields.Dict(), metadata={"description": "set through /queue/accounts/{id}"})
    min_gap_minutes = ma.fields.Function(lambda a: (a.min_gap or 0) // 60)
    max_per_day = ma.fields.Integer(allow_none=True)
    blackout_dates = ma.fields.List(ma.fields.String())
    retry_policy = ma.fields.Dict(allow_none=True, metadata={
        "description": "the default retry policy of new publications on this account"})
    created_at = UTCDateTime()
    updated_at = UTCDateTime()

    def _quotas(self, account):
        cls = runtime().pm.publishers().get(account.platform)
        return quotas.status(cls, account) if cls is not None else []


class ConnectSchema(ma.Schema):
    display_name = ma.fields.String(validate=ma.validate.Length(min=1, max=200), metadata={
        "description": "default: the name the platform tells"})
    account_id = ma.fields.Integer(strict=True, metadata={
        "description": "reconnect this account instead of adding one"})


class ConnectStartSchema(ma.Schema):
    authorize_url = ma.fields.String(metadata={
        "description": "open in the browser of the same user, signed in to SchedulerX"})
    state = ma.fields.String()
    redirect_uri = ma.fields.String(metadata={"description": "register this with the platform"})
    expires_at = UTCDateTime()


class AccountCreateSchema(ma.Schema):
    platform = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=64),
                                metadata={"description": "a loaded publisher (see /platforms)"})
    display_name = ma.fields.String(validate=ma.validate.Length(min=1, max=200), metadata={
        "description": "required unless the platform tells the account's name"})
    settings = ma.fields.Dict(load_default=dict, metadata={
        "description": "validated by the platform's settings schema; secrets included"})
    timezone = ma.fields.String(allow_none=True, validate=ma.validate.Length(max=64))


class AccountPatchSchema(ma.Schema):
    display_name = ma.fields.String(validate=ma.validate.Length(min=1, max=200))
    settings = ma.fields.Dict(metadata={
        "description": "merged into the stored settings; a secret left out keeps its value"})
    timezone = ma.fields.String(allow_none=True, validate=ma.validate.Length(max=64),
                                metadata={"description": "null: use the workspace's"})
    health = ma.fields.String(validate=ma.validate.OneOf(accounts.HEALTH))
    retry_policy = ma.fields.Nested(RetryPolicySchema, allow_none=True, metadata={
        "description": "default for new publications; null: the built-in default"})


class AccountListArgs(PageArgs):
    platform = ma.fields.String(validate=ma.validate.Length(min=1, max=64))


@blp.route("")
class Accounts(MethodView):
    @blp.arguments(AccountListArgs, location="query")
    @blp.response(200, page_schema(AccountSchema))
    def get(self, args):
        """List the workspace's accounts by name."""
        return paginate(accounts.listing(g.workspace.id, platform=args.get("platform")),
                        args["page"], args["page_size"])

    @blp.arguments(AccountCreateSchema)
    @blp.response(201, AccountSchema)
    def post(self, data):
        """Connect an account; settings are checked against the platform's schema (422)."""
        rt = runtime()
        return accounts.create(rt.config, rt.pm, g.workspace.id, **data)


@blp.route("/<int:account_id>")
class Account(MethodView):
    @blp.response(200, AccountSchema)
    def get(self, account_id):
        """One account (without its secrets)."""
        return accounts.get(g.workspace.id, account_id)

    @blp.arguments(AccountPatchSchema)
    @blp.response(200, AccountSchema)
    def patch(self, data, account_id):
        """Rename, change settings or timezone, or set health (e.g. disable)."""
        rt = runtime()
        if "timezone" in data and data["timezone"] is None:
            data["timezone"] = ""  # the core reads "" as "clear", None as "leave alone"
        return accounts.update(rt.config, rt.pm, accounts.get(g.workspace.id, account_id), **data)

    @blp.response(204)
    def delete(self, account_id):
        """Delete the account and its publications; refused (409) while one is being published."""
        accounts.delete(accounts.get(g.workspace.id, account_id))


@blp.route("/connect/<string:platform>")
class Connect(MethodView):
    @blp.arguments(ConnectSchema)
    @blp.response(201, ConnectStartSchema)
    def post(self, data, platform):
        """Start connecting an OAuth platform: the authorize URL to open in a browser.

        The platform sends the browser back to ``/accounts/connect/{platform}/callback``,
        which must be opened by the same user, signed in; the account is then stored.
        """
        rt = runtime()
        url, row = oauth.begin(rt.config, rt.pm, workspace_id=g.workspace.id, user_id=g.user.id,
                               platform=platform, account_id=data.get("account_id"),
                               display_name=data.get("display_name", ""))
        return {"authorize_url": url, "state": row.state, "redirect_uri": row.redirect_uri,
                "expires_at": row.expires_at}
