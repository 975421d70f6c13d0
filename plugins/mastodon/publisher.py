"""The Mastodon publisher: REST API with httpx (why not Mastodon.py: docs/platforms/mastodon.md).

* Connect: the instance URL and an access token (Preferences → Development → New
  application, scopes ``read write:statuses write:media``). The token is checked
  with ``verify_credentials`` and the instance's own limits are read from
  ``/api/v2/instance``.
* Publish: each file through ``POST /api/v2/media`` (202 → poll ``GET
  /api/v1/media/:id`` until processed), then ``POST /api/v1/statuses`` with the
  same ``Idempotency-Key`` on every try of one publication (Mastodon keeps it an hour).
* Reconcile: look the post up among the account's recent statuses.
* Metrics: favourites, boosts and replies of the status (Mastodon has no views).
"""
from __future__ import annotations

import html
import re
import time
from datetime import datetime, timedelta
from urllib.parse import urlsplit

import httpx
import marshmallow
from marshmallow import fields, validate

from schedulerx.publisher_http import raise_for_answer, send
from schedulerx.publishers import (Connection, PlatformDescriptor, PlatformLimits,
                                   PostMetrics, PublishContext, Publisher, PublishResult,
                                   TemporaryError, grapheme_count, replace_limits)
from schedulerx.timeutil import from_storage

TIMEOUT = httpx.Timeout(60.0, connect=10.0)
#: Mastodon counts every link as 23 characters, and a remote mention by its user name only.
URL = re.compile(r"https?://[^\s<>\"]+")
REMOTE_MENTION = re.compile(r"(?<![\w@])(@\w+)@[\w.-]+\w", re.UNICODE)
LOOKUP_LIMIT = 40


class MastodonSettings(marshmallow.Schema):
    instance_url = fields.Url(required=True, schemes={"http", "https"}, require_tld=False, metadata={
        "label": "Instance URL", "description": "e.g. https://mastodon.social"})
    access_token = fields.String(required=True, validate=validate.Length(min=8, max=500), metadata={
        "label": "Access token", "description":
        "Preferences → Development → New application (scopes: read, write:statuses, write:media)"})
    visibility = fields.String(load_default="public", validate=validate.OneOf(
        ("public", "unlisted", "private", "direct")), metadata={"label": "Visibility"})
    language = fields.String(validate=validate.Length(equal=2), metadata={
        "label": "Language", "description": "ISO 639-1 code of the posts, e.g. en"})


def status_text(content_html: str) -> str:
    """A status's HTML content back as plain text (paragraphs and line breaks kept)."""
    text = re.sub(r"<br\s*/?>", "\n", content_html)
    text = re.sub(r"</p>\s*<p>", "\n\n", text)
    return html.unescape(re.sub(r"<[^>]+>", "", text))


def _comparable(text: str) -> str:
    return " ".join(URL.sub("URL", text).split())


