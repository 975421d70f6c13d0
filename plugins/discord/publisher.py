"""The Discord publisher: a channel webhook with httpx (why no SDK: docs/platforms/discord.md).

* Connect: the webhook URL (a secret: whoever has it can post). Only Discord's own
  hosts are accepted — the URL names the webhook, requests always go to
  ``SCHEDULERX_DISCORD_API_URL`` (default https://discord.com), so a pasted URL can
  never point SchedulerX at another server. Checked with ``GET`` on the webhook.
* Publish: ``POST /api/v10/webhooks/{id}/{token}?wait=true`` — JSON for text;
  ``multipart/form-data`` with ``payload_json`` and ``files[n]`` for attachments.
  ``wait=true`` makes Discord answer the message (its id) instead of 204.
* Limits: 2,000 characters, 10 attachments, the server's upload limit (10 MiB,
  50 or 100 MiB with boosts); a 429 says the wait in ``retry_after`` (seconds, a float).
* Exactly once: webhooks take no nonce and cannot list their channel, and a message
  can only be read back by the id its lost answer carried: an interrupted publish
  is left ``unknown`` for the user.
* Metrics: the message's reactions, read with the webhook's own token.
"""
from __future__ import annotations

import json
import re
from urllib.parse import urlsplit

import httpx
import marshmallow
from marshmallow import fields, validate

from schedulerx.publisher_http import ERROR_TEXT_MAX, raise_for_answer, send
from schedulerx.publishers import (AuthError, Connection, PermanentError, PlatformDescriptor,
                                   PlatformLimits, PostMetrics, PublishContext, Publisher,
                                   PublishResult, RateLimited, replace_limits)

TIMEOUT = httpx.Timeout(300.0, connect=10.0)
API = "/api/v10"
MIB = 1024 * 1024
WEBHOOK_PATH = re.compile(r"/api(?:/v\d+)?/webhooks/(?P<id>\d{15,25})/(?P<token>[A-Za-z0-9_-]{30,100})/?\Z")
DISCORD_HOSTS = frozenset({"discord.com", "ptb.discord.com", "canary.discord.com",
                           "discordapp.com", "ptb.discordapp.com", "canary.discordapp.com"})
#: Discord's JSON error codes that mean the webhook itself is gone or its token wrong
WEBHOOK_GONE = (10015, 50027)


class DiscordSettings(marshmallow.Schema):
    webhook_url = fields.String(required=True, validate=[
        validate.Length(max=500),
        validate.Regexp(r"^https?://[^/\s]+/api(/v\d+)?/webhooks/\d{15,25}/[A-Za-z0-9_-]{30,100}/?\Z",
                        error="a webhook URL looks like https://discord.com/api/webhooks/<id>/<token>")],
        metadata={"label": "Webhook URL", "description":
                  "Channel settings → Integrations → Webhooks → Copy Webhook URL"})
    username = fields.String(validate=validate.Length(min=1, max=80), metadata={
        "label": "Name shown", "description": "instead of the webhook's own name"})
    thread_id = fields.String(validate=validate.Regexp(r"^\d{15,25}\Z"), metadata={
        "label": "Thread id", "description": "post into this thread of the channel"})
    upload_limit_mb = fields.Integer(load_default=10, validate=validate.OneOf((10, 50, 100)), metadata={
        "label": "Upload limit (MiB)", "description": "10; 50 for a level-2 boosted server, 100 for level 3"})
    mention_everyone = fields.Boolean(load_default=False, metadata={
        "label": "Allow @everyone", "description": "let @everyone and @here in a post ping the channel"})


