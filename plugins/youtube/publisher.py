"""The YouTube publisher: Data API v3 with httpx (why not google-api-python-client:
docs/platforms/youtube.md).

* Connect: Google OAuth 2.0 authorization code with PKCE; ``access_type=offline`` and
  ``prompt=consent`` make Google hand out a refresh token every time. Google does not
  rotate it: a refresh answer carries none and the stored one is kept
  (``schedulerx.oauth.merge_tokens``). The channel comes from ``channels.list?mine=true``.
* Publish: one video per post, ``videos.insert`` through the resumable upload protocol.
  A POST with the metadata opens an upload session, whose URI is kept on the publication
  at once (``ctx.note_remote_id``); the bytes go up in PUTs with ``Content-Range``
  (308 + ``Range`` until the last one). After a broken connection or a 5xx the session
  is asked what arrived (``Content-Range: bytes */size``) and the upload resumes there.
* Limits: the API project's daily quota (10,000 units; an upload costs 1,600) is a
  declared ``Quota``; a 403 ``quotaExceeded`` waits for Google's reset (midnight Pacific).
* Exactly once: YouTube takes no idempotency key, but it makes the video only when the
  last byte of the session arrives, and the session says whether it did: that is the
  lookup after an unknown outcome, and the next attempt resumes the same session.
"""
from __future__ import annotations

import json
import time
from datetime import datetime, timedelta
from datetime import time as midnight
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import marshmallow
from marshmallow import fields, validate

from schedulerx.publisher_http import (ERROR_TEXT_MAX, platform_message, raise_for_answer, send,
                                       send_authorized, wait_of)
from schedulerx.publishers import (Connection, MediaItem, OAuth2, PermanentError, PlatformDescriptor,
                                   PlatformLimits, PostMetrics, PublishContext, Publisher,
                                   PublishResult, Quota, RateLimited, TemporaryError, replace_limits)

TIMEOUT = httpx.Timeout(120.0, connect=10.0)
#: Every chunk but the last must be a multiple of 256 KiB (Google's rule): 8 MiB.
CHUNK = 32 * 256 * 1024
TITLE_MAX = 100
DESCRIPTION_MAX_BYTES = 5000
TAGS_MAX = 500
#: Without "long uploads" (a verified channel) a video may last 15 minutes.
SHORT_UPLOAD_SECONDS = 15 * 60
PRIVACY = ("public", "unlisted", "private")
DEFAULT_CATEGORY = "22"  # People & Blogs
#: Google resets daily quotas at midnight Pacific time.
QUOTA_ZONE = ZoneInfo("America/Los_Angeles")
QUOTA_REASONS = {"quotaExceeded", "dailyLimitExceeded"}
RATE_REASONS = {"rateLimitExceeded", "userRateLimitExceeded"}
#: Answers to an upload PUT after which Google says: ask the session, then resume.
RESUME_STATUSES = {500, 502, 503, 504}


class YouTubeSettings(marshmallow.Schema):
    privacy_status = fields.String(load_default="public", validate=validate.OneOf(PRIVACY), metadata={
        "label": "Visibility", "description":
        "videos uploaded through an API project Google has not audited stay private"})
    category_id = fields.String(load_default=DEFAULT_CATEGORY, validate=validate.Regexp(r"^\d{1,3}$"),
                                metadata={"label": "Category id",
                                          "description": "YouTube's video category (22: People & Blogs)"})
    made_for_kids = fields.Boolean(load_default=False, metadata={
        "label": "Made for kids", "description": "the audience declaration YouTube asks for"})
    daily_quota_units = fields.Integer(validate=validate.Range(min=1, max=100_000_000), metadata={
        "label": "Daily quota (units)", "description":
        "this account's share of the API project's daily quota (default 10,000; an upload costs 1,600)"})


def tags_length(tags) -> int:
    """Tags as YouTube counts them: a tag with a space is quoted, tags are comma-separated."""
    names = [t.lstrip("#") for t in tags or () if t.strip("#")]
    return sum(len(n) + (2 if " " in n else 0) for n in names) + max(0, len(names) - 1)


