"""TikTok (Content Posting API, Direct Post) as far as a publisher sees it, with its OAuth v2 server.

Enforces:
* OAuth (``OAuthFake``): ``client_key`` in the authorize query and the token form, the
  client secret in the form, comma-separated scopes, PKCE optional (a web app), single-use
  codes and rotating single-use refresh tokens; token answers carry ``open_id`` and a
  comma-separated ``scope``.
* A bearer user token and a JSON body on every API call; ``video.publish`` granted for
  posting, ``video.list`` for ``video/query``.
* ``creator_info/query`` answers the privacy levels the creator may use now; ``video/init``
  refuses a privacy level not among them (and anything but SELF_ONLY for an unaudited
  app), a caption over 2,200 UTF-16 units, PULL_FROM_URL from an unverified domain, and a
  FILE_UPLOAD chunk plan breaking TikTok's rules: ``chunk_size`` between ``min_chunk_size``
  (5 MB at TikTok; tests set less) and 64 MB, ``total_chunk_count = video_size //
  chunk_size``, a video smaller than the minimum sent whole, 1–1,000 chunks.
* 6 init requests per minute per user token (``now`` can be frozen by a test), and a
  creator's daily post cap (``spam_risk_too_many_posts``).
* The upload: PUTs to ``upload_url`` (its own token, no bearer) with a video Content-Type and
  ``Content-Range: bytes a-b/total``, in order, each chunk exactly ``chunk_size`` but the
  last (which ends the file); 206 until the last, then 201.
* ``status/fetch``: PROCESSING_UPLOAD (``uploaded_bytes``) → PUBLISH_COMPLETE after
  ``processing_polls`` fetches, or FAILED with a ``fail_reason`` (a file that is not a
  video). Only a public post gets ``publicaly_available_post_id`` (sic).
* Errors as ``{"data": {}, "error": {"code", "message", "log_id"}}``; a 429 has no Retry-After.

Faults: the kit's ``fail_next`` applies to ``video/init`` (``drop_after_post`` drops the
answer to the PUT that completes the upload, after TikTok has the video); ``fail_upload``
queues faults for the next PUTs (``drop``: nothing kept, no answer; ``server_error``; ``ok``);
``fail_status`` for the next status fetches (``drop``).
"""
from __future__ import annotations

import re
import time
from collections import defaultdict

from schedulerx.testing.fake_server import DROP, FAULT_ANSWERS, Answer, FakePlatform, OAuthFake, bearer, route

MB = 1024 * 1024
OPEN_ID = "-000OpenIdOfTheStudio"
CREATOR = {"creator_avatar_url": "https://p16.tiktokcdn.example/avatar.jpeg", "creator_username": "studio",
           "creator_nickname": "Studio"}
PRIVACY = ["PUBLIC_TO_EVERYONE", "MUTUAL_FOLLOW_FRIENDS", "FOLLOWER_OF_CREATOR", "SELF_ONLY"]
VIDEO_TYPES = ("video/mp4", "video/quicktime", "video/webm")
CONTENT_RANGE = re.compile(r"bytes (\d+)-(\d+)/(\d+)\Z")


