"""YouTube (Data API v3) as far as a publisher sees it, with Google's OAuth 2.0 server.

Enforces:
* OAuth (``OAuthFake``): PKCE S256, the client id and secret in the form, the
  ``youtube.upload`` and ``youtube.readonly`` scopes; a refresh token only with
  ``access_type=offline``; refresh tokens are NOT rotated (a refresh answer carries none).
* A bearer access token on every call, upload PUTs included.
* ``videos.insert`` with the resumable protocol: ``POST /upload/youtube/v3/videos
  ?uploadType=resumable&part=…`` with a JSON video resource, ``X-Upload-Content-Length``
  and a video ``X-Upload-Content-Type`` → 200 + ``Location`` (the session URI). Then PUTs
  to the session with ``Content-Range: bytes a-b/total``: contiguous from what arrived,
  every chunk but the last a multiple of ``chunk_granularity`` (256 KiB at Google), 308 +
  ``Range: bytes=0-n`` until the last byte, then 201 + the video resource. ``Content-Range:
  bytes */total`` with no body asks the session's state (308 / 201); an unknown session 404.
* The metadata: a title (1–100 characters), a description of at most 5,000 bytes, neither
  with ``<`` or ``>``, tags of at most 500 characters as YouTube counts them, a known
  category and privacy status.
* The project's daily quota: 10,000 units, 1,600 per insert → 403 ``quotaExceeded``;
  the channel's upload cap → 400 ``uploadLimitExceeded``.
* Errors in Google's shape: ``{"error": {"code", "message", "errors": [{"reason", …}]}}``.

Faults: the kit's ``fail_next`` applies to the insert POST (``drop_after_post`` drops the
answer to the PUT that completes the video, after it is made); ``fail_upload`` queues
faults for the following PUTs: ``drop_mid_chunk`` (half the chunk arrives, then the
connection breaks), ``server_error`` (503, nothing kept), ``drop`` (nothing kept, no answer).
"""
from __future__ import annotations

import re
from datetime import datetime, timezone
from urllib.parse import urlencode

from schedulerx.testing.fake_server import DROP, FAULT_ANSWERS, Answer, FakePlatform, OAuthFake, bearer, route

CHANNEL = {"id": "UCsx0000000000000000000a", "title": "Studio Channel", "custom_url": "@studio",
           "uploads": "UUsx0000000000000000000a"}
CATEGORIES = {"1", "2", "10", "15", "17", "19", "20", "22", "23", "24", "25", "26", "27", "28"}
PRIVACY = ("public", "unlisted", "private")
INSERT_COST = 1600
CONTENT_RANGE = re.compile(r"bytes (?:(\d+)-(\d+)|\*)/(\d+)\Z")


def google_error(status: int, reason: str, message: str, domain: str = "youtube.video") -> Answer:
    return Answer(status, {"error": {"code": status, "message": message, "errors": [
        {"message": message, "domain": domain, "reason": reason}]}})


def tags_length(tags) -> int:
    return sum(len(t) + (2 if " " in t else 0) for t in tags) + max(0, len(tags) - 1)


