"""The webhook publisher: POST the post as signed JSON to the account's URL.

The receiver's contract (also in docs/plugins.md):

* ``X-SchedulerX-Signature: sha256=<hex>`` is HMAC-SHA256 of the raw request
  body with the account's secret; ``X-SchedulerX-Timestamp`` is the Unix time of
  sending, also in the signed body as ``sent_at``.
* ``Idempotency-Key`` is the same on every retry of one publication, and a
  retry may come after the receiver already got the post (a timeout, a 5xx): the
  receiver must deduplicate on it. That is what makes retries safe here.
* 2xx: published; a JSON answer's ``id`` (and ``url``) are kept as the remote
  post. 429: retried no sooner than ``Retry-After``. 5xx: retried. Other codes:
  failed, with the answer's text as the error.
"""
from __future__ import annotations

import hashlib
import hmac
import json
import time
from urllib.parse import urlsplit

import httpx
import marshmallow
from marshmallow import fields, validate

import schedulerx
from schedulerx.publishers import (AuthError, PermanentError, PlatformDescriptor,
                                   PlatformLimits, PublishContext, Publisher, PublishResult,
                                   RateLimited, TemporaryError)
from schedulerx.publisher_http import retry_after_seconds
from schedulerx.timeutil import isoformat

from .targets import TargetRefused, TargetUnresolved, resolve

EVENT = "publication.published"
ERROR_TEXT_MAX = 2000


class WebhookSettings(marshmallow.Schema):
    url = fields.Url(required=True, schemes={"http", "https"}, require_tld=False,
                     metadata={"label": "URL", "description": "Where posts are sent (http or https)"})
    secret = fields.String(required=True, validate=validate.Length(min=16, max=500),
                           metadata={"label": "Secret", "description":
                                     "Shared secret of the HMAC signature (16 characters or more)"})
    connect_timeout = fields.Float(load_default=10.0, validate=validate.Range(min=0.1, max=120),
                                   metadata={"label": "Connect timeout (seconds)"})
    read_timeout = fields.Float(load_default=10.0, validate=validate.Range(min=0.1, max=600),
                                metadata={"label": "Read timeout (seconds)", "description":
                                          "How long to wait for the answer after sending"})

    @marshmallow.validates("url")
    def no_credentials_in_url(self, value, **kwargs):
        # Settings are stored in clear; credentials belong in the (encrypted) secret.
        if "@" in urlsplit(value).netloc:
            raise marshmallow.ValidationError("the URL must not carry a user name or password")


def sign(secret: str, body: bytes) -> str:
    """The ``X-SchedulerX-Signature`` header value for ``body``."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def payload(ctx: PublishContext, sent_at: int) -> dict:
    return {
        "event": EVENT,
        "publication_id": ctx.publication_id,
        "idempotency_key": ctx.idempotency_key,
        "attempt": ctx.attempt,
        "title": ctx.title,
        "body": ctx.body,
        "tags": list(ctx.tags),
        "options": ctx.options,
        "media": [{"id": m.id, "filename": m.filename, "mime": m.mime, "size": m.size,
                   "url": m.url} for m in ctx.media],
        "scheduled_at": isoformat(ctx.scheduled_at),
        "sent_at": sent_at,
    }


class WebhookPublisher(Publisher):
    descriptor = PlatformDescriptor(
        name="webhook", label="Webhook",
        limits=PlatformLimits(text_max=1_000_000, title_max=500))
    settings_schema = WebhookSettings
    secret_fields = ("secret",)
    # The receiver gets the same Idempotency-Key on every retry and must drop repeats.
    idempotent = True

    def publish(self, ctx: PublishContext) -> PublishResult:
        settings = {**ctx.account_settings, **ctx.credentials}
        try:
            target = resolve(settings["url"])
        except TargetRefused as exc:
            raise PermanentError(str(exc), code="target_refused") from exc
        except TargetUnresolved as exc:
            raise TemporaryError(str(exc), code="dns") from exc
        sent_at = int(time.time())
        body = json.dumps(payload(ctx, sent_at), ensure_ascii=False, separators=(",", ":"),
                          sort_keys=True).encode()
        headers = {
            "Host": target.host_header,
            "Content-Type": "application/json",
            "User-Agent": f"SchedulerX/{schedulerx.__version__} (+webhook)",
            "X-SchedulerX-Event": EVENT,
            "X-SchedulerX-Signature": sign(settings.get("secret") or "", body),
            "X-SchedulerX-Timestamp": str(sent_at),
            "Idempotency-Key": ctx.idempotency_key,
        }
        timeout = httpx.Timeout(float(settings.get("read_timeout", 10.0)),
                                connect=float(settings.get("connect_timeout", 10.0)))
        # trust_env=False: no proxy may resolve the host again behind our check.
        with httpx.Client(timeout=timeout, follow_redirects=False, trust_env=False) as client:
            try:
                response = client.post(target.url, content=body, headers=headers,
                                       extensions={"sni_hostname": target.server_name})
            except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
                # The connection never opened: nothing was sent.
                raise TemporaryError(f"cannot connect to the webhook: {exc}", code="connect") from exc
            # Any other error (read timeout, connection dropped after sending) leaves the
            # outcome unknown; it propagates and the engine reconciles.
        return self._outcome(ctx, response)

    @staticmethod
    def _outcome(ctx: PublishContext, response: httpx.Response) -> PublishResult:
        status, text = response.status_code, response.text[:ERROR_TEXT_MAX]
        if 200 <= status < 300:
            try:
                answer = response.json()
            except ValueError:
                answer = None
            answer = answer if isinstance(answer, dict) else {}
            url = answer.get("url")
            return PublishResult(
                remote_id=str(answer.get("id") or ctx.idempotency_key)[:500],
                url=url if isinstance(url, str) and url.startswith(("http://", "https://")) else None,
                raw=text)
        message = f"webhook answered {status}: {text}".rstrip(": ")
        if status == 429:
            raise RateLimited(message, retry_after=retry_after_seconds(
                response.headers.get("Retry-After")), raw=text)
        if status >= 500 or status == 408:
            raise TemporaryError(message, code=f"http_{status}", raw=text)
        if status in (401, 403):
            raise AuthError(message + " (check the URL and the secret)", raw=text)
        raise PermanentError(message, code=f"http_{status}", raw=text)
