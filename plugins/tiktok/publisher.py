"""The TikTok publisher: Content Posting API (Direct Post) with httpx (no maintained Python SDK
covers it: docs/platforms/tiktok.md).

* Connect: TikTok OAuth v2 for a web app: ``client_key`` (not ``client_id``), comma-separated
  scopes, the secret in the token form, no PKCE (TikTok asks PKCE of desktop and mobile
  apps only). Access tokens live a day; refresh tokens rotate (each works once).
* Publish: a video per post. ``creator_info/query`` first (TikTok requires it: the privacy
  levels this creator may use now, the longest video), then ``video/init`` with
  ``source=FILE_UPLOAD`` and TikTok's chunk plan, the bytes PUT to the returned
  ``upload_url`` with ``Content-Range``, then ``status/fetch`` polls until
  ``PUBLISH_COMPLETE`` or ``FAILED``. The publish id is kept on the publication as soon as
  init answers (``ctx.note_remote_id``).
* Photos are not offered: TikTok takes them only as ``PULL_FROM_URL`` from a public URL on
  a domain verified with TikTok, and SchedulerX serves media only to signed-in users.
* Exactly once: no idempotency key. With FILE_UPLOAD nothing can be posted before the
  last byte arrives, so a lost init answer (no upload URL) is safe to retry; once init
  answered, the publish id's status is the lookup, and the next attempt checks it first.
"""
from __future__ import annotations

import json
import time

import httpx
import marshmallow
from marshmallow import fields, validate

from schedulerx.publisher_http import ERROR_TEXT_MAX, raise_for_answer, send, send_authorized, wait_of
from schedulerx.publishers import (AuthError, Connection, MediaItem, OAuth2, PermanentError,
                                   PlatformDescriptor, PlatformLimits, PostMetrics, PublishContext,
                                   Publisher, PublishResult, Quota, RateLimited, TemporaryError,
                                   replace_limits)

TIMEOUT = httpx.Timeout(120.0, connect=10.0)
MB = 1024 * 1024
#: TikTok's chunk rules: 5–64 MB each, the last one takes the trailing bytes.
CHUNK = 10 * MB
CAPTION_MAX = 2200  # UTF-16 code units
PRIVACY = ("PUBLIC_TO_EVERYONE", "MUTUAL_FOLLOW_FRIENDS", "FOLLOWER_OF_CREATOR", "SELF_ONLY")
VIDEO_TYPES = ("video/mp4", "video/quicktime", "video/webm")
#: "6 requests per minute per user access token" for init: a 429 waits the window out.
RATE_WINDOW = 60.0
JSON = {"Content-Type": "application/json; charset=UTF-8"}
VIDEO_FIELDS = "id,view_count,like_count,comment_count,share_count"


class TikTokSettings(marshmallow.Schema):
    privacy_level = fields.String(load_default="SELF_ONLY", validate=validate.OneOf(PRIVACY), metadata={
        "label": "Who can watch", "description":
        "one of the levels TikTok offers this account (apps TikTok has not audited: SELF_ONLY)"})
    disable_comment = fields.Boolean(load_default=False, metadata={"label": "No comments"})
    disable_duet = fields.Boolean(load_default=False, metadata={"label": "No duets"})
    disable_stitch = fields.Boolean(load_default=False, metadata={"label": "No stitches"})
    daily_post_limit = fields.Integer(validate=validate.Range(min=1, max=1000), metadata={
        "label": "Daily post limit", "description": "posts a day TikTok lets this creator make "
        "through the API (default 15)"})


