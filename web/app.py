"""``create_app``: configuration, extensions, blueprints, plugin routes. Done."""
from __future__ import annotations

from datetime import timedelta

from flask import Flask
from flask_wtf.csrf import CSRFProtect

from schedulerx.runtime import Runtime, bootstrap

from . import auth, errors
from .api import register_api
from .pages import register_pages

SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
}


def create_app(runtime: Runtime | None = None, **flask_config) -> Flask:
    rt = runtime or bootstrap()
    app = Flask(__name__)
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
    app.before_request(auth.load_identity)

    @app.after_request
    def security_headers(response):
        for k, v in SECURITY_HEADERS.items():
            response.headers.setdefault(k, v)
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