class TikTokFake(OAuthFake, FakePlatform):
    client_id = "fake-client-key"
    client_id_param = "client_key"
    pkce_required = False
    access_token_ttl = 86400
    scopes_required = ("user.info.basic", "video.publish")
    reject_message = "The user is banned from making new posts."
    rate_limit_wait = 60  # TikTok's window; it sends no Retry-After

    def __init__(self, min_chunk_size: int = 5 * MB):
        FakePlatform.__init__(self)
        self.oauth_init()
        self.min_chunk_size = min_chunk_size
        self.max_chunk_size = 64 * MB
        self.granted_scopes = ["user.info.basic", "video.publish", "video.list"]
        self.privacy_level_options = ["PUBLIC_TO_EVERYONE", "MUTUAL_FOLLOW_FRIENDS", "SELF_ONLY"]
        self.audited = True
        self.comment_disabled = False
        self.max_video_post_duration_sec = 600
        self.processing_polls = 1  # status fetches that answer PROCESSING_UPLOAD once all bytes arrived
        self.processing_failure = None  # a fail_reason to answer instead of PUBLISH_COMPLETE
        self.posts_left_today = 15
        self.now = time.monotonic
        self.init_times: dict[str, list[float]] = defaultdict(list)
        self.publishes: dict[str, dict] = {}
        self.upload_faults: list[str] = []
        self.status_faults: list[str] = []
        self.authorize_queries: list[dict] = []
        self.log_serial = 0
        self.stats = {"view_count": 1200, "like_count": 90, "comment_count": 12, "share_count": 7}

    def fail_upload(self, *kinds: str) -> None:
        assert all(k in ("ok", "drop", "server_error") for k in kinds), kinds
        with self.lock:
            self.upload_faults.extend(kinds)

    def fail_status(self, *kinds: str) -> None:
        assert all(k in ("ok", "drop") for k in kinds), kinds
        with self.lock:
            self.status_faults.extend(kinds)

    def answer(self, status: int = 200, data: dict | None = None, code: str = "ok", message: str = "") -> Answer:
        with self.lock:
            self.log_serial += 1
            log_id = f"20260101000000{self.log_serial:06d}"
        return Answer(status, {"data": data or {}, "error": {"code": code, "message": message, "log_id": log_id}})

    # --- OAuth v2 -------------------------------------------------------------------

    @route("GET", r"/v2/auth/authorize/")
    def oauth_authorize(self, req):
        with self.lock:
            self.authorize_queries.append(dict(req.query))
        return self.authorize(req)

    @route("POST", r"/v2/oauth/token/")
    def oauth_token(self, req):
        return self.token(req)

    def _client_ok(self, req, form):
        return form.get("client_key") == self.client_id and form.get("client_secret") == self.client_secret

    def issue(self) -> dict:
        issued = super().issue()
        issued.update(open_id=OPEN_ID, scope=",".join(self.granted_scopes), token_type="Bearer",
                      refresh_expires_in=31_536_000)
        return issued

    def _auth(self, req, scope: str = "video.publish") -> Answer | None:
        if not self.token_ok(req):
            return self.answer(401, code="access_token_invalid",
                               message="The access token is invalid or not found in the request.")
        if scope not in self.granted_scopes:
            return self.answer(401, code="scope_not_authorized",
                               message="The user did not authorize the scope required for completing this request.")
        if not (req.headers.get("Content-Type") or "").startswith("application/json"):
            return self.answer(400, code="invalid_params", message="Content-Type must be application/json.")
        return None

    # --- error shapes ---------------------------------------------------------------

    def rate_limited(self):
        return self.answer(429, code="rate_limit_exceeded", message="The API rate limit was exceeded. Please try again later.")

    def server_error(self):
        return self.answer(500, code="internal_error", message="Something went wrong. Please try again later.")

    def rejected(self):
        return self.answer(403, code="spam_risk_user_banned_from_posting", message=self.reject_message)

    # --- Direct Post ----------------------------------------------------------------

    def _options(self) -> list[str]:
        return list(self.privacy_level_options) if self.audited else ["SELF_ONLY"]

    @route("POST", r"/v2/post/publish/creator_info/query/")
    def creator_info(self, req):
        if (problem := self._auth(req)):
            return problem
        return self.answer(data={**CREATOR, "privacy_level_options": self._options(),
                                 "comment_disabled": self.comment_disabled, "duet_disabled": False,
                                 "stitch_disabled": False,
                                 "max_video_post_duration_sec": self.max_video_post_duration_sec})

    def _plan_problem(self, source: dict) -> str | None:
        if source.get("source") != "FILE_UPLOAD":
            return None
        try:
            size, chunk, count = (int(source[k]) for k in ("video_size", "chunk_size", "total_chunk_count"))
        except (KeyError, TypeError, ValueError):
            return "video_size, chunk_size and total_chunk_count are required for FILE_UPLOAD"
        if size <= 0:
            return "video_size must be positive"
        if size < self.min_chunk_size:
            return None if (chunk, count) == (size, 1) else \
                "a video smaller than the minimum chunk must be uploaded whole (chunk_size = video_size)"
        if chunk == size and size <= self.max_chunk_size and count == 1:
            return None
        if not self.min_chunk_size <= chunk <= self.max_chunk_size:
            return f"chunk_size must be between {self.min_chunk_size} and {self.max_chunk_size} bytes"
        if count != size // chunk or not 1 <= count <= 1000:
            return f"total_chunk_count must be video_size // chunk_size = {size // chunk} (1 to 1000)"
        if size - (count - 1) * chunk > 128 * MB:
            return "the last chunk may hold at most 128 MB"
        return None

    @route("POST", r"/v2/post/publish/video/init/")
    def video_init(self, req):
        if (problem := self._auth(req)):
            return problem
        token = bearer(req)
        with self.lock:
            now = self.now()
            recent = [t for t in self.init_times[token] if now - t < 60]
            if len(recent) >= 6:
                self.init_times[token] = recent
                return self.rate_limited()
            self.init_times[token] = recent + [now]
        fault = self.take_fault()
        if fault in FAULT_ANSWERS:
            return self.fault_answer(fault)
        if fault == "drop_before_post":
            return DROP
        body = req.json() or {}
        info, source = body.get("post_info") or {}, body.get("source_info") or {}
        caption, privacy = info.get("title") or "", info.get("privacy_level")
        if len(caption.encode("utf-16-le")) // 2 > 2200:
            return self.answer(400, code="invalid_params", message="The title is longer than 2200 runes.")
        if privacy not in PRIVACY:
            return self.answer(400, code="invalid_params", message="privacy_level is required.")
        if not self.audited and privacy != "SELF_ONLY":
            return self.answer(403, code="unaudited_client_can_only_post_to_private_accounts",
                               message="Unaudited clients can only post to private accounts.")
        if privacy not in self._options():
            return self.answer(403, code="privacy_level_option_mismatch",
                               message="The privacy_level is not one of the creator's privacy_level_options.")
        if source.get("source") == "PULL_FROM_URL":
            return self.answer(403, code="url_ownership_unverified",
                               message="The domain of the video_url is not verified by this client.")
        if source.get("source") != "FILE_UPLOAD":
            return self.answer(400, code="invalid_params", message="source must be FILE_UPLOAD or PULL_FROM_URL.")
        if (problem := self._plan_problem(source)):
            return self.answer(400, code="invalid_params", message=problem)
        with self.lock:
            if self.posts_left_today <= 0:
                return self.answer(403, code="spam_risk_too_many_posts",
                                   message="The daily post cap from the API is reached for the current user.")
            n = len(self.publishes) + 1
            publish_id = f"v_pub_file~v2-1.{7300000000000000000 + n}"
            self.publishes[publish_id] = {
                "upload_id": str(n), "upload_token": f"ut{n:04d}secret", "caption": caption, "privacy": privacy,
                "disable_comment": bool(info.get("disable_comment")), "size": int(source["video_size"]),
                "chunk": int(source["chunk_size"]), "count": int(source["total_chunk_count"]),
                "data": bytearray(), "chunks": 0, "mime": None, "status": "PROCESSING_UPLOAD",
                "polls_left": self.processing_polls, "post": None, "fail_reason": None,
                "drop_when_made": fault == "drop_after_post"}
            entry = self.publishes[publish_id]
        upload_url = f"{self.url}/video/?upload_id={entry['upload_id']}&upload_token={entry['upload_token']}"
        return self.answer(data={"publish_id": publish_id, "upload_url": upload_url})

    @route("PUT", r"/video/")
    def upload(self, req):
        with self.lock:
            entry = next((p for p in self.publishes.values() if p["upload_id"] == req.query.get("upload_id")
                          and p["upload_token"] == req.query.get("upload_token")), None)
            if entry is None:
                return self.answer(404, code="invalid_params", message="The upload_url is invalid or expired.")
            fault = self.upload_faults.pop(0) if self.upload_faults else None
            if fault == "drop":
                return DROP
            if fault == "server_error":
                return self.server_error()
            mime = (req.headers.get("Content-Type") or "").split(";")[0]
            m = CONTENT_RANGE.match(req.headers.get("Content-Range") or "")
            if mime not in VIDEO_TYPES:
                return self.answer(400, code="invalid_file_upload", message=f"Content-Type {mime} is not a video type.")
            if not m or int(m.group(3)) != entry["size"]:
                return self.answer(400, code="invalid_params", message="Content-Range must be bytes a-b/video_size.")
            start, end = int(m.group(1)), int(m.group(2))
            have, index = len(entry["data"]), entry["chunks"]
            last = index == entry["count"] - 1
            if index >= entry["count"] or start != have or end - start + 1 != len(req.body):
                return self.answer(400, code="invalid_params", message=f"Expected chunk {index} from byte {have}.")
            if (end != entry["size"] - 1) if last else (len(req.body) != entry["chunk"]):
                return self.answer(400, code="invalid_params",
                                   message="Every chunk but the last is chunk_size bytes; the last ends the file.")
            entry["data"] += req.body
            entry["chunks"] += 1
            entry["mime"] = mime
            if not last:
                return Answer(206, b"")
            self._complete(entry)
            if entry["drop_when_made"] and entry["post"] is not None:
                return DROP
        return Answer(201, b"")

    def _complete(self, entry: dict) -> None:
        """All bytes arrived: TikTok checks the file, and will post it."""
        data = bytes(entry["data"])
        if data[4:8] != b"ftyp" and entry["mime"] != "video/webm":
            entry["status"], entry["fail_reason"] = "FAILED", "file_format_check_failed"
            return
        if self.processing_failure:
            entry["status"], entry["fail_reason"] = "FAILED", self.processing_failure
            return
        entry["post"] = self.store_post(text=entry["caption"], media=[entry["mime"]], data=data,
                                        privacy=entry["privacy"], disable_comment=entry["disable_comment"])
        entry["video_id"] = str(7400000000000000000 + int(entry["post"]["id"]))
        self.posts_left_today -= 1

    @route("POST", r"/v2/post/publish/status/fetch/")
    def status_fetch(self, req):
        if (problem := self._auth(req)):
            return problem
        with self.lock:
            fault = self.status_faults.pop(0) if self.status_faults else None
            if fault == "drop":
                return DROP
            entry = self.publishes.get((req.json() or {}).get("publish_id") or "")
            if entry is None:
                return self.answer(400, code="invalid_params", message="The publish_id is invalid.")
            complete = entry["chunks"] == entry["count"]
            if entry["status"] == "PROCESSING_UPLOAD" and complete:
                if entry["polls_left"] > 0:
                    entry["polls_left"] -= 1
                else:
                    entry["status"] = "PUBLISH_COMPLETE"
            data = {"status": entry["status"], "uploaded_bytes": len(entry["data"])}
            if entry["status"] == "FAILED":
                data["fail_reason"] = entry["fail_reason"]
            if entry["status"] == "PUBLISH_COMPLETE":
                public = entry["privacy"] == "PUBLIC_TO_EVERYONE"
                data["publicaly_available_post_id"] = [int(entry["video_id"])] if public else []
        return self.answer(data=data)

    # --- Display API: the creator's videos ---------------------------------------------

    @route("POST", r"/v2/video/query/")
    def video_query(self, req):
        if (problem := self._auth(req, scope="video.list")):
            return problem
        fields = set((req.query.get("fields") or "").split(","))
        if not fields - {""}:
            return self.answer(400, code="invalid_params", message="fields is required.")
        wanted = set(((req.json() or {}).get("filters") or {}).get("video_ids") or [])
        if not 1 <= len(wanted) <= 20:
            return self.answer(400, code="invalid_params", message="video_ids takes 1 to 20 ids.")
        with self.lock:
            videos = [{k: v for k, v in {"id": e["video_id"], **self.stats}.items() if k in fields}
                      for e in self.publishes.values()
                      if e.get("video_id") in wanted and e["status"] == "PUBLISH_COMPLETE"
                      and e["privacy"] == "PUBLIC_TO_EVERYONE"]
        return self.answer(data={"videos": videos, "cursor": 0, "has_more": False})
