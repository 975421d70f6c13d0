"""X (API v2) as far as a publisher sees it, with its OAuth 2.0 server.

Enforces: OAuth 2.0 with PKCE S256, the registered client in HTTP Basic auth,
single-use codes, rotating single-use refresh tokens (``OAuthFake``); a bearer
access token on every call; the chunked upload protocol (INIT with type, size and
a matching ``media_category``, APPEND segments in order, FINALIZE only when every
byte arrived, STATUS while a video is processed); ``POST /2/tweets`` with X's
weighted length (280), at most 4 images or 1 video, only finished media, and
X's refusal of duplicate text. 429 carries ``x-rate-limit-reset`` (a Unix time).
The timeline shows links shortened to t.co, as X does.
"""
from __future__ import annotations

import math
import re
import time
from datetime import datetime, timezone

from twitter_text import parse_tweet

from schedulerx.testing.fake_server import DROP, FAULT_ANSWERS, Answer, FakePlatform, OAuthFake, route

USER = {"id": "2244994945", "name": "Studio", "username": "studio"}
IMAGE_TYPES = ("image/jpeg", "image/png", "image/gif", "image/webp")
VIDEO_TYPES = ("video/mp4", "video/quicktime")
URL = re.compile(r"https?://\S+")


def _iso(dt: datetime) -> str:
    return dt.strftime("%Y-%m-%dT%H:%M:%S.000Z")


