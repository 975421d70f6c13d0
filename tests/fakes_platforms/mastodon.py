"""A Mastodon instance, as far as a publisher sees it.

Enforces: the bearer token; ``/api/v2/media`` multipart uploads with the
instance's types and sizes, video processed asynchronously (202, then 206 on
``GET /api/v1/media/:id`` until done); statuses with at most 4 images or 1 video,
only processed media, the instance's character limit, and the ``Idempotency-Key``
(a repeated key answers the first status, it is not stored twice — and this fake
refuses a status without one, so a publisher that forgets it fails loudly).
429 carries ``X-RateLimit-Reset`` as an ISO 8601 time, as Mastodon sends it.
"""
from __future__ import annotations

import html
from datetime import datetime, timedelta, timezone

from schedulerx.testing.fake_server import DROP, FAULT_ANSWERS, Answer, FakePlatform, bearer, route

IMAGE_TYPES = ("image/png", "image/jpeg", "image/gif", "image/webp")
VIDEO_TYPES = ("video/mp4", "video/webm", "video/quicktime")
ACCOUNT_ID = "109"


def _now() -> datetime:
    return datetime.now(timezone.utc)


class MastodonFake(FakePlatform):
    reject_message = "Text contains a URL that is blocked on this instance"
    rate_limit_wait = 300
    max_characters = 500

    def __init__(self, token: str = "good-token-123", processing_polls: int = 1):
        super().__init__()
        self.tokens = {token}
        self.token = token
        self.processing_polls = processing_polls  # GETs answered 206 before a video is ready
        self.media: dict[str, dict] = {}
        self.by_key: dict[str, dict] = {}  # Idempotency-Key → status
        self.statuses: list[dict] = []
        self.keys_seen: list[str | None] = []  # Idempotency-Key of every status request

    # --- helpers -------------------------------------------------------------

    def _auth(self, req):
        if bearer(req) not in self.tokens:
            return Answer(401, {"error": "The access token is invalid"})
        return None

    def revoke_access_tokens(self):
        with self.lock:
            self.tokens.clear()

    def rate_limited(self):
        reset = (_now() + timedelta(seconds=self.rate_limit_wait)).isoformat().replace("+00:00", "Z")
        return Answer(429, {"error": "Too many requests"},
                      {"X-RateLimit-Limit": "300", "X-RateLimit-Remaining": "0", "X-RateLimit-Reset": reset})

    def rejected(self):
        return Answer(422, {"error": f"Validation failed: {self.reject_message}"})

    def _status_json(self, status: dict) -> dict:
        return {**status, "content": "<p>" + html.escape(status["text"]).replace("\n", "<br />") + "</p>",
                "url": f"{self.url}/@studio/{status['id']}", "uri": f"{self.url}/users/studio/statuses/{status['id']}",
                "favourites_count": 3, "reblogs_count": 2, "replies_count": 1}

    # --- account and instance -----------------------------------------------

    @route("GET", r"/api/v1/accounts/verify_credentials")
    def verify_credentials(self, req):
        return self._auth(req) or Answer(200, {"id": ACCOUNT_ID, "username": "studio", "acct": "studio",
                                               "display_name": "Studio"})

    @route("GET", r"/api/v2/instance")
    def instance(self, req):
        return Answer(200, {"domain": "127.0.0.1", "configuration": {
            "statuses": {"max_characters": self.max_characters, "max_media_attachments": 4},
            "media_attachments": {"supported_mime_types": list(IMAGE_TYPES + VIDEO_TYPES),
                                  "image_size_limit": 16777216, "video_size_limit": 103809024}}})

    # --- media ------------------------------------------------------------------

    @route("POST", r"/api/v2/media")
    def upload(self, req):
        if (problem := self._auth(req)):
            return problem
        file = req.multipart().get("file")
        if not isinstance(file, tuple):
            return Answer(422, {"error": "Validation failed: File can't be blank"})
        _name, ctype, data = file
        if ctype not in IMAGE_TYPES + VIDEO_TYPES:
            return Answer(422, {"error": f"Validation failed: File content type {ctype} is invalid"})
        kind = "image" if ctype in IMAGE_TYPES else "video"
        with self.lock:
            media_id = str(1000 + len(self.media))
            self.media[media_id] = {"id": media_id, "type": kind, "size": len(data),
                                    "polls_left": self.processing_polls if kind == "video" else 0}
        if kind == "video":
            return Answer(202, {"id": media_id, "type": kind, "url": None})
        return Answer(200, {"id": media_id, "type": kind, "url": f"{self.url}/media/{media_id}"})

    @route("GET", r"/api/v1/media/(?P<id>\d+)")
    def media_status(self, req):
        if (problem := self._auth(req)):
            return problem
        with self.lock:
            m = self.media.get(req.params["id"])
            if m is None:
                return Answer(404, {"error": "Record not found"})
            if m["polls_left"] > 0:
                m["polls_left"] -= 1
                return Answer(206, {"id": m["id"], "type": m["type"], "url": None})
        return Answer(200, {"id": m["id"], "type": m["type"], "url": f"{self.url}/media/{m['id']}"})

    # --- statuses ----------------------------------------------------------------

    @route("POST", r"/api/v1/statuses")
    def create_status(self, req):
        if (problem := self._auth(req)):
            return problem
        key = req.headers.get("Idempotency-Key")
        with self.lock:
            self.keys_seen.append(key)
        if not key:
            return Answer(400, {"error": "this fake requires an Idempotency-Key on every status"})
        with self.lock:
            if key in self.by_key:  # Mastodon answers the status already made for this key
                return Answer(200, self._status_json(self.by_key[key]))
        fault = self.take_fault()
        if fault in FAULT_ANSWERS:
            return self.fault_answer(fault)
        if fault == "drop_before_post":
            return DROP
        body = req.json() or {}
        text, media_ids = body.get("status") or "", [str(m) for m in body.get("media_ids") or []]
        if not text and not media_ids:
            return Answer(422, {"error": "Validation failed: Text can't be blank"})
        if len(text) > self.max_characters:
            return Answer(422, {"error": f"Validation failed: Text character limit of {self.max_characters} exceeded"})
        with self.lock:
            found = [self.media.get(m) for m in media_ids]
            if None in found:
                return Answer(422, {"error": "Validation failed: Media attachments are invalid"})
            if any(m["polls_left"] > 0 for m in found):
                return Answer(422, {"error": "Cannot attach files that have not finished processing. Try again in a moment!"})
            kinds = [m["type"] for m in found]
            if len(found) > 4 or ("video" in kinds and len(found) > 1):
                return Answer(422, {"error": "Cannot attach a video to a post that already contains images, or more than 4 images"})
            post = self.store_post(text=text, media=media_ids, key=key, visibility=body.get("visibility"))
            status = {"id": str(110000 + int(post["id"])), "text": text, "created_at": _now().isoformat().replace("+00:00", "Z"),
                      "visibility": body.get("visibility", "public"),
                      "media_attachments": [{"id": m, "type": k} for m, k in zip(media_ids, kinds)]}
            self.by_key[key] = status
            self.statuses.insert(0, status)
        if fault == "drop_after_post":
            return DROP
        return Answer(200, self._status_json(status))

    @route("GET", r"/api/v1/accounts/(?P<id>\d+)/statuses")
    def account_statuses(self, req):
        if (problem := self._auth(req)):
            return problem
        limit = min(int(req.query.get("limit", 20)), 40)
        with self.lock:
            page = [self._status_json(s) for s in self.statuses[:limit]] if req.params["id"] == ACCOUNT_ID else []
        return Answer(200, page)

    @route("GET", r"/api/v1/statuses/(?P<id>\d+)")
    def get_status(self, req):
        if (problem := self._auth(req)):
            return problem
        with self.lock:
            for s in self.statuses:
                if s["id"] == req.params["id"]:
                    return Answer(200, self._status_json(s))
        return Answer(404, {"error": "Record not found"})
