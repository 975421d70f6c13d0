"""HTTP helpers for publishers built on httpx: one mapping from answers to outcomes.

* ``send`` turns "the connection never opened" into ``TemporaryError`` (nothing
  was sent, a retry is safe) and lets every other transport error out, so the
  engine treats the outcome as unknown and reconciles.
* ``raise_for_answer`` maps a non-2xx answer to the engine's exceptions: 429 →
  ``RateLimited`` with the platform's wait, 5xx/408 → ``TemporaryError``, 401 →
  ``AuthError``, any other 4xx → ``PermanentError`` with the platform's message.
"""
from __future__ import annotations

import time
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime

import httpx

from .publishers import AuthError, PermanentError, RateLimited, TemporaryError

ERROR_TEXT_MAX = 2000
#: Transport errors raised before a byte of the request left: retrying is safe.
NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)


def retry_after_seconds(value: str | None) -> float | None:
    """``Retry-After`` as seconds: a number, or an HTTP date."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError):
        return None


def reset_at_seconds(value: str | None) -> float | None:
    """A reset header as seconds from now: a Unix time (X's ``x-rate-limit-reset``) or an
    ISO 8601 time (Mastodon's ``X-RateLimit-Reset``)."""
    if not value:
        return None
    try:
        return max(0.0, float(value) - time.time())
    except ValueError:
        pass
    try:
        at = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    if at.tzinfo is None:
        at = at.replace(tzinfo=timezone.utc)
    return max(0.0, at.timestamp() - time.time())


def wait_of(response: httpx.Response) -> float | None:
    """How long a 429 asks us to wait: ``Retry-After``, else a Unix-time reset header."""
    wait = retry_after_seconds(response.headers.get("Retry-After"))
    if wait is None:
        for name in ("x-rate-limit-reset", "x-ratelimit-reset", "ratelimit-reset"):
            if name in response.headers:
                wait = reset_at_seconds(response.headers[name])
                break
    return wait


def send(client: httpx.Client, method: str, url: str, *, what: str = "the platform", **kw) -> httpx.Response:
    """``client.request``, with "could not connect" told apart from "outcome unknown"."""
    try:
        return client.request(method, url, **kw)
    except NOT_SENT as exc:
        raise TemporaryError(f"cannot connect to {what}: {exc}", code="connect") from exc


def send_authorized(ctx, client: httpx.Client, method: str, url: str, *, what: str,
                    headers: dict | None = None, **kw) -> httpx.Response:
    """``send`` with the account's bearer token; a 401 refreshes the token once through
    ``ctx.refresh_credentials`` (another worker may already have) and tries again."""
    for attempt in (1, 2):
        answer = send(client, method, url, what=what, **kw, headers={
            **(headers or {}), "Authorization": f"Bearer {ctx.credentials['access_token']}"})
        if answer.status_code != 401 or attempt == 2 or ctx.refresh_credentials is None:
            return answer
        ctx.credentials = ctx.refresh_credentials()
    return answer


def platform_message(response: httpx.Response) -> str:
    """The platform's own words about an error: a JSON ``error``/``detail``/… field, or the text."""
    try:
        data = response.json()
    except ValueError:
        return response.text[:ERROR_TEXT_MAX]
    if isinstance(data, dict):
        for key in ("error_description", "detail", "error", "message", "title"):
            value = data.get(key)
            if isinstance(value, str) and value:
                return value[:ERROR_TEXT_MAX]
            # Google, TikTok, Meta: {"error": {"message": "…", "code": …}}
            if isinstance(value, dict) and isinstance(value.get("message"), str) and value["message"]:
                return value["message"][:ERROR_TEXT_MAX]
        errors = data.get("errors")
        if isinstance(errors, list) and errors and isinstance(errors[0], dict):
            first = errors[0]
            text = first.get("message") or first.get("detail")
            if text:
                return str(text)[:ERROR_TEXT_MAX]
    return response.text[:ERROR_TEXT_MAX]


def raise_for_answer(response: httpx.Response, label: str) -> None:
    """Raise the engine's exception for a non-2xx answer; return for a 2xx."""
    status = response.status_code
    if 200 <= status < 300:
        return
    raw = response.text[:ERROR_TEXT_MAX]
    message = f"{label} answered {status}: {platform_message(response)}"
    if status == 429:
        raise RateLimited(message, retry_after=wait_of(response), raw=raw)
    if status >= 500 or status == 408:
        raise TemporaryError(message, code=f"http_{status}", raw=raw)
    if status == 401:
        raise AuthError(message, raw=raw)
    raise PermanentError(message, code=f"http_{status}", raw=raw)
