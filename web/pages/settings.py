"""Settings: the workspace, the plugins loaded, and API tokens (create, shown once; list; revoke)."""
from __future__ import annotations

from flask import Blueprint, flash, g, redirect, render_template, request, url_for

from schedulerx import auth as core_auth
from schedulerx.errors import SchedulerXError
from schedulerx.models import ApiToken, User

from .helpers import rt

bp = Blueprint("settings", __name__)


def _render(new_token: str | None = None, error: SchedulerXError | None = None, form=None):
    pm = rt().pm
    tokens = (ApiToken.select(ApiToken, User).join(User)
              .where(ApiToken.workspace == g.workspace.id).order_by(ApiToken.id.desc()))
    body = render_template("pages/settings.html", tokens=list(tokens), new_token=new_token,
                           plugins=pm.plugin_info(), plugin_errors=pm.load_errors,
                           form=form or {}, error=error.message if error else None,
                           errors=error.errors if error else {})
    return body, (error.status if error else 200)


@bp.route("/settings")
def index():
    return _render()


@bp.route("/settings/tokens", methods=["POST"])
def create_token():
    try:
        _row, plain = core_auth.create_token(g.user, g.workspace, request.form.get("name", ""))
    except SchedulerXError as exc:
        return _render(error=exc, form=request.form)
    # Rendered, not redirected: the secret exists only in this answer and is never stored.
    body, status = _render(new_token=plain)
    return body, status, {"Cache-Control": "no-store"}


@bp.route("/settings/tokens/<int:token_id>/revoke", methods=["POST"])
def revoke_token(token_id: int):
    row = core_auth.revoke_token(g.workspace.id, token_id)
    flash(f"Token “{row.name}” revoked.")
    return redirect(url_for("settings.index"))