class MastodonPublisher(Publisher):
    descriptor = PlatformDescriptor(
        name="mastodon", label="Mastodon",
        limits=PlatformLimits(
            text_max=500, media_max_count=4, image_max_count=4, video_max_count=1,
            mixed_media=False, media_types=("image/", "video/", "audio/"),
            image_max_bytes=16 * 1024 * 1024, video_max_bytes=99 * 1024 * 1024),
        best_times=({"weekday": 1, "time": "10:00"}, {"weekday": 3, "time": "10:00"}))
    settings_schema = MastodonSettings
    secret_fields = ("access_token",)
    idempotent = True   # the same Idempotency-Key on every try: Mastodon answers the first status
    can_look_up = True  # the account's recent statuses

    # --- connecting -------------------------------------------------------------

    def _client(self, settings: dict, credentials: dict) -> httpx.Client:
        return httpx.Client(base_url=settings["instance_url"].rstrip("/"), timeout=TIMEOUT,
                            headers={"Authorization": f"Bearer {credentials['access_token']}"})

    def check_connection(self, settings, credentials):
        with self._client(settings, credentials) as client:
            me = send(client, "GET", "/api/v1/accounts/verify_credentials", what="the instance")
            raise_for_answer(me, "Mastodon")
            instance = send(client, "GET", "/api/v2/instance", what="the instance")
            raise_for_answer(instance, "Mastodon")
        account, conf = me.json(), (instance.json().get("configuration") or {})
        statuses, media = conf.get("statuses") or {}, conf.get("media_attachments") or {}
        host = urlsplit(settings["instance_url"]).hostname
        info = {"account_id": str(account["id"]), "acct": account.get("acct"),
                "max_characters": statuses.get("max_characters"),
                "max_media_attachments": statuses.get("max_media_attachments"),
                "image_size_limit": media.get("image_size_limit"),
                "video_size_limit": media.get("video_size_limit")}
        return Connection(display_name=f"@{account.get('acct')}@{host}",
                          info={k: v for k, v in info.items() if v is not None})

    # --- before scheduling ------------------------------------------------------

    def limits_for(self, settings, info):
        lim = self.descriptor.limits
        return replace_limits(
            lim, text_max=info.get("max_characters") or lim.text_max,
            media_max_count=info.get("max_media_attachments") or lim.media_max_count,
            image_max_bytes=info.get("image_size_limit") or lim.image_max_bytes,
            video_max_bytes=info.get("video_size_limit") or lim.video_max_bytes)

    def text_length(self, text: str) -> int:
        # Mastodon's StatusLengthValidator: links count 23, remote mentions by user name,
        # the rest in grapheme clusters.
        return grapheme_count(REMOTE_MENTION.sub(r"\1", URL.sub("x" * 23, text)))

    # --- publishing -------------------------------------------------------------

    def publish(self, ctx: PublishContext) -> PublishResult:
        settings = ctx.account_settings
        with self._client(settings, ctx.credentials) as client:
            media_ids = [self._upload(client, item) for item in ctx.media]
            body = {"status": ctx.body, "visibility": settings.get("visibility", "public"),
                    "media_ids": media_ids}
            if settings.get("language"):
                body["language"] = settings["language"]
            answer = send(client, "POST", "/api/v1/statuses", json=body, what="the instance",
                          headers={"Idempotency-Key": ctx.idempotency_key})
            raise_for_answer(answer, "Mastodon")
        status = answer.json()
        return PublishResult(remote_id=str(status["id"]), url=status.get("url") or status.get("uri"),
                             raw=status)

    def _upload(self, client: httpx.Client, item) -> str:
        with (item.open() if item.open else open(item.path, "rb")) as fh:
            answer = send(client, "POST", "/api/v2/media", what="the instance",
                          files={"file": (item.filename, fh, item.mime)})
        raise_for_answer(answer, "Mastodon media upload")
        media = answer.json()
        # 202: processed in the background; the attachment has no URL until it is done.
        interval = float(self.config.platform_setting(self.name, "media_poll_interval", "1"))
        for _ in range(int(self.config.platform_setting(self.name, "media_poll_max", "120"))):
            if answer.status_code == 200 and media.get("url"):
                return str(media["id"])
            time.sleep(interval)
            answer = send(client, "GET", f"/api/v1/media/{media['id']}", what="the instance")
            if answer.status_code != 206:  # 206: still processing
                raise_for_answer(answer, "Mastodon media processing")
                media = answer.json()
        # Nothing was posted yet: a later try starts over.
        raise TemporaryError(f"Mastodon is still processing {item.filename}", code="media_processing")

    # --- after an unknown outcome -------------------------------------------------

    def reconcile(self, ctx: PublishContext):
        account_id = ctx.account_info.get("account_id")
        if not account_id:
            return None
        with self._client(ctx.account_settings, ctx.credentials) as client:
            answer = send(client, "GET", f"/api/v1/accounts/{account_id}/statuses",
                          params={"limit": LOOKUP_LIMIT, "exclude_replies": "true",
                                  "exclude_reblogs": "true"}, what="the instance")
            raise_for_answer(answer, "Mastodon")
        statuses = answer.json()
        since = from_storage(ctx.scheduled_at) - timedelta(minutes=5)
        wanted = _comparable(ctx.body)
        oldest = None
        for status in statuses:
            created = datetime.fromisoformat(status["created_at"].replace("Z", "+00:00"))
            oldest = created if oldest is None else min(oldest, created)
            if created >= since and _comparable(status_text(status.get("content", ""))) == wanted:
                return PublishResult(remote_id=str(status["id"]), url=status.get("url"), raw=status)
        # Not found: certain only when the page reaches back before the post could exist.
        seen_all = len(statuses) < LOOKUP_LIMIT or (oldest is not None and oldest < since)
        return False if seen_all else None

    def metrics(self, ctx: PublishContext):
        with self._client(ctx.account_settings, ctx.credentials) as client:
            answer = send(client, "GET", f"/api/v1/statuses/{ctx.remote_id}", what="the instance")
            raise_for_answer(answer, "Mastodon")
        s = answer.json()
        return PostMetrics(views=None, likes=s.get("favourites_count"),
                           comments=s.get("replies_count"), shares=s.get("reblogs_count"), raw=s)