class YouTubeFake(OAuthFake, FakePlatform):
    reject_message = "The snippet.categoryId property specifies an invalid category ID."
    rate_limit_wait = 120
    access_token_ttl = 3599
    rotate_refresh_tokens = False
    scopes_required = ("https://www.googleapis.com/auth/youtube.upload",
                       "https://www.googleapis.com/auth/youtube.readonly")

    def __init__(self, chunk_granularity: int = 256 * 1024):
        FakePlatform.__init__(self)
        self.oauth_init()
        self.chunk_granularity = chunk_granularity
        self.quota_units_left = 10_000
        self.uploads_left = 100               # the channel's own daily cap
        self.has_channel = True
        self.long_uploads = "allowed"
        self.sessions: dict[str, dict] = {}
        self.videos: list[dict] = []
        self.upload_faults: list[str] = []
        self.offline_codes: set[str] = set()
        self.bytes_received = 0               # over every upload PUT, resent bytes included
        self.status_queries = 0               # PUTs with Content-Range: bytes */total
        self.stats = {"viewCount": "120", "likeCount": "9", "favoriteCount": "0", "commentCount": "2"}

    def fail_upload(self, *kinds: str) -> None:
        for kind in kinds:
            assert kind in ("drop_mid_chunk", "server_error", "drop", "ok"), kind
        with self.lock:
            self.upload_faults.extend(kinds)

    # --- OAuth (accounts.google.com, oauth2.googleapis.com) -----------------------

    @route("GET", r"/o/oauth2/v2/auth")
    def oauth_authorize(self, req):
        answer = self.authorize(req)
        if answer.status == 302 and req.query.get("access_type") == "offline":
            code = re.search(r"[?&]code=([^&]+)", answer.headers["Location"]).group(1)
            with self.lock:
                self.offline_codes.add(code)
        return answer

    @route("POST", r"/token")
    def oauth_token(self, req):
        form = req.form()
        offline = form.get("code") in self.offline_codes
        answer = self.token(req)
        if answer.status == 200 and form.get("grant_type") == "authorization_code" and not offline:
            # Without access_type=offline Google gives no refresh token.
            with self.lock:
                self.refresh_tokens.discard(answer.body.pop("refresh_token", None))
        return answer

    def _client_ok(self, req, form):
        # A web client: Google wants the secret too.
        return form.get("client_id") == self.client_id and form.get("client_secret") == self.client_secret

    def _auth(self, req):
        if not self.token_ok(req):
            message = ("Request had invalid authentication credentials. Expected OAuth 2 access token, "
                       "login cookie or other valid authentication credential.")
            return Answer(401, {"error": {"code": 401, "message": message, "status": "UNAUTHENTICATED",
                                          "errors": [{"message": "Invalid Credentials", "domain": "global",
                                                      "reason": "authError", "location": "Authorization",
                                                      "locationType": "header"}]}})
        return None

    # --- error shapes -------------------------------------------------------------

    def rate_limited(self):
        answer = google_error(429, "rateLimitExceeded", "Too many requests. Try again later.", "usageLimits")
        answer.headers["Retry-After"] = str(self.rate_limit_wait)
        return answer

    def server_error(self):
        return google_error(503, "backendError", "Backend Error", "global")

    def rejected(self):
        return google_error(400, "invalidCategoryId", self.reject_message)

    # --- channels and videos ----------------------------------------------------------

    @route("GET", r"/youtube/v3/channels")
    def channels(self, req):
        if (problem := self._auth(req)):
            return problem
        if req.query.get("mine") != "true" or not req.query.get("part"):
            return google_error(400, "missingRequiredParameter", "No filter selected.", "youtube.parameter")
        parts = set(req.query["part"].split(","))
        item = {"kind": "youtube#channel", "id": CHANNEL["id"]}
        if "snippet" in parts:
            item["snippet"] = {"title": CHANNEL["title"], "customUrl": CHANNEL["custom_url"]}
        if "contentDetails" in parts:
            item["contentDetails"] = {"relatedPlaylists": {"likes": "", "uploads": CHANNEL["uploads"]}}
        if "status" in parts:
            item["status"] = {"privacyStatus": "public", "longUploadsStatus": self.long_uploads}
        return Answer(200, {"kind": "youtube#channelListResponse",
                            "items": [item] if self.has_channel else []})

    @route("GET", r"/youtube/v3/videos")
    def videos_list(self, req):
        if (problem := self._auth(req)):
            return problem
        wanted = set((req.query.get("id") or "").split(","))
        with self.lock:
            items = [{"kind": "youtube#video", "id": v["id"], "statistics": dict(self.stats)}
                     for v in self.videos if v["id"] in wanted]
        return Answer(200, {"kind": "youtube#videoListResponse", "items": items})

    # --- videos.insert: the resumable upload ------------------------------------------

    def _metadata_problem(self, meta) -> Answer | None:
        if not isinstance(meta, dict) or not isinstance(meta.get("snippet"), dict):
            return google_error(400, "invalidVideoMetadata", "The request metadata is invalid.")
        snippet, status = meta["snippet"], meta.get("status") or {}
        title, description = snippet.get("title") or "", snippet.get("description") or ""
        if not title.strip() or len(title) > 100 or "<" in title or ">" in title:
            return google_error(400, "invalidTitle", "The request metadata specifies an invalid or empty video title.")
        if len(description.encode()) > 5000 or "<" in description or ">" in description:
            return google_error(400, "invalidDescription", "The request metadata specifies an invalid video description.")
        if tags_length(snippet.get("tags") or []) > 500:
            return google_error(400, "invalidTags", "The request metadata specifies invalid video keywords.")
        if snippet.get("categoryId") not in CATEGORIES:
            return google_error(400, "invalidCategoryId", self.reject_message)
        if status.get("privacyStatus", "public") not in PRIVACY:
            return google_error(400, "invalidVideoMetadata", "The request metadata specifies an invalid privacy status.")
        return None

    @route("POST", r"/upload/youtube/v3/videos")
    def insert(self, req):
        if (problem := self._auth(req)):
            return problem
        if req.query.get("uploadType") != "resumable":
            return google_error(400, "invalidParameter", "uploadType must be resumable here.", "global")
        parts = set((req.query.get("part") or "").split(","))
        if not {"snippet", "status"} <= parts:
            return google_error(400, "unexpectedPart", "part must name snippet and status to set them.",
                                "youtube.part")
        if not (req.headers.get("Content-Type") or "").startswith("application/json"):
            return google_error(400, "badContent", "The metadata must be JSON.", "global")
        mime = req.headers.get("X-Upload-Content-Type") or ""
        try:
            size = int(req.headers.get("X-Upload-Content-Length") or "")
        except ValueError:
            return google_error(400, "badRequest", "X-Upload-Content-Length is required.", "global")
        if not (mime.startswith("video/") or mime == "application/octet-stream") or size <= 0:
            return google_error(400, "invalidFileType", "Media type '%s' is not supported." % mime, "global")
        fault = self.take_fault()
        if fault in FAULT_ANSWERS:
            return self.fault_answer(fault)
        if fault == "drop_before_post":
            return DROP
        meta = req.json()
        if (problem := self._metadata_problem(meta)):
            return problem
        with self.lock:
            if self.quota_units_left < INSERT_COST:
                return google_error(403, "quotaExceeded", 'The request cannot be completed because you have '
                                    'exceeded your <a href="/youtube/v3/getting-started#quota">quota</a>.',
                                    "youtube.quota")
            if self.uploads_left <= 0:
                return google_error(400, "uploadLimitExceeded",
                                    "The user has exceeded the number of videos they may upload.")
            self.quota_units_left -= INSERT_COST
            upload_id = f"AUpl{len(self.sessions) + 1:04d}xsx"
            self.sessions[upload_id] = {"meta": meta, "size": size, "mime": mime, "data": bytearray(),
                                        "video": None, "drop_when_made": fault == "drop_after_post"}
        query = urlencode({"uploadType": "resumable", "upload_id": upload_id, "part": req.query["part"]})
        return Answer(200, b"", {"Location": f"{self.url}/upload/youtube/v3/videos?{query}"})

    @route("PUT", r"/upload/youtube/v3/videos")
    def upload(self, req):
        if (problem := self._auth(req)):
            return problem
        with self.lock:
            session = self.sessions.get(req.query.get("upload_id", ""))
            if session is None:
                return Answer(404, "Not Found")
            fault = self.upload_faults.pop(0) if self.upload_faults else None
            m = CONTENT_RANGE.match(req.headers.get("Content-Range") or "")
            if not m or int(m.group(3)) != session["size"]:
                return google_error(400, "badContent", "Content-Range must be bytes a-b/total of this upload.",
                                    "global")
            if fault == "drop":
                return DROP
            if fault == "server_error":
                return self.server_error()
            if m.group(1) is None:  # bytes */total: where are we?
                self.status_queries += 1
                if req.body:
                    return google_error(400, "badContent", "A status query carries no bytes.", "global")
                return self._state(session)
            if session["video"] is not None:
                return Answer(200, session["video"])
            start, end = int(m.group(1)), int(m.group(2))
            have = len(session["data"])
            if start != have or end - start + 1 != len(req.body) or end >= session["size"]:
                return google_error(400, "badContent", f"Expected bytes from {have}, got {start}-{end} "
                                    f"with {len(req.body)} bytes.", "global")
            final = end == session["size"] - 1
            if not final and len(req.body) % self.chunk_granularity:
                return google_error(400, "badContent", f"Chunks but the last must be multiples of "
                                    f"{self.chunk_granularity} bytes.", "global")
            body = req.body[:len(req.body) // 2] if fault == "drop_mid_chunk" else req.body
            session["data"] += body
            self.bytes_received += len(body)
            if fault == "drop_mid_chunk":
                return DROP
            if not final:
                return self._state(session)
            video = self._make_video(session)
            if session["drop_when_made"]:
                return DROP
        return Answer(201, video)

    def _state(self, session) -> Answer:
        if session["video"] is not None:
            return Answer(201, session["video"])
        have = len(session["data"])
        return Answer(308, b"", {"Range": f"bytes=0-{have - 1}"} if have else {})

    def _make_video(self, session) -> dict:
        snippet, status = session["meta"]["snippet"], session["meta"].get("status") or {}
        post = self.store_post(text=snippet.get("description") or "", title=snippet["title"],
                               tags=snippet.get("tags") or [], media=[session["mime"]],
                               data=bytes(session["data"]), privacy=status.get("privacyStatus", "public"))
        video_id = f"SxVid{int(post['id']):06d}"
        video = {"kind": "youtube#video", "id": video_id, "snippet": {
            "publishedAt": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "channelId": CHANNEL["id"], "title": snippet["title"],
            "description": snippet.get("description") or "", "tags": snippet.get("tags") or [],
            "categoryId": snippet["categoryId"]},
            "status": {"uploadStatus": "uploaded", "privacyStatus": status.get("privacyStatus", "public"),
                       "selfDeclaredMadeForKids": bool(status.get("selfDeclaredMadeForKids"))}}
        session["video"] = video
        self.videos.append(video)
        self.uploads_left -= 1
        return video
