"""The LinkedIn publisher: the versioned REST API with httpx (docs/platforms/linkedin.md).

* Connect: OAuth 2.0 three-legged code flow (no PKCE: LinkedIn enables it for
  native apps only), scopes ``openid profile w_member_social`` — the self-serve
  "Sign In with LinkedIn using OpenID Connect" and "Share on LinkedIn" products.
  The member is ``urn:li:person:<sub>`` from ``/v2/userinfo``. Access tokens last
  60 days; a refresh token comes only to apps LinkedIn approved for it, and
  without one an expired token means reconnecting (the engine says so).
* Publish: ``POST /rest/posts`` with ``LinkedIn-Version`` and
  ``X-Restli-Protocol-Version: 2.0.0``; the post's URN comes back in the
  ``x-restli-id`` header. Images go through ``/rest/images?action=initializeUpload``
  and a PUT of the bytes; a video through ``/rest/videos?action=initializeUpload``,
  one PUT per part as LinkedIn's upload instructions say, ``finalizeUpload`` with
  the parts' ETags, and status polls until ``AVAILABLE``.
* The commentary is LinkedIn's "little" text: reserved characters are escaped,
  or LinkedIn silently cuts the post at the first one.
* Exactly once: no idempotency key, and reading a member's posts needs
  ``r_member_social``, which LinkedIn grants only to approved partners — so an
  unknown outcome waits for the user (``can_look_up = False``).
"""
from __future__ import annotations

import re
import time
from datetime import datetime, time as dtime, timedelta
from urllib.parse import quote

import httpx
import marshmallow
from marshmallow import fields, validate

from schedulerx.publisher_http import raise_for_answer, send, send_authorized
from schedulerx.publishers import (Connection, OAuth2, PermanentError, PlatformDescriptor,
                                   PlatformLimits, PublishContext, Publisher, PublishResult, Quota,
                                   RateLimited, TemporaryError)
from schedulerx.timeutil import utcnow

LABEL = "LinkedIn"
#: The API version (YYYYMM) sent as ``LinkedIn-Version``; LinkedIn sunsets each after
#: about a year: set SCHEDULERX_LINKEDIN_VERSION to a newer one then.
API_VERSION = "202610"
TIMEOUT = httpx.Timeout(120.0, connect=10.0)
POLL_INTERVAL = 5.0
POLL_MAX = 120  # ten minutes at the default interval
#: little-text reserved characters; links and hashtags are matched first and kept as they are
RESERVED = re.compile(r"(https?://\S+)|(#\w)|([\\|{}@\[\]()<>#*_~])")


def escape_little(text: str) -> str:
    """Commentary as LinkedIn's "little" format takes it: reserved characters backslash-escaped
    (unescaped, LinkedIn cuts the post there), links and hashtags left alone so they still link."""
    return RESERVED.sub(lambda m: m.group(0) if m.group(3) is None else "\\" + m.group(3), text)


def seconds_to_midnight_utc() -> float:
    now = utcnow()
    return (datetime.combine(now.date() + timedelta(days=1), dtime()) - now).total_seconds()


class LinkedInSettings(marshmallow.Schema):
    visibility = fields.String(load_default="PUBLIC", validate=validate.OneOf(
        ("PUBLIC", "CONNECTIONS")), metadata={"label": "Visibility",
                                               "description": "PUBLIC or CONNECTIONS only"})
    daily_post_limit = fields.Integer(validate=validate.Range(min=1, max=150), metadata={
        "label": "Daily post limit", "description": "posts per day for this member (LinkedIn: 150)"})