class XFake(OAuthFake, FakePlatform):
    reject_message = "You are not permitted to perform this action."
    rate_limit_wait = 900
    scopes_required = ("tweet.write", "users.read", "offline.access", "media.write")

    def __init__(self, processing_polls: int = 1):
        FakePlatform.__init__(self)
        self.oauth_init()
        self.processing_polls = processing_polls
        self.uploads: dict[str, dict] = {}
        self.tweets: list[dict] = []  # newest first

    # --- OAuth ----------------------------------------------------------------

    @route("GET", r"/i/oauth2/authorize")
    def oauth_authorize(self, req):
        return self.authorize(req)

    @route("POST", r"/2/oauth2/token")
    def oauth_token(self, req):
        return self.token(req)

    def _auth(self, req):
        if not self.token_ok(req):
            return Answer(401, {"title": "Unauthorized", "type": "about:blank", "status": 401,
                                "detail": "Unauthorized"})
        return None

    # --- error shapes -----------------------------------------------------------

    def rate_limited(self):
        reset = math.ceil(time.time() + self.rate_limit_wait)
        return Answer(429, {"title": "Too Many Requests", "detail": "Too Many Requests",
                            "type": "about:blank", "status": 429},
                      {"x-rate-limit-limit": "200", "x-rate-limit-remaining": "0",
                       "x-rate-limit-reset": str(reset)})

    def server_error(self):
        return Answer(503, {"title": "Service Unavailable", "detail": "Service Unavailable",
                            "type": "about:blank", "status": 503})

    def rejected(self):
        return Answer(403, {"title": "Forbidden", "detail": self.reject_message,
                            "type": "about:blank", "status": 403})

    @staticmethod
    def _invalid(message: str, status: int = 400):
        return Answer(status, {"title": "Invalid Request", "detail": message, "status": status,
                               "errors": [{"message": message}]})

    # --- users ------------------------------------------------------------------

    @route("GET", r"/2/users/me")
    def me(self, req):
        return self._auth(req) or Answer(200, {"data": USER})

    # --- chunked media upload ---------------------------------------------------

    @route("POST", r"/2/media/upload")
    def media_upload(self, req):
        if (problem := self._auth(req)):
            return problem
        form = req.multipart() or req.form()
        command = form.get("command")
        with self.lock:
            if command == "INIT":
                mtype, category = form.get("media_type"), form.get("media_category")
                try:
                    total = int(form.get("total_bytes", ""))
                except ValueError:
                    return self._invalid("total_bytes is required")
                if mtype not in IMAGE_TYPES + VIDEO_TYPES:
                    return self._invalid(f"media_type {mtype} is not supported")
                expected = "tweet_gif" if mtype == "image/gif" else \
                    ("tweet_image" if mtype in IMAGE_TYPES else "tweet_video")
                if category != expected:
                    return self._invalid(f"media_category must be {expected} for {mtype}")
                media_id = str(1880028106020515840 + len(self.uploads))
                self.uploads[media_id] = {"type": mtype, "total": total, "received": 0, "segments": 0,
                                          "state": "uploading", "polls_left": 0}
                return Answer(200, {"data": {"id": media_id, "media_key": f"13_{media_id}",
                                             "expires_after_secs": 86400}})
            up = self.uploads.get(form.get("media_id", ""))
            if up is None:
                return self._invalid("media_id is unknown")
            if command == "APPEND":
                chunk = form.get("media")
                if up["state"] != "uploading" or not isinstance(chunk, tuple):
                    return self._invalid("APPEND needs a media part, before FINALIZE")
                if form.get("segment_index") != str(up["segments"]):
                    return self._invalid(f"segment_index must be {up['segments']}")
                up["segments"] += 1
                up["received"] += len(chunk[2])
                if up["received"] > up["total"]:
                    return self._invalid("more bytes than total_bytes")
                return Answer(204)
            if command == "FINALIZE":
                if up["received"] != up["total"]:
                    return self._invalid(f"got {up['received']} of {up['total']} bytes")
                data = {"id": form["media_id"], "size": up["total"], "expires_after_secs": 86400}
                if up["type"] in VIDEO_TYPES:
                    up["state"], up["polls_left"] = "pending", self.processing_polls
                    data["processing_info"] = {"state": "pending", "check_after_secs": 0}
                else:
                    up["state"] = "succeeded"
                return Answer(200, {"data": data})
        return self._invalid(f"unknown command {command}")

    @route("GET", r"/2/media/upload")
    def media_status(self, req):
        if (problem := self._auth(req)):
            return problem
        if req.query.get("command") != "STATUS":
            return self._invalid("command=STATUS expected")
        with self.lock:
            up = self.uploads.get(req.query.get("media_id", ""))
            if up is None or up["state"] == "uploading":
                return self._invalid("media_id is unknown or not finalized")
            if up["state"] != "succeeded":
                if up["polls_left"] > 0:
                    up["polls_left"] -= 1
                    up["state"] = "in_progress"
                    return Answer(200, {"data": {"id": req.query["media_id"], "processing_info": {
                        "state": "in_progress", "check_after_secs": 0, "progress_percent": 50}}})
                up["state"] = "succeeded"
        return Answer(200, {"data": {"id": req.query["media_id"],
                                     "processing_info": {"state": "succeeded", "progress_percent": 100}}})

    # --- posts --------------------------------------------------------------------

    @route("POST", r"/2/tweets")
    def create(self, req):
        if (problem := self._auth(req)):
            return problem
        fault = self.take_fault()
        if fault in FAULT_ANSWERS:
            return self.fault_answer(fault)
        if fault == "drop_before_post":
            return DROP
        body = req.json() or {}
        text = body.get("text") or ""
        media_ids = [str(m) for m in (body.get("media") or {}).get("media_ids") or []]
        if not text and not media_ids:
            return self._invalid("text or media is required")
        if parse_tweet(text).weightedLength > 280:
            return self._invalid("Your Tweet text is too long.", 403)
        with self.lock:
            ups = [self.uploads.get(m) for m in media_ids]
            if None in ups or any(u["state"] != "succeeded" for u in ups):
                return self._invalid("media is unknown or not processed yet")
            videos = [u for u in ups if u["type"] in VIDEO_TYPES]
            if len(ups) > 4 or (videos and len(ups) > 1):
                return self._invalid("up to 4 images or 1 video")
            if any(t["text"] == text for t in self.tweets):
                return Answer(403, {"title": "Forbidden", "status": 403, "type": "about:blank",
                                    "detail": "You are not allowed to create a Tweet with duplicate content."})
            post = self.store_post(text=text, media=media_ids)
            tweet = {"id": str(1445880548472328192 + int(post["id"])), "text": text,
                     "created_at": datetime.now(timezone.utc)}
            self.tweets.insert(0, tweet)
        if fault == "drop_after_post":
            return DROP
        return Answer(201, {"data": {"id": tweet["id"], "text": text}})

    @route("GET", r"/2/users/(?P<id>\d+)/tweets")
    def timeline(self, req):
        if (problem := self._auth(req)):
            return problem
        start = req.query.get("start_time")
        since = datetime.fromisoformat(start.replace("Z", "+00:00")) if start else None
        limit = min(int(req.query.get("max_results", 10)), 100)
        with self.lock:
            rows = [t for t in self.tweets if req.params["id"] == USER["id"]
                    and (since is None or t["created_at"] >= since)][:limit]
        data = [{"id": t["id"], "created_at": _iso(t["created_at"]),
                 "text": URL.sub("https://t.co/AbCdEf1234", t["text"])} for t in rows]
        return Answer(200, {"data": data, "meta": {"result_count": len(data)}} if data
                      else {"meta": {"result_count": 0}})

    @route("GET", r"/2/tweets/(?P<id>\d+)")
    def lookup(self, req):
        if (problem := self._auth(req)):
            return problem
        with self.lock:
            for t in self.tweets:
                if t["id"] == req.params["id"]:
                    return Answer(200, {"data": {"id": t["id"], "text": t["text"], "public_metrics": {
                        "retweet_count": 4, "reply_count": 2, "like_count": 9, "quote_count": 1,
                        "impression_count": 120}}})
        return Answer(404, {"title": "Not Found Error", "detail": f"Could not find tweet with id: [{req.params['id']}]."})