def utf16_length(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def chunk_plan(size: int, chunk: int) -> tuple[int, int]:
    """``(chunk_size, total_chunk_count)`` as TikTok wants them: a video no bigger than a
    chunk goes whole; else ``size // chunk`` chunks, the last taking the trailing bytes."""
    if size <= chunk:
        return size, 1
    return chunk, size // chunk


def tiktok_error(response: httpx.Response) -> tuple[str, str]:
    """TikTok's ``{"error": {"code", "message", "log_id"}}`` (code "ok" on success)."""
    try:
        error = response.json().get("error")
    except (ValueError, AttributeError):
        return "", ""
    if not isinstance(error, dict):
        return "", ""
    return str(error.get("code") or ""), str(error.get("message") or "")


def raise_for_tiktok(response: httpx.Response) -> None:
    code, message = tiktok_error(response)
    if response.is_success and code in ("", "ok"):
        return
    raw = response.text[:ERROR_TEXT_MAX]
    text = f"TikTok answered {response.status_code}: {message or code} ({code})" if code else None
    if response.status_code == 429 or code == "rate_limit_exceeded":
        # TikTok sends no Retry-After: its window is one minute.
        raise RateLimited(text or "TikTok answered 429", retry_after=wait_of(response) or RATE_WINDOW, raw=raw)
    if code == "spam_risk_too_many_posts":
        raise RateLimited(f"{text} (the creator's daily post cap; trying again in a day)",
                          retry_after=86_400, code="daily_cap", raw=raw)
    if response.is_success:  # a 2xx that carries an error
        raise PermanentError(text, code=code, raw=raw)
    raise_for_answer(response, "TikTok")


class TikTokPublisher(Publisher):
    descriptor = PlatformDescriptor(
        name="tiktok", label="TikTok",
        limits=PlatformLimits(
            text_max=CAPTION_MAX, media_required=True, media_max_count=1, video_max_count=1,
            media_types=VIDEO_TYPES, video_max_bytes=4 * 1024 * MB, video_max_seconds=600),
        best_times=({"weekday": 2, "time": "15:00"}, {"weekday": 6, "time": "20:00"}))
    settings_schema = TikTokSettings
    oauth = OAuth2(authorize_url="https://www.tiktok.com/v2/auth/authorize/",
                   token_url="https://open.tiktokapis.com/v2/oauth/token/",
                   scopes=("user.info.basic", "video.publish", "video.list"), scope_separator=",",
                   pkce=False, client_auth="body", client_id_param="client_key")
    base_urls = {"api": "https://open.tiktokapis.com"}
    quotas = (Quota(unit="posts", limit=15, setting="daily_post_limit", label="posts"),)
    idempotent = False
    can_look_up = True  # the publish id's status, kept as soon as init answers

    # --- connecting -------------------------------------------------------------

    def check_connection(self, settings, credentials):
        granted = set((credentials.get("scope") or "video.publish").replace(" ", ",").split(","))
        if "video.publish" not in granted:
            raise PermanentError("the TikTok account did not allow posting (video.publish); "
                                 "connect again and allow it")
        with httpx.Client(base_url=self.url(), timeout=TIMEOUT) as client:
            answer = send(client, "POST", "/v2/post/publish/creator_info/query/", what="TikTok",
                          headers={**JSON, "Authorization": f"Bearer {credentials['access_token']}"})
        raise_for_tiktok(answer)
        creator = answer.json()["data"]
        return Connection(display_name=f"@{creator['creator_username']}", info={
            "username": creator["creator_username"], "nickname": creator.get("creator_nickname"),
            "privacy_level_options": creator.get("privacy_level_options") or [],
            "max_video_post_duration_sec": creator.get("max_video_post_duration_sec")})

    # --- before scheduling ------------------------------------------------------

    def limits_for(self, settings, info):
        longest = info.get("max_video_post_duration_sec")
        if longest:
            return replace_limits(self.descriptor.limits, video_max_seconds=float(longest))
        return self.descriptor.limits

    def text_length(self, text: str) -> int:
        return utf16_length(text)  # TikTok counts the caption in UTF-16 runes

    def validate(self, title, body, media, settings, info=None, tags=()):
        problems = super().validate(title, body, media, settings, info, tags)
        offered = (info or {}).get("privacy_level_options")
        wanted = settings.get("privacy_level") or "SELF_ONLY"
        if offered and wanted not in offered:
            problems.append(f"TikTok offers this account only {', '.join(offered)}; change its "
                            f"'Who can watch' setting ({wanted})")
        return problems

    # --- calls ------------------------------------------------------------------

    def _send(self, ctx: PublishContext, client: httpx.Client, method: str, url: str, **kw) -> httpx.Response:
        """One call with the account's token; a 401 refreshes it once (another worker may have)."""
        return send_authorized(ctx, client, method, url, what="TikTok", **kw)

    def _post_json(self, ctx, client, path: str, body: dict | None = None, **kw) -> dict:
        answer = self._send(ctx, client, "POST", path, headers=JSON,
                            content=json.dumps(body).encode() if body is not None else b"", **kw)
        raise_for_tiktok(answer)
        return answer.json().get("data") or {}

    def _setting(self, name: str, default: str) -> str:
        return self.config.platform_setting(self.name, name, default)

    def publish(self, ctx: PublishContext) -> PublishResult:
        video = ctx.media[0]  # validation let exactly one video through
        with httpx.Client(base_url=self.url(), timeout=TIMEOUT) as client:
            if ctx.remote_id:  # an earlier attempt's publish id: what became of it?
                found = self._earlier(ctx, client, ctx.remote_id, video)
                if found is not None:
                    return found
            creator = self._post_json(ctx, client, "/v2/post/publish/creator_info/query/")
            post_info = self._post_info(ctx, video, creator)
            chunk, count = chunk_plan(video.size, int(self._setting("chunk_size", str(CHUNK))))
            try:
                answer = self._send(ctx, client, "POST", "/v2/post/publish/video/init/", headers=JSON,
                                    content=json.dumps({"post_info": post_info, "source_info": {
                                        "source": "FILE_UPLOAD", "video_size": video.size,
                                        "chunk_size": chunk, "total_chunk_count": count}}).encode())
            except httpx.TransportError as exc:
                # Without the upload URL no byte can go: whatever TikTok made of this, nothing is posted.
                raise TemporaryError(f"TikTok did not answer the post's init ({exc}); nothing was "
                                     "uploaded", code="no_answer") from exc
            raise_for_tiktok(answer)
            data = answer.json()["data"]
            publish_id = data["publish_id"]
            if ctx.note_remote_id is not None:
                ctx.note_remote_id(publish_id)
            self._upload(client, data["upload_url"], video, chunk, count)
            return self._wait(ctx, client, publish_id, video)

    def _post_info(self, ctx: PublishContext, video: MediaItem, creator: dict) -> dict:
        settings = ctx.account_settings
        privacy = settings.get("privacy_level") or "SELF_ONLY"
        offered = creator.get("privacy_level_options") or []
        if privacy not in offered:
            raise PermanentError(f"TikTok offers this account only {', '.join(offered) or 'nothing'} "
                                 f"now; change its 'Who can watch' setting ({privacy})")
        longest = creator.get("max_video_post_duration_sec")
        if longest and video.duration and video.duration > longest:
            raise PermanentError(f"{video.filename} lasts {video.duration:g} s; TikTok lets this "
                                 f"creator post {longest} s")
        # What the creator switched off in the app stays off (TikTok's posting guidelines).
        return {"title": ctx.body or ctx.title, "privacy_level": privacy,
                "disable_comment": bool(settings.get("disable_comment") or creator.get("comment_disabled")),
                "disable_duet": bool(settings.get("disable_duet") or creator.get("duet_disabled")),
                "disable_stitch": bool(settings.get("disable_stitch") or creator.get("stitch_disabled")),
                "video_cover_timestamp_ms": 0}

    def _upload(self, client, upload_url: str, video: MediaItem, chunk: int, count: int) -> None:
        size = video.size
        with (video.open() if video.open else open(video.path, "rb")) as fh:
            for index in range(count):
                start = index * chunk
                end = size - 1 if index == count - 1 else start + chunk - 1
                data = fh.read(end - start + 1)
                try:
                    # The upload URL carries its own token: no Authorization header.
                    answer = send(client, "PUT", upload_url, what="TikTok", content=data, headers={
                        "Content-Type": video.mime, "Content-Range": f"bytes {start}-{end}/{size}"})
                except httpx.TransportError as exc:
                    if index < count - 1:
                        raise TemporaryError(f"the upload to TikTok broke off ({exc}); an incomplete "
                                             "upload is never posted, the next attempt starts again",
                                             code="upload_interrupted") from exc
                    return  # the last chunk may have arrived: the status says whether it did
                raise_for_tiktok(answer)

    def _status(self, ctx, client, publish_id: str) -> dict:
        return self._post_json(ctx, client, "/v2/post/publish/status/fetch/", {"publish_id": publish_id})

    def _wait(self, ctx, client, publish_id: str, video: MediaItem) -> PublishResult:
        """Poll the publish id until TikTok has posted the video (or says why not)."""
        polls = int(self._setting("status_poll_max", "60"))
        interval = float(self._setting("status_poll_interval", "5"))
        while True:
            data = self._status(ctx, client, publish_id)
            state = data.get("status")
            if state == "PUBLISH_COMPLETE":
                return self._result(ctx, publish_id, data)
            if state == "FAILED":
                reason = data.get("fail_reason") or "no reason given"
                error = TemporaryError if reason == "internal" else PermanentError
                raise error(f"TikTok could not post {video.filename}: {reason}", code="tiktok_failed", raw=data)
            if state == "SEND_TO_USER_INBOX":
                raise PermanentError("TikTok put the video in the creator's inbox to finish in the "
                                     "app: it is not posted", raw=data)
            uploaded = data.get("uploaded_bytes")
            if state == "PROCESSING_UPLOAD" and uploaded is not None and uploaded < video.size:
                raise TemporaryError(f"TikTok got {uploaded} of {video.size} bytes; an incomplete upload "
                                     "is never posted, the next attempt starts again",
                                     code="upload_interrupted", raw=data)
            if polls <= 0:
                raise TemporaryError(f"TikTok is still processing the video (publish id {publish_id}); "
                                     "the next attempt checks on it, it does not post again",
                                     code="processing", raw=data)
            polls -= 1
            time.sleep(interval)

    def _earlier(self, ctx, client, publish_id: str, video: MediaItem) -> PublishResult | None:
        """An earlier attempt's publish id: its result, or None when a new post is safe."""
        try:
            return self._wait(ctx, client, publish_id, video)
        except AuthError:
            raise
        except PermanentError:
            return None  # FAILED, or a publish id TikTok no longer knows: nothing was posted
        except TemporaryError as exc:
            if exc.code in ("upload_interrupted", "tiktok_failed"):
                return None  # an incomplete upload, or TikTok's processing failed: start again
            raise  # still processing, rate limited, unreachable: wait, never post twice

    def _result(self, ctx: PublishContext, publish_id: str, data: dict) -> PublishResult:
        ids = data.get("publicaly_available_post_id") or []  # sic: TikTok's spelling
        if not ids:
            # A private post (or one still in moderation) has no public id: keep the publish id.
            return PublishResult(remote_id=publish_id, url=None, raw=data)
        post_id, username = str(ids[0]), ctx.account_info.get("username")
        return PublishResult(remote_id=post_id, raw=data,
                             url=f"https://www.tiktok.com/@{username}/video/{post_id}" if username else None)

    # --- after an unknown outcome -------------------------------------------------

    def reconcile(self, ctx: PublishContext):
        if not ctx.remote_id:
            return False  # init never answered: no upload URL, so no byte went and nothing is posted
        with httpx.Client(base_url=self.url(), timeout=TIMEOUT) as client:
            # Still processing after the polls: raises, and the publication stays unknown.
            found = self._earlier(ctx, client, ctx.remote_id, ctx.media[0])
        # None: FAILED or an incomplete upload, so not posted and a retry is safe.
        return found if found is not None else False

    def metrics(self, ctx: PublishContext):
        post_id = ctx.remote_id or ""
        with httpx.Client(base_url=self.url(), timeout=TIMEOUT) as client:
            if not post_id.isdigit():  # a publish id: has the post a public id by now?
                ids = self._status(ctx, client, post_id).get("publicaly_available_post_id") or []
                if not ids:
                    return None  # private posts have no public id; TikTok gives no numbers for them
                post_id = str(ids[0])
            data = self._post_json(ctx, client, "/v2/video/query/", {"filters": {"video_ids": [post_id]}},
                                   params={"fields": VIDEO_FIELDS})
        videos = data.get("videos") or []
        if not videos:
            raise PermanentError(f"TikTok shows no video {post_id} on this account (deleted?)")
        v = videos[0]
        return PostMetrics(views=v.get("view_count"), likes=v.get("like_count"),
                           comments=v.get("comment_count"), shares=v.get("share_count"), raw=v)