class LinkedInPublisher(Publisher):
    descriptor = PlatformDescriptor(
        name="linkedin", label="LinkedIn",
        limits=PlatformLimits(
            text_max=3_000, media_max_count=20, image_max_count=20, video_max_count=1,
            mixed_media=False, media_types=("image/jpeg", "image/png", "image/gif", "video/mp4"),
            video_max_bytes=500 * 1024 * 1024, video_max_seconds=30 * 60),
        # "Tue–Thu 8–14" (docs/platforms/linkedin.md): two slots a day.
        best_times=tuple({"weekday": d, "time": t} for d in (1, 2, 3) for t in ("09:00", "12:00")))
    settings_schema = LinkedInSettings
    oauth = OAuth2(authorize_url="https://www.linkedin.com/oauth/v2/authorization",
                   token_url="https://www.linkedin.com/oauth/v2/accessToken",
                   scopes=("openid", "profile", "w_member_social"),
                   pkce=False, client_auth="body")
    base_urls = {"api": "https://api.linkedin.com"}
    quotas = (Quota(unit="posts", limit=150, setting="daily_post_limit", label="posts"),)
    idempotent = False
    can_look_up = False  # r_member_social is closed to standard apps

    # --- connecting -------------------------------------------------------------

    def check_connection(self, settings, credentials):
        with httpx.Client(base_url=self.url(), timeout=TIMEOUT) as client:
            me = send(client, "GET", "/v2/userinfo", what=LABEL,
                      headers={"Authorization": f"Bearer {credentials['access_token']}"})
        raise_for_answer(me, LABEL)
        user = me.json()
        name = user.get("name") or " ".join(filter(None, (user.get("given_name"),
                                                          user.get("family_name"))))
        return Connection(display_name=name or LABEL,
                          info={"person_urn": f"urn:li:person:{user['sub']}", "name": name})

    # --- calls ------------------------------------------------------------------

    def _call(self, ctx: PublishContext, client: httpx.Client, method: str, url: str, *,
              rest: bool = True, **kw) -> httpx.Response:
        """One call; a 401 refreshes the token once (when the app has refresh tokens)."""
        extra = kw.pop("headers", {})
        if rest:
            extra = {"LinkedIn-Version": self.config.platform_setting(self.name, "version", API_VERSION),
                     "X-Restli-Protocol-Version": "2.0.0", **extra}
        answer = send_authorized(ctx, client, method, url, what=LABEL, headers=extra, **kw)
        try:
            raise_for_answer(answer, LABEL)
        except RateLimited as exc:
            # LinkedIn's limits are per day and reset at midnight UTC; a 429 rarely says when.
            if exc.retry_after is None:
                exc.retry_after = seconds_to_midnight_utc()
            raise
        return answer

    # --- publishing -------------------------------------------------------------

    def publish(self, ctx: PublishContext) -> PublishResult:
        author = ctx.account_info.get("person_urn")
        if not author:  # nothing sent yet: say so plainly rather than leave the outcome unknown
            raise PermanentError("the account has no LinkedIn member URN; reconnect it")
        with httpx.Client(base_url=self.url(), timeout=TIMEOUT) as client:
            body = {
                "author": author, "commentary": escape_little(ctx.body),
                "visibility": ctx.account_settings.get("visibility") or "PUBLIC",
                "distribution": {"feedDistribution": "MAIN_FEED", "targetEntities": [],
                                 "thirdPartyDistributionChannels": []},
                "lifecycleState": "PUBLISHED", "isReshareDisabledByAuthor": False}
            images = [m for m in ctx.media if m.kind == "image"]
            videos = [m for m in ctx.media if m.kind == "video"]
            if videos:
                body["content"] = {"media": {"id": self._upload_video(ctx, client, author, videos[0]),
                                             "title": ctx.title or videos[0].filename}}
            elif len(images) == 1:
                body["content"] = {"media": {"id": self._upload_image(ctx, client, author, images[0])}}
            elif images:
                body["content"] = {"multiImage": {"images": [
                    {"id": self._upload_image(ctx, client, author, m)} for m in images]}}
            answer = self._call(ctx, client, "POST", "/rest/posts", json=body)
        urn = answer.headers.get("x-restli-id")
        if not urn:  # created (2xx) but unnamed: we cannot say which post it is
            raise ValueError("LinkedIn created the post but sent no x-restli-id")
        return PublishResult(remote_id=urn, url=f"https://www.linkedin.com/feed/update/{urn}/",
                             raw={"x-restli-id": urn})

    def _upload_image(self, ctx, client, owner: str, item) -> str:
        init = self._call(ctx, client, "POST", "/rest/images", params={"action": "initializeUpload"},
                          json={"initializeUploadRequest": {"owner": owner}}).json()["value"]
        with _opened(item) as fh:
            self._call(ctx, client, "PUT", init["uploadUrl"], rest=False, content=fh.read(),
                       headers={"Content-Type": "application/octet-stream"})
        return init["image"]

    def _upload_video(self, ctx, client, owner: str, item) -> str:
        init = self._call(ctx, client, "POST", "/rest/videos", params={"action": "initializeUpload"},
                          json={"initializeUploadRequest": {
                              "owner": owner, "fileSizeBytes": item.size,
                              "uploadCaptions": False, "uploadThumbnail": False}}).json()["value"]
        etags = []
        with _opened(item) as fh:
            # LinkedIn says how to cut the file: one PUT per instruction, its bytes exactly.
            for part in sorted(init["uploadInstructions"], key=lambda p: p["firstByte"]):
                fh.seek(part["firstByte"])
                data = fh.read(part["lastByte"] - part["firstByte"] + 1)
                put = self._call(ctx, client, "PUT", part["uploadUrl"], rest=False, content=data,
                                 headers={"Content-Type": "application/octet-stream"})
                etags.append(put.headers.get("etag", "").strip('"'))
        self._call(ctx, client, "POST", "/rest/videos", params={"action": "finalizeUpload"},
                   json={"finalizeUploadRequest": {"video": init["video"],
                                                   "uploadToken": init.get("uploadToken", ""),
                                                   "uploadedPartIds": etags}})
        self._wait_available(ctx, client, init["video"], item.filename)
        return init["video"]

    def _wait_available(self, ctx, client, urn: str, filename: str) -> None:
        interval = float(self.config.platform_setting(self.name, "poll_interval", str(POLL_INTERVAL)))
        polls = int(self.config.platform_setting(self.name, "poll_max", str(POLL_MAX)))
        for _ in range(polls + 1):
            status = self._call(ctx, client, "GET", f"/rest/videos/{quote(urn, safe='')}").json()
            state = status.get("status")
            if state == "AVAILABLE":
                return
            if state == "PROCESSING_FAILED":
                raise PermanentError(f"LinkedIn could not process {filename}: "
                                     f"{status.get('processingFailureReason') or 'no reason given'}",
                                     raw=status)
            time.sleep(interval)
        # Nothing was posted: a later try uploads again.
        raise TemporaryError(f"LinkedIn is still processing {filename}", code="media_processing")


class _opened:
    """The file, from storage or its local path."""

    def __init__(self, item):
        self.fh = item.open() if item.open else open(item.path, "rb")

    def __enter__(self):
        return self.fh

    def __exit__(self, *exc):
        self.fh.close()
