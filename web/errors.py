"""The one place for errors: the API answers JSON with the DESIGN.md body, pages answer HTML."""
from __future__ import annotations

from flask import render_template, request
from werkzeug.exceptions import HTTPException

from schedulerx.errors import SchedulerXError

# HTTP status → error_code for errors raised by Flask, webargs or abort().
CODES = {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found",
         405: "method_not_allowed", 409: "conflict", 413: "too_large",
         415: "unsupported_media_type", 422: "validation_error", 429: "rate_limited",
         500: "internal_error"}


def is_api_request() -> bool:
    return request.path.startswith("/api/")


def body(status: int, message: str, error_class: str, errors=None, code: str | None = None) -> dict:
    return {"error_code": code or CODES.get(status, "error"), "error_message": message,
            "error_class": error_class, "errors": errors or {}}


def handle_http(error: HTTPException):
    if not is_api_request():
        if error.code in (401,):
            from flask import redirect, url_for
            return redirect(url_for("pages.login", next=request.full_path))
        return render_template("error.html", error=error), error.code
    data = getattr(error, "data", None) or {}
    errors = data.get("errors") or data.get("messages") or {}
    # webargs nests by location ({"json": {...}}); callers want the field names.
    if isinstance(errors, dict) and set(errors) <= {"json", "query", "form", "files", "headers", "view_args"}:
        merged = {}
        for part in errors.values():
            merged.update(part if isinstance(part, dict) else {"_": part})
        errors = merged
    message = data.get("message") or error.description or error.name
    if error.code == 422 and errors and not data.get("message"):
        message = "the request has invalid fields: " + ", ".join(map(str, errors))
    headers = data.get("headers") or {}
    return body(error.code, message, type(error).__name__, errors), error.code, headers


def handle_domain(error: SchedulerXError):
    if not is_api_request():
        return render_template("error.html", error=error), error.status
    return body(error.status, error.message, type(error).__name__, error.errors, error.code), error.status


def register(app) -> None:
    app.register_error_handler(HTTPException, handle_http)
    app.register_error_handler(SchedulerXError, handle_domain)
