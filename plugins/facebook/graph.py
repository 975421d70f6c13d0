"""Meta's Graph API as the Facebook Page and Instagram publishers call it.

Both platforms answer errors the same way — ``{"error": {"message", "type", "code",
"error_subcode", "fbtrace_id"}}`` — and the HTTP status alone does not tell them
apart: a rate limit or a dead token often comes as a plain 400. So the mapping to
the engine's outcomes reads the error *code*:

* 4, 17, 32, 613 (app, user, Page, custom rate limits), 80001/80002 (Page and
  Instagram business-use-case limits), and Instagram's content publishing limit
  (code 9, subcode 2207042) → ``RateLimited``, waiting as long as the
  ``X-Business-Use-Case-Usage`` header estimates (else ``DEFAULT_WAIT``);
* 190 (and 102) — the access token is invalid or expired → ``AuthError``;
* 1, 2, ``is_transient``, a 5xx, or Instagram's "media not ready for publishing"
  (code 9007, subcode 2207027: nothing was published) → ``TemporaryError``;
* anything else → ``PermanentError`` with Meta's own message.

Every call carries ``appsecret_proof`` (HMAC-SHA256 of the token under the app
secret) when the operator gave the secret, as apps with "Require App Secret" must.
"""
from __future__ import annotations

import hashlib
import hmac
import json

import httpx

from schedulerx.publisher_http import ERROR_TEXT_MAX, retry_after_seconds, send
from schedulerx.publishers import AuthError, PermanentError, RateLimited, TemporaryError

TIMEOUT = httpx.Timeout(120.0, connect=10.0)
RATE_LIMIT_CODES = {4, 17, 32, 613, 80001, 80002}
TOKEN_CODES = {102, 190}
TRANSIENT_CODES = {1, 2}
#: Instagram: "the maximum number of posts … published by Content Publishing API"
PUBLISHING_LIMIT = (9, 2207042)
#: Instagram: media_publish before the container finished — nothing was published
NOT_READY = (9007, 2207027)
#: Meta counts use over a rolling hour; without an estimate, look again after this long.
DEFAULT_WAIT = 15 * 60


def appsecret_proof(access_token: str, app_secret: str) -> str:
    return hmac.new(app_secret.encode(), access_token.encode(), hashlib.sha256).hexdigest()


def error_of(response: httpx.Response) -> dict:
    try:
        data = response.json()
    except ValueError:
        return {}
    err = data.get("error") if isinstance(data, dict) else None
    return err if isinstance(err, dict) else {}


def wait_of(response: httpx.Response) -> float | None:
    """Seconds to wait: ``Retry-After``, else the longest ``estimated_time_to_regain_access``
    (minutes) in the business-use-case usage header."""
    wait = retry_after_seconds(response.headers.get("Retry-After"))
    if wait is not None:
        return wait
    try:
        usage = json.loads(response.headers.get("X-Business-Use-Case-Usage") or "{}")
        minutes = [float(row.get("estimated_time_to_regain_access") or 0)
                   for rows in usage.values() for row in rows]
    except (ValueError, AttributeError, TypeError):
        return None
    return max(minutes) * 60 if minutes and max(minutes) > 0 else None


def raise_for_graph(response: httpx.Response, label: str) -> None:
    """Raise the engine's exception for a Graph API error answer; return for a 2xx."""
    status = response.status_code
    if 200 <= status < 300:
        return
    err = error_of(response)
    code, subcode = err.get("code"), err.get("error_subcode")
    words = err.get("message") or response.text[:ERROR_TEXT_MAX]
    if err.get("error_user_msg"):
        words = f"{words} ({err['error_user_msg']})"
    message = f"{label} answered {status}: {words}"
    raw = response.text[:ERROR_TEXT_MAX]
    tag = f"graph_{code}" if code is not None else f"http_{status}"
    if status == 429 or code in RATE_LIMIT_CODES or (code, subcode) == PUBLISHING_LIMIT:
        raise RateLimited(message, retry_after=wait_of(response) or DEFAULT_WAIT, raw=raw)
    if code in TOKEN_CODES or (status == 401 and code is None):
        raise AuthError(message, code="token_invalid", raw=raw)
    if status >= 500 or code in TRANSIENT_CODES or err.get("is_transient") \
            or (code, subcode) == NOT_READY:
        raise TemporaryError(message, code=tag, raw=raw)
    raise PermanentError(message, code=tag, raw=raw)


class Graph:
    """One access token against one Graph API host: calls with the token and its proof."""

    def __init__(self, base_url: str, access_token: str, app_secret: str | None, label: str):
        self.access_token, self.app_secret, self.label = access_token, app_secret, label
        self.client = httpx.Client(base_url=base_url, timeout=TIMEOUT)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.client.close()

    def call(self, method: str, path: str, *, params: dict | None = None, **kw) -> dict:
        """The JSON answer of a 2xx, else the engine's exception for Meta's error."""
        params = dict(params or {})
        if self.app_secret:
            params["appsecret_proof"] = appsecret_proof(self.access_token, self.app_secret)
        answer = send(self.client, method, path, params=params, what=self.label,
                      headers={"Authorization": f"Bearer {self.access_token}"}, **kw)
        raise_for_graph(answer, self.label)
        try:
            return answer.json()
        except ValueError:
            # A 2xx we cannot read may have created something: the outcome is unknown.
            raise ValueError(f"{self.label} answered {answer.status_code} with no JSON") from None
