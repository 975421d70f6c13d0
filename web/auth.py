"""Who is asking: a bearer token (API clients) or a session (pages, and the pages' own API calls).

Everything needs auth except the endpoints marked ``public``. A session-authenticated
request that changes state must carry the CSRF token; a bearer request carries no
cookies, so it needs none.
"""
from __future__ import annotations

from functools import wraps

from flask import current_app, g, redirect, request, session, url_for
from flask_wtf.csrf import CSRFError

from schedulerx import auth as core_auth
from schedulerx.errors import Unauthorized

from .errors import body, is_api_request

UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}
#: Endpoints anyone may call (plugins add theirs through register_routes(public=True)).
PUBLIC = {"static", "pages.login", "pages.setup"}


def public(view):
    """Mark a view as needing no login."""
    view.schedulerx_public = True
    return view


def _is_public() -> bool:
    if request.endpoint is None:  # 404s: let the router answer
        return True
    if request.endpoint in PUBLIC:
        return True
    view = current_app.view_functions.get(request.endpoint)
    return bool(getattr(view, "schedulerx_public", False) or getattr(getattr(view, "view_class", None), "schedulerx_public", False))


def load_identity() -> None:
    """before_request: set g.user, g.workspace, g.role, g.token or refuse."""
    g.user = g.workspace = g.token = g.role = None
    header = request.headers.get("Authorization", "")
    csrf = current_app.extensions["csrf"]
    if header.lower().startswith("bearer ") and is_api_request():
        try:
            token = core_auth.token_owner(header[7:].strip())
        except Unauthorized as exc:
            return body(401, exc.message, "Unauthorized"), 401, {"WWW-Authenticate": "Bearer"}
        g.token, g.user, g.workspace = token, token.user, token.workspace
        g.role = core_auth.membership(token.user_id, token.workspace_id).role
        return _viewer_guard()
    if request.method in UNSAFE:
        try:
            csrf.protect()
        except CSRFError as exc:
            if is_api_request():
                return body(400, f"CSRF check failed: {exc.description}", "CSRFError",
                            code="csrf_failed"), 400
            raise
    user_id = session.get("user_id")
    if user_id is not None:
        try:
            m = core_auth.membership(user_id, session.get("workspace_id"))
        except Unauthorized:
            session.clear()
        else:
            if m.user.is_active:
                g.user, g.workspace, g.role = m.user, m.workspace, m.role
                return _viewer_guard()
    if _is_public():
        return None
    if is_api_request():
        return body(401, "authentication required: send 'Authorization: Bearer <token>'",
                    "Unauthorized"), 401, {"WWW-Authenticate": "Bearer"}
    return redirect(url_for("pages.login", next=request.full_path.rstrip("?")))


def _viewer_guard():
    """Viewers read; they change nothing."""
    if g.role == "viewer" and request.method in UNSAFE and not _is_public() \
            and request.endpoint != "pages.logout":
        if is_api_request():
            return body(403, "viewers cannot change anything", "Forbidden"), 403
        from flask import abort
        abort(403)
    return None


def login_session(user) -> None:
    m = core_auth.membership(user.id)
    session.clear()
    session["user_id"] = user.id
    session["workspace_id"] = m.workspace_id
    session.permanent = True


def require_role(*roles):
    """Refuse (403) callers whose role in the workspace is not one of ``roles``."""
    def deco(fn):
        @wraps(fn)
        def wrapper(*a, **kw):
            if g.role not in roles:
                from schedulerx.errors import Forbidden
                raise Forbidden(f"your role ({g.role}) cannot do this")
            return fn(*a, **kw)
        return wrapper
    return deco
