"""``create_app``: configuration, extensions, blueprints, plugin routes. Done."""
from __future__ import annotations

from datetime import timedelta

from flask import Flask
from flask_wtf.csrf import CSRFProtect
from werkzeug.routing import IntegerConverter

from schedulerx.runtime import Runtime, bootstrap

from . import auth, errors, input_guard, ratelimit
from .api import register_api
from .pages import register_pages

SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
}
#: Pages load only their own files: no inline script or style anywhere in the
#: templates, so nothing injected into a page can run. (Swagger UI under /api/v1/docs
#: needs an inline script; API paths get no page CSP.)
PAGE_CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
            "media-src 'self' blob:; connect-src 'self'; object-src 'none'; base-uri 'self'; "
            "form-action 'self'; frame-ancestors 'none'")


class RowIdConverter(IntegerConverter):
    """``<int:…>`` in every route: an id past the ids' range matches nothing (a 404),
    instead of overflowing the database's integer (a 500)."""

    def __init__(self, map, fixed_digits=0, min=None, max=2**31 - 1, signed=False):
        super().__init__(map, fixed_digits=fixed_digits, min=min, max=max, signed=signed)


def create_app(runtime: Runtime | None = None, **flask_config) -> Flask:
    rt = runtime or bootstrap()
    app = Flask(__name__)
    app.url_map.converters["int"] = RowIdConverter  # before any route is added
    app.config.update(
        SECRET_KEY=rt.config.secret_key,
        MAX_CONTENT_LENGTH=rt.config.max_upload_mb * 1024 * 1024 + 1024 * 1024,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        PERMANENT_SESSION_LIFETIME=timedelta(days=14),
        # CSRF is checked in auth.load_identity: for sessions, not for bearer tokens.
        WTF_CSRF_CHECK_DEFAULT=False,
        WTF_CSRF_TIME_LIMIT=None,
    )
    app.config.update(flask_config)
    app.extensions["schedulerx"] = rt
    CSRFProtect(app)
    errors.register(app)
    register_api(app)
    register_pages(app)
    from . import public_media  # imported here: it needs this module's ``runtime``
    app.register_blueprint(public_media.bp)
    _register_plugin_routes(app, rt)
    app.before_request(input_guard.refuse_unstorable)
    app.before_request(auth.load_identity)
    ratelimit.install(app, rt.config)  # after load_identity: keyed on who is asking

    @app.after_request
    def security_headers(response):
        for k, v in SECURITY_HEADERS.items():
            response.headers.setdefault(k, v)
        if not errors.is_api_request():
            response.headers.setdefault("Content-Security-Policy", PAGE_CSP)
        return response

    @app.teardown_appcontext
    def close_db(exc):
        # Waitress serves from a thread pool: give the connection back per request.
        from schedulerx.db import database
        if not database.is_closed() and not database.in_transaction():
            database.close()

    return app


def _register_plugin_routes(app: Flask, rt: Runtime) -> None:
    for routes in rt.pm.hook.register_routes():
        for route in routes or ():
            view = route.view
            if route.public:
                view = auth.public(view)
            app.add_url_rule(route.rule, endpoint=f"plugin.{route.endpoint}", view_func=view,
                             methods=list(route.methods))


def runtime() -> Runtime:
    from flask import current_app
    return current_app.extensions["schedulerx"]