class DiscordPublisher(Publisher):
    descriptor = PlatformDescriptor(
        name="discord", label="Discord",
        limits=PlatformLimits(text_max=2000, media_max_count=10, media_types=("image/", "video/"),
                              media_max_bytes=10 * MIB))
    # No best_times: /work/shared/PLATFORMS.md has no posting-time heuristics for Discord.
    settings_schema = DiscordSettings
    secret_fields = ("webhook_url",)
    base_urls = {"api": "https://discord.com"}
    idempotent = False   # execute-webhook takes no nonce
    can_look_up = False  # a message is found only by the id of the answer that was lost

    # --- the webhook ------------------------------------------------------------

    def _endpoint(self, credentials: dict) -> str:
        """Where this account's webhook is executed; refuses a URL of any other host."""
        url = credentials["webhook_url"].strip()
        parts = urlsplit(url)
        override = self.config.platform_setting(self.name, "api_url")
        allowed = parts.scheme == "https" and (parts.hostname or "").lower() in DISCORD_HOSTS
        if override and parts.netloc == urlsplit(override).netloc:
            allowed = True  # the operator pointed Discord elsewhere (a proxy, a test fake)
        match = WEBHOOK_PATH.match(parts.path)
        if not allowed or not match or parts.query or parts.fragment:
            raise PermanentError("not a Discord webhook URL: it must be "
                                 "https://discord.com/api/webhooks/<id>/<token>")
        return f"{self.url()}{API}/webhooks/{match['id']}/{match['token']}"

    # --- connecting -------------------------------------------------------------

    def check_connection(self, settings, credentials):
        endpoint = self._endpoint(credentials)
        with httpx.Client(timeout=TIMEOUT) as client:
            answer = send(client, "GET", endpoint, what="Discord")
        _raise(answer)
        hook = answer.json()
        if hook.get("type") not in (None, 1):
            raise PermanentError("this is not an incoming webhook (type 1) that can post messages")
        info = {"webhook_id": str(hook["id"]), "name": hook.get("name"),
                "channel_id": hook.get("channel_id"), "guild_id": hook.get("guild_id")}
        return Connection(display_name=f"{hook.get('name') or 'Webhook'} → #{hook.get('channel_id')}",
                          info={k: v for k, v in info.items() if v is not None})

    # --- before scheduling ------------------------------------------------------

    def limits_for(self, settings, info):
        return replace_limits(self.descriptor.limits,
                              media_max_bytes=int(settings.get("upload_limit_mb") or 10) * MIB)

    def validate(self, title, body, media, settings, info=None, tags=()):
        problems = super().validate(title, body, media, settings, info, tags)
        if not media and not body.strip():
            problems.append("Discord needs text or an attachment")
        return problems

    # --- publishing -------------------------------------------------------------

    def publish(self, ctx: PublishContext) -> PublishResult:
        settings = ctx.account_settings
        endpoint = self._endpoint(ctx.credentials)
        params = {"wait": "true"}
        if settings.get("thread_id"):
            params["thread_id"] = settings["thread_id"]
        payload = {"content": ctx.body, "allowed_mentions": {
            "parse": ["users", "roles"] + (["everyone"] if settings.get("mention_everyone") else [])}}
        if settings.get("username"):
            payload["username"] = settings["username"]
        with httpx.Client(timeout=TIMEOUT) as client:
            if not ctx.media:
                answer = send(client, "POST", endpoint, params=params, json=payload, what="Discord")
            else:
                payload["attachments"] = [{"id": i, "filename": m.filename} for i, m in enumerate(ctx.media)]
                files, handles = [], []
                try:
                    for i, item in enumerate(ctx.media):
                        handles.append(item.open() if item.open else open(item.path, "rb"))
                        files.append((f"files[{i}]", (item.filename, handles[-1], item.mime)))
                    answer = send(client, "POST", endpoint, params=params, what="Discord",
                                  data={"payload_json": json.dumps(payload)}, files=files)
                finally:
                    for fh in handles:
                        fh.close()
        _raise(answer)
        message = answer.json()
        guild = ctx.account_info.get("guild_id")
        url = (f"https://discord.com/channels/{guild}/{message['channel_id']}/{message['id']}"
               if guild and message.get("channel_id") else None)
        return PublishResult(remote_id=str(message["id"]), url=url, raw=message)

    def metrics(self, ctx: PublishContext):
        params = {"thread_id": ctx.account_settings["thread_id"]} if ctx.account_settings.get("thread_id") else {}
        with httpx.Client(timeout=TIMEOUT) as client:
            answer = send(client, "GET", f"{self._endpoint(ctx.credentials)}/messages/{ctx.remote_id}",
                          params=params, what="Discord")
        _raise(answer)
        reactions = answer.json().get("reactions") or []
        # Discord has no likes, views or shares: every emoji reaction counts as a like.
        return PostMetrics(likes=sum(int(r.get("count") or 0) for r in reactions), raw=reactions)


def _raise(answer: httpx.Response) -> None:
    """The engine's exception for a Discord refusal (``{"message", "code"}``)."""
    status = answer.status_code
    if 200 <= status < 300:
        return
    try:
        body = answer.json()
    except ValueError:
        body = None
    body = body if isinstance(body, dict) else {}
    text = f"Discord answered {status}: {body.get('message') or answer.text[:ERROR_TEXT_MAX]}"
    if body.get("code"):
        text += f" (code {body['code']})"
    raw = answer.text[:ERROR_TEXT_MAX]
    if status == 429 and isinstance(body.get("retry_after"), (int, float)):
        raise RateLimited(text, retry_after=float(body["retry_after"]), raw=raw)
    if status in (401, 404) and body.get("code") in WEBHOOK_GONE:
        raise AuthError(f"{text}: the webhook was deleted or its URL is wrong; paste a new one", raw=raw)
    if status == 429 or status >= 500 or status == 408:
        raise_for_answer(answer, "Discord")
    raise PermanentError(text, code=f"http_{status}", raw=raw)