def video_title(title: str, body: str, media: list[MediaItem]) -> str:
    """The post's title; without one, the body's first line (or the file's name), cut to 100."""
    chosen = (title or "").strip()
    if not chosen:
        chosen = next((line.strip() for line in (body or "").splitlines() if line.strip()), "")
    if not chosen and media:
        chosen = Path(media[0].filename).stem
    chosen = chosen.replace("<", "").replace(">", "") or "Video"
    return chosen if len(chosen) <= TITLE_MAX else chosen[:TITLE_MAX - 1].rstrip() + "…"


def seconds_to_quota_reset() -> float:
    today = datetime.now(QUOTA_ZONE).date()
    reset = datetime.combine(today + timedelta(days=1), midnight(), tzinfo=QUOTA_ZONE)
    return max(0.0, reset.timestamp() - time.time())


def google_reasons(response: httpx.Response) -> set[str]:
    """The ``reason`` of each entry of Google's ``{"error": {"errors": [...]}}``."""
    try:
        error = response.json().get("error")
    except (ValueError, AttributeError):
        return set()
    if not isinstance(error, dict):
        return set()
    return {e.get("reason") for e in error.get("errors") or [] if isinstance(e, dict)} - {None}


def raise_for_youtube(response: httpx.Response) -> None:
    """``raise_for_answer``, knowing Google's reasons: quota and rate limits wait, they do not fail."""
    if response.is_success:
        return
    reasons = google_reasons(response)
    message = f"YouTube answered {response.status_code}: {platform_message(response)}"
    raw = response.text[:ERROR_TEXT_MAX]
    if reasons & QUOTA_REASONS:
        raise RateLimited(f"{message} (Google resets the project's daily quota at midnight "
                          "Pacific time)", retry_after=seconds_to_quota_reset(),
                          code="quota_exceeded", raw=raw)
    if reasons & RATE_REASONS:
        raise RateLimited(message, retry_after=wait_of(response), raw=raw)
    if "uploadLimitExceeded" in reasons:
        raise RateLimited(f"{message} (the channel's daily upload limit; trying again in a day)",
                          retry_after=86_400, code="upload_limit", raw=raw)
    raise_for_answer(response, "YouTube")


def is_session(remote_id: str | None) -> bool:
    """An upload session URI (kept while uploading), not a video id."""
    return bool(remote_id) and remote_id.startswith(("https://", "http://"))


def next_offset(answer: httpx.Response) -> int:
    """The first byte a 308 asks for: after ``Range: bytes=0-N``, or 0 when nothing arrived."""
    given = answer.headers.get("Range", "")
    if not given.startswith("bytes=0-"):
        return 0
    return int(given.rsplit("-", 1)[1]) + 1


def _int(value) -> int | None:
    return None if value is None else int(value)


