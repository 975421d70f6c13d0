"""The REST API under /api/v1: one flask-smorest Blueprint per resource module."""
from __future__ import annotations

from importlib import import_module

from flask_smorest import Api

from schedulerx import __version__

from ..auth import public
from ..errors import handle_http
from .schemas import ErrorSchema, UTCDateTime

#: Resource modules; each defines ``blp``.
RESOURCES = ("health", "status", "workspace", "tokens", "media", "posts", "publications",
             "accounts", "platforms", "events", "queue", "schedules", "calendar", "batches",
             "stats", "ai")


class SchedulerXApi(Api):
    ERROR_SCHEMA = ErrorSchema

    def handle_http_exception(self, error):
        # flask-smorest answers every HTTP error with JSON, pages too: route
        # through the one handler that tells API paths from pages.
        return handle_http(error)


def swagger_asset(filename):
    """Swagger UI's files, shipped by the swagger-ui-bundle package (no CDN)."""
    import swagger_ui_bundle
    from flask import send_from_directory
    return send_from_directory(swagger_ui_bundle.swagger_ui_path, filename)


def register_api(app) -> None:
    app.config.update(
        API_TITLE="SchedulerX API",
        API_VERSION=__version__,
        OPENAPI_VERSION="3.0.3",
        OPENAPI_URL_PREFIX="/api/v1",
        OPENAPI_JSON_PATH="openapi.json",
        OPENAPI_SWAGGER_UI_PATH="docs",
        OPENAPI_SWAGGER_UI_URL="/api/v1/docs-assets/",
    )
    api = SchedulerXApi(app, spec_kwargs={"components": {"securitySchemes": {
        "bearer": {"type": "http", "scheme": "bearer"},
        "session": {"type": "apiKey", "in": "cookie", "name": "session"}}},
        "security": [{"bearer": []}, {"session": []}]})
    api.register_field(UTCDateTime, "string", "date-time")
    app.add_url_rule("/api/v1/docs-assets/<path:filename>", "swagger_assets", public(swagger_asset))
    for name in RESOURCES:
        module = import_module(f"{__name__}.{name}")
        # Blueprint names are app-wide and the pages use the plain ones ("media",
        # "accounts"): API endpoints are "api_<resource>.<View>".
        api.register_blueprint(module.blp, name=f"api_{module.blp.name}",
                               url_prefix=f"/api/v1/{module.blp.url_prefix_name}")
    app.extensions["schedulerx_api"] = api
