"""Rate limits on the API, per token and per workspace (flask-limiter).

Counters live in Redis when the broker is Redis (every web process shares them),
in memory otherwise (the embedded single process). A breach answers 429 with
``Retry-After`` and the standard error body (through ``errors.handle_http``).
"""
from __future__ import annotations

import logging

from flask import g
from flask_limiter import ApplicationLimit, Limiter

from .errors import is_api_request

log = logging.getLogger(__name__)

OFF = {"", "off", "none", "0"}


def storage_uri(config) -> str:
    if config.broker_url.startswith(("redis://", "rediss://")):
        return config.broker_url
    return "memory://"


def _token_key() -> str:
    return f"token:{g.token.id}"


def _workspace_key() -> str:
    return f"workspace:{g.workspace.id}"


def _not_a_token_call() -> bool:
    return not is_api_request() or g.get("token") is None


def _not_a_workspace_call() -> bool:
    return not is_api_request() or g.get("workspace") is None


def install(app, config) -> Limiter | None:
    """Limit authenticated API calls. Call after ``auth.load_identity`` is registered:
    the limits are keyed on the identity it finds."""
    if config.rate_limit.strip().lower() in OFF:
        return None
    limiter = Limiter(
        key_func=_workspace_key,
        app=app,
        application_limits=[
            ApplicationLimit(config.rate_limit, key_function=_token_key, scope="token",
                             exempt_when=_not_a_token_call,
                             error_message=f"too many requests with this token ({config.rate_limit})"),
            ApplicationLimit(config.rate_limit, key_function=_workspace_key, scope="workspace",
                             exempt_when=_not_a_workspace_call,
                             error_message=f"too many requests in this workspace ({config.rate_limit})"),
        ],
        storage_uri=storage_uri(config),
        strategy="sliding-window-counter",
        headers_enabled=True,
        key_prefix="schedulerx",
        # A Redis outage must not take the API down with it: count nothing and serve.
        swallow_errors=True,
    )
    log.debug("rate limit %s per token and per workspace in %s", config.rate_limit,
              storage_uri(config).split("://")[0])
    return limiter