class YouTubePublisher(Publisher):
    descriptor = PlatformDescriptor(
        name="youtube", label="YouTube",
        limits=PlatformLimits(
            text_max=DESCRIPTION_MAX_BYTES, text_max_bytes=DESCRIPTION_MAX_BYTES, title_max=TITLE_MAX,
            media_required=True, media_max_count=1, video_max_count=1, media_types=("video/",),
            video_max_bytes=256 * 1024 ** 3, video_max_seconds=12 * 3600),
        best_times=tuple({"weekday": day, "time": at} for day in range(5) for at in ("15:00", "16:00")))
    settings_schema = YouTubeSettings
    oauth = OAuth2(authorize_url="https://accounts.google.com/o/oauth2/v2/auth",
                   token_url="https://oauth2.googleapis.com/token",
                   scopes=("https://www.googleapis.com/auth/youtube.upload",
                           "https://www.googleapis.com/auth/youtube.readonly"),
                   pkce=True, client_auth="body",
                   extra_authorize_params=(("access_type", "offline"), ("prompt", "consent")))
    base_urls = {"api": "https://www.googleapis.com"}
    quotas = (Quota(unit="units", limit=10_000, per_publish=1_600, setting="daily_quota_units",
                    label="API units"),)
    idempotent = False
    can_look_up = True  # the upload session tells whether the video was made

    # --- connecting -------------------------------------------------------------

    def check_connection(self, settings, credentials):
        with httpx.Client(timeout=TIMEOUT) as client:
            answer = send(client, "GET", f"{self.url()}/youtube/v3/channels", what="YouTube",
                          params={"part": "snippet,contentDetails,status", "mine": "true"},
                          headers={"Authorization": f"Bearer {credentials['access_token']}"})
        raise_for_youtube(answer)
        items = answer.json().get("items") or []
        if not items:
            raise PermanentError("this Google account has no YouTube channel; create one, then connect again")
        channel = items[0]
        playlists = (channel.get("contentDetails") or {}).get("relatedPlaylists") or {}
        return Connection(display_name=channel["snippet"]["title"], info={
            "channel_id": channel["id"], "custom_url": channel["snippet"].get("customUrl"),
            "uploads_playlist": playlists.get("uploads"),
            "long_uploads": (channel.get("status") or {}).get("longUploadsStatus") == "allowed"})

    # --- before scheduling ------------------------------------------------------

    def limits_for(self, settings, info):
        if info.get("long_uploads") is False:
            return replace_limits(self.descriptor.limits, video_max_seconds=SHORT_UPLOAD_SECONDS)
        return self.descriptor.limits

    def validate(self, title, body, media, settings, info=None, tags=()):
        problems = super().validate(title, body, media, settings, info, tags)
        for name, text in (("title", title), ("description", body)):
            if "<" in (text or "") or ">" in (text or ""):
                problems.append(f"YouTube allows no < or > in a video's {name}")
        n = tags_length(tags)
        if n > TAGS_MAX:
            problems.append(f"tags take {n} characters; YouTube allows {TAGS_MAX}")
        return problems

    # --- calls ------------------------------------------------------------------

    def _send(self, ctx: PublishContext, client: httpx.Client, method: str, url: str, **kw) -> httpx.Response:
        """One call with the account's token; a 401 refreshes it once (another worker may have)."""
        return send_authorized(ctx, client, method, url, what="YouTube", **kw)

    def publish(self, ctx: PublishContext) -> PublishResult:
        video = ctx.media[0]  # validation let exactly one video through
        with httpx.Client(timeout=TIMEOUT) as client:
            found = None
            if is_session(ctx.remote_id):  # an earlier attempt opened one: carry on with it
                found = self._ask_session(ctx, client, ctx.remote_id, video.size)
            if isinstance(found, dict):
                return self._result(found)
            if isinstance(found, int):
                session, offset = ctx.remote_id, found
            else:  # no session yet, or it expired (Google keeps one about a week)
                session, offset = self._open_session(ctx, client, video), 0
            return self._result(self._upload(ctx, client, session, video, offset))

    def _open_session(self, ctx: PublishContext, client: httpx.Client, video: MediaItem) -> str:
        settings = ctx.account_settings
        snippet = {"title": video_title(ctx.title, ctx.body, ctx.media), "description": ctx.body,
                   "categoryId": str(settings.get("category_id") or DEFAULT_CATEGORY)}
        tags = [t.lstrip("#") for t in ctx.tags if t.strip("#")]
        if tags:
            snippet["tags"] = tags
        meta = {"snippet": snippet, "status": {
            "privacyStatus": settings.get("privacy_status") or "public",
            "selfDeclaredMadeForKids": bool(settings.get("made_for_kids"))}}
        try:
            answer = self._send(ctx, client, "POST", f"{self.url()}/upload/youtube/v3/videos",
                                params={"uploadType": "resumable", "part": "snippet,status"},
                                content=json.dumps(meta).encode(),
                                headers={"Content-Type": "application/json; charset=UTF-8",
                                         "X-Upload-Content-Length": str(video.size),
                                         "X-Upload-Content-Type": video.mime})
        except httpx.TransportError as exc:
            # Not a byte of the video went: whatever YouTube made of this request, no video exists.
            raise TemporaryError(f"YouTube did not answer the upload request ({exc}); nothing was "
                                 "uploaded", code="no_answer") from exc
        raise_for_youtube(answer)
        session = answer.headers.get("Location")
        if not is_session(session):
            raise TemporaryError("YouTube opened no upload session (no Location)", raw=answer.text[:2000])
        if ctx.note_remote_id is not None:
            ctx.note_remote_id(session)
        return session

    def _ask_session(self, ctx, client, session: str, size: int) -> dict | int | None:
        """What the session holds: the finished video, the next byte it wants, or None (expired)."""
        answer = self._send(ctx, client, "PUT", session, content=b"",
                            headers={"Content-Range": f"bytes */{size}"})
        if answer.status_code == 308:
            return next_offset(answer)
        if answer.status_code in (404, 410):
            return None
        raise_for_youtube(answer)
        return answer.json()

    def _upload(self, ctx, client, session: str, video: MediaItem, offset: int) -> dict:
        size = video.size
        chunk = int(self.config.platform_setting(self.name, "chunk_size", str(CHUNK)))
        resumes = int(self.config.platform_setting(self.name, "upload_resumes", "5"))
        with (video.open() if video.open else open(video.path, "rb")) as fh:
            while True:
                fh.seek(offset)
                data = fh.read(chunk)
                last = offset + len(data) >= size
                broken = None
                try:
                    answer = self._send(ctx, client, "PUT", session, content=data, headers={
                        "Content-Type": video.mime,
                        "Content-Range": f"bytes {offset}-{offset + len(data) - 1}/{size}"})
                except httpx.TransportError as exc:
                    answer, broken = None, exc
                if answer is not None:
                    if answer.is_success:
                        return answer.json()
                    if answer.status_code == 308:
                        offset = next_offset(answer)
                        continue
                    if answer.status_code in (404, 410):
                        raise TemporaryError("the upload session expired; the next attempt opens a new one",
                                             code="session_expired")
                    if answer.status_code not in RESUME_STATUSES:
                        raise_for_youtube(answer)
                # A broken connection or a 5xx: ask the session what arrived, resume from there.
                if resumes <= 0:
                    raise TemporaryError(f"the upload of {video.filename} was interrupted too often; "
                                         "the next attempt resumes it", code="upload_interrupted")
                resumes -= 1
                try:
                    found = self._ask_session(ctx, client, session, size)
                except httpx.TransportError as exc:
                    if not last:  # YouTube makes the video only from its last byte: none exists yet
                        raise TemporaryError(f"the upload of {video.filename} broke off ({exc}); the "
                                             "next attempt resumes it", code="upload_interrupted") from exc
                    raise  # the last chunk may have completed the video: unknown, reconcile asks
                if isinstance(found, dict):
                    return found
                if found is None:
                    raise TemporaryError("the upload session expired; the next attempt opens a new one",
                                         code="session_expired") from broken
                offset = found

    def _result(self, video: dict) -> PublishResult:
        status = video.get("status") or {}
        if status.get("uploadStatus") in ("failed", "rejected"):
            why = status.get("failureReason") or status.get("rejectionReason") or status["uploadStatus"]
            raise PermanentError(f"YouTube did not take the video: {why}", raw=video)
        if not video.get("id"):
            raise PermanentError("YouTube finished the upload but named no video", raw=video)
        return PublishResult(remote_id=video["id"], url=f"https://www.youtube.com/watch?v={video['id']}",
                             raw=video)

    # --- after an unknown outcome -------------------------------------------------

    def reconcile(self, ctx: PublishContext):
        if not is_session(ctx.remote_id):
            return False  # no session was opened, so no byte went: there is no video
        with httpx.Client(timeout=TIMEOUT) as client:
            found = self._ask_session(ctx, client, ctx.remote_id, ctx.media[0].size)
        if isinstance(found, dict):
            return self._result(found)
        # Incomplete or expired: no video exists. The retry resumes this session (or opens one).
        return False

    def metrics(self, ctx: PublishContext):
        if not ctx.remote_id or is_session(ctx.remote_id):
            return None  # marked published by hand while the upload was unfinished: no video id
        with httpx.Client(timeout=TIMEOUT) as client:
            answer = self._send(ctx, client, "GET", f"{self.url()}/youtube/v3/videos",
                                params={"part": "statistics", "id": ctx.remote_id})
        raise_for_youtube(answer)
        items = answer.json().get("items") or []
        if not items:
            raise PermanentError(f"YouTube has no video {ctx.remote_id} (deleted, or private to another channel)")
        s = items[0].get("statistics") or {}
        # YouTube counts no shares; likeCount is absent when the owner hides it.
        return PostMetrics(views=_int(s.get("viewCount")), likes=_int(s.get("likeCount")),
                           comments=_int(s.get("commentCount")), shares=None, raw=s)
