"""Accounts: the connected platform accounts, and a form to connect one.

The settings part of the form is rendered from the publisher plugin's marshmallow
``settings_schema``; the core validates it (``accounts.create``), this module only
turns schema fields into inputs and form values back into a settings dict.
"""
from __future__ import annotations

import json

from flask import Blueprint, flash, g, redirect, render_template, request, url_for

from schedulerx import accounts, oauth, quotas
from schedulerx.errors import SchedulerXError, ValidationError
from schedulerx.models import Account

from ..api.platforms import settings_form
from .helpers import rt

bp = Blueprint("accounts", __name__)


#: JSON Schema type (and format) of a setting → the input the form shows.
_KINDS = {"boolean": "checkbox", "integer": "integer", "number": "number",
          "array": "list", "object": "json", "email": "email", "uri": "url", "url": "url"}


def settings_fields(publisher_cls) -> list[dict]:
    """The inputs for a publisher's settings schema, in declaration order.

    Built on the API's description of the same schema (one converter, apispec's).
    """
    out = []
    for f in settings_form(publisher_cls):
        kind = "select" if f["enum"] else _KINDS.get(f["format"]) or _KINDS.get(f["type"], "text")
        out.append({
            "key": f["name"], "label": f["label"], "help": f["description"],
            "required": f["required"], "kind": kind, "choices": f["enum"] or [],
            "secret": f["secret"], "default": f["default"],
            "input": f"s.{publisher_cls.name}.{f['name']}",
        })
    return out


def settings_from_form(publisher_cls, form) -> dict:
    """Form values → the settings dict the schema loads; a blank optional input is left out."""
    settings, problems = {}, {}
    for f in settings_fields(publisher_cls):
        if f["kind"] == "checkbox":
            settings[f["key"]] = f["input"] in form
            continue
        raw = form.get(f["input"], "").strip()
        if raw == "":
            continue
        if f["kind"] == "list":
            settings[f["key"]] = [part.strip() for part in raw.split(",") if part.strip()]
        elif f["kind"] == "json":
            try:
                settings[f["key"]] = json.loads(raw)
            except ValueError:
                problems[f["key"]] = ["not valid JSON"]
        else:
            settings[f["key"]] = raw
    if problems:
        raise ValidationError("account settings are invalid", errors={"settings": problems})
    return settings


def _render(error: SchedulerXError | None = None, form=None):
    publishers = rt().pm.publishers()
    rows = list(Account.select().where(Account.workspace == g.workspace.id)
                .order_by(Account.display_name))
    quota = {a.id: quotas.status(publishers[a.platform], a) for a in rows if a.platform in publishers}
    body = render_template(
        "pages/accounts.html", accounts=rows, publishers=publishers, quota=quota,
        form_publishers={n: c for n, c in publishers.items() if c.oauth is None},
        fields={name: settings_fields(cls) for name, cls in publishers.items()},
        form=form or {}, error=error.message if error else None,
        errors=error.errors if error else {}, health_values=accounts.HEALTH)
    return (body, error.status) if error else body


@bp.route("/accounts")
def index():
    return _render()


@bp.route("/accounts", methods=["POST"])
def connect():
    r = rt()
    form = request.form
    platform = form.get("platform", "")
    try:
        publisher_cls = r.pm.publisher(platform)
        account = accounts.create(r.config, r.pm, g.workspace.id, platform=platform,
                                  display_name=form.get("display_name", ""),
                                  settings=settings_from_form(publisher_cls, form))
    except SchedulerXError as exc:
        return _render(exc, form)
    flash(f"Connected {account.display_name}.")
    return redirect(url_for("accounts.index"))


@bp.route("/accounts/<int:account_id>/health", methods=["POST"])
def set_health(account_id: int):
    """Disable an account (nothing is scheduled on it) or mark it connected again."""
    r = rt()
    account = accounts.get(g.workspace.id, account_id)
    try:
        accounts.update(r.config, r.pm, account, health=request.form.get("health", ""))
    except SchedulerXError as exc:
        return _render(exc)
    flash(f"{account.display_name} is now {account.health.replace('_', ' ')}.")
    return redirect(url_for("accounts.index"))


def _start_oauth(platform: str, account_id: int | None = None):
    r = rt()
    try:
        url, _row = oauth.begin(r.config, r.pm, workspace_id=g.workspace.id, user_id=g.user.id,
                                platform=platform, account_id=account_id,
                                display_name=request.form.get("oauth_display_name", ""))
    except SchedulerXError as exc:
        return _render(exc, request.form)
    return redirect(url)


@bp.route("/accounts/connect/<platform>", methods=["POST"])
def connect_oauth(platform: str):
    """Send the browser to the platform's sign-in (OAuth 2.0, PKCE where the platform uses it)."""
    return _start_oauth(platform)


@bp.route("/accounts/<int:account_id>/reconnect", methods=["POST"])
def reconnect(account_id: int):
    account = accounts.get(g.workspace.id, account_id)
    return _start_oauth(account.platform, account.id)


@bp.route("/accounts/connect/<platform>/callback")
def oauth_callback(platform: str):
    """The platform sends the browser back here with ``code`` and ``state`` (or ``error``)."""
    r = rt()
    try:
        account = oauth.complete(r.config, r.pm, workspace_id=g.workspace.id, user_id=g.user.id,
                                 platform=platform, state=request.args.get("state", ""),
                                 code=request.args.get("code"),
                                 error=request.args.get("error_description") or request.args.get("error"))
    except SchedulerXError as exc:
        return _render(exc)
    flash(f"Connected {account.display_name}.")
    return redirect(url_for("accounts.index"))
