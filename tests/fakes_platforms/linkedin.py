"""LinkedIn (versioned REST API) as far as a publisher sees it, with its OAuth 2.0 server.

Enforces: the three-legged code flow without PKCE (client id and secret in the
form, exact redirect URI, the scopes, single-use codes); refresh tokens only when
``refresh_tokens_enabled`` (LinkedIn gives them to approved apps), not rotated; a
bearer token on every call; on ``/rest/*`` a ``LinkedIn-Version`` (YYYYMM, not in
the future) and ``X-Restli-Protocol-Version: 2.0.0``. Posts: the author is the
token's member, ``commentary`` in the little format — an unescaped reserved
character silently cuts the text there, as LinkedIn does — up to 3,000
characters, visibility, distribution and lifecycle state required, media only
this member's uploaded and AVAILABLE images (1, or 2–20 as ``multiImage``) or one
video, LinkedIn's refusal of duplicate content (422 ``DUPLICATE_POST``), 201 with
the URN in ``x-restli-id``. Uploads: images by initializeUpload + PUT of image
bytes; videos by initializeUpload (``fileSizeBytes`` → upload instructions of
``part_size`` bytes), a PUT per part answering an ETag, finalizeUpload with every
ETag in order, then PROCESSING for ``processing_polls`` reads. Errors as
LinkedIn sends them: ``{"status", "serviceErrorCode", "code", "message"}``; a 429
names no wait (the limits are daily, reset at midnight UTC).
"""
from __future__ import annotations

import base64
import hashlib
import re
from datetime import datetime, time as dtime, timedelta, timezone
from urllib.parse import unquote, urlencode

from schedulerx.testing.fake_server import DROP, FAULT_ANSWERS, Answer, FakePlatform, OAuthFake, route

from .facebook import image_kind, is_video

MEMBER = {"sub": "782bbtaQ", "name": "Robin Studio", "given_name": "Robin", "family_name": "Studio"}
LITTLE = re.compile(r"https?://\S+|#\w|\\.|[\\|{}@\[\]()<>#*_~]", re.S)


def read_little(commentary: str) -> str:
    """What LinkedIn shows for a little-format commentary: escapes undone, cut at the first
    unescaped reserved character (links and hashtags pass)."""
    out, pos = [], 0
    for m in LITTLE.finditer(commentary):
        out.append(commentary[pos:m.start()])
        token = m.group(0)
        if token.startswith("\\") and len(token) == 2:
            out.append(token[1])
        elif len(token) > 1:
            out.append(token)  # a link or a hashtag
        else:
            return "".join(out)  # LinkedIn silently truncates here
        pos = m.end()
    return "".join(out) + commentary[pos:]


def li_error(status: int, message: str, code: str, service_code: int = 100, **extra) -> Answer:
    return Answer(status, {"status": status, "serviceErrorCode": service_code, "code": code,
                           "message": message, **extra})


class LinkedInFake(OAuthFake, FakePlatform):
    reject_message = "Organization permissions must be used when using organization as author"
    scopes_required = ("openid", "profile", "w_member_social")
    client_id = "86ab1cdefghijk"
    client_secret = "fake-linkedin-secret"
    access_token_ttl = 5183999
    rotate_refresh_tokens = False

    def __init__(self, *, refresh_tokens_enabled: bool = True, part_size: int = 4 * 1024 * 1024,
                 processing_polls: int = 1):
        FakePlatform.__init__(self)
        self.oauth_init()
        self.refresh_token_on_code = refresh_tokens_enabled
        self.part_size = part_size
        self.processing_polls = processing_polls
        self.images: dict[str, dict] = {}
        self.videos: dict[str, dict] = {}
        self.shares: list[dict] = []
        self.versions_seen: list[str] = []
        self.answered_wait: float | None = None

    # --- OAuth 2.0 (no PKCE) -----------------------------------------------------------

    @route("GET", r"/oauth/v2/authorization")
    def oauth_authorize(self, req):
        q = req.query
        problem = None
        if q.get("response_type") != "code":
            problem = "response_type must be code"
        elif q.get("client_id") != self.client_id:
            problem = "invalid client_id"
        elif not q.get("redirect_uri") or not q.get("state"):
            problem = "redirect_uri and state are required"
        elif not set(self.scopes_required) <= set((q.get("scope") or "").split()):
            problem = "unauthorized_scope_error"
        if problem:
            return Answer(400, {"error": "invalid_request", "error_description": problem})
        with self.lock:
            code = self._new("code")
            self.codes[code] = {"redirect_uri": q["redirect_uri"]}
        return Answer(302, "", {"Location": f"{q['redirect_uri']}?{urlencode({'code': code, 'state': q['state']})}"})

    @route("POST", r"/oauth/v2/accessToken")
    def oauth_token(self, req):
        form = req.form()
        if form.get("client_id") != self.client_id or form.get("client_secret") != self.client_secret:
            return Answer(401, {"error": "invalid_client", "error_description": "Client authentication failed"})
        if form.get("grant_type") == "refresh_token":
            if not self.refresh_token_on_code:
                return Answer(400, {"error": "invalid_request",
                                    "error_description": "Refresh tokens are not enabled for this app"})
            return self.token(req)  # OAuthFake: known refresh token, not rotated
        if form.get("grant_type") != "authorization_code":
            return Answer(400, {"error": "unsupported_grant_type"})
        with self.lock:
            entry = self.codes.pop(form.get("code", ""), None)
            if entry is None or entry["redirect_uri"] != form.get("redirect_uri"):
                return Answer(400, {"error": "invalid_request", "error_description":
                                    "Unable to retrieve access token: appid/redirect uri/code "
                                    "verifier does not match authorization code"})
            issued = self.issue()
            issued["scope"] = ",".join(self.scopes_required)
            issued["id_token"] = "eyJ.fake.jwt"
            if self.refresh_token_on_code:
                issued["refresh_token_expires_in"] = 31536000
            else:
                self.refresh_tokens.discard(issued.pop("refresh_token"))
        return Answer(200, issued)

    # --- the API's gate -------------------------------------------------------------------

    def _auth(self, req, *, rest: bool = True):
        if not self.token_ok(req):
            return li_error(401, "Invalid access token", "INVALID_ACCESS_TOKEN", 65600)
        if rest:
            version = req.headers.get("LinkedIn-Version") or ""
            if not re.fullmatch(r"\d{6}", version):
                return li_error(400, "A version must be present. Please specify a version by adding "
                                "the LinkedIn-Version header.", "VERSION_MISSING")
            if version > datetime.now(timezone.utc).strftime("%Y%m"):
                return li_error(426, f"Requested version {version} is not active", "NONEXISTENT_VERSION")
            if req.headers.get("X-Restli-Protocol-Version") != "2.0.0":
                return li_error(400, "X-Restli-Protocol-Version 2.0.0 is required", "ILLEGAL_ARGUMENT")
            self.versions_seen.append(version)
        return None

    # --- error shapes -----------------------------------------------------------------------

    @property
    def rate_limit_wait(self) -> float:
        """Until midnight UTC (LinkedIn's limits are daily), as of the last 429 answered."""
        if self.answered_wait is not None:
            return self.answered_wait
        now = datetime.now(timezone.utc)
        return (datetime.combine(now.date() + timedelta(days=1), dtime(), timezone.utc) - now).total_seconds()

    def rate_limited(self):
        self.answered_wait = None
        self.answered_wait = self.rate_limit_wait
        return li_error(429, "Resource level throttle APPLICATION DAY limit for calls to this "
                        "resource is reached.", "TOO_MANY_REQUESTS", 101)

    def server_error(self):
        return li_error(503, "Service Unavailable", "SERVICE_UNAVAILABLE", 0)

    def rejected(self):
        return li_error(403, self.reject_message, "ACCESS_DENIED", 100)

    # --- who --------------------------------------------------------------------------------

    @route("GET", r"/v2/userinfo")
    def userinfo(self, req):
        return self._auth(req, rest=False) or Answer(200, {**MEMBER, "email_verified": True,
                                                           "locale": {"country": "US", "language": "en"}})

    # --- images ---------------------------------------------------------------------------------

    @route("POST", r"/rest/images")
    def images_action(self, req):
        if (problem := self._auth(req)):
            return problem
        if req.query.get("action") != "initializeUpload":
            return li_error(400, "unknown action", "ILLEGAL_ARGUMENT")
        owner = ((req.json() or {}).get("initializeUploadRequest") or {}).get("owner")
        if owner != f"urn:li:person:{MEMBER['sub']}":
            return li_error(403, "Owner must be the authenticated member", "ACCESS_DENIED")
        with self.lock:
            n = str(len(self.images) + 1)
            urn = f"urn:li:image:C4E10AQ{n.zfill(8)}"
            self.images[urn] = {"owner": owner, "status": "WAITING_UPLOAD"}
        return Answer(200, {"value": {"uploadUrlExpiresAt": 1893456000000, "image": urn,
                                      "uploadUrl": f"{self.url}/dms-uploads/image/{n}"}})

    @route("PUT", r"/dms-uploads/image/(?P<n>\d+)")
    def image_bytes(self, req):
        if (problem := self._auth(req, rest=False)):
            return problem
        urn = f"urn:li:image:C4E10AQ{req.params['n'].zfill(8)}"
        with self.lock:
            image = self.images.get(urn)
            if image is None or image["status"] != "WAITING_UPLOAD":
                return Answer(400, "upload URL unknown or used")
            if image_kind(req.body) is None:
                return Answer(400, "not an image")
            image.update(status="AVAILABLE", size=len(req.body))
        return Answer(201, "")

    # --- videos ------------------------------------------------------------------------------------

    @route("POST", r"/rest/videos")
    def videos_action(self, req):
        if (problem := self._auth(req)):
            return problem
        action, body = req.query.get("action"), req.json() or {}
        with self.lock:
            if action == "initializeUpload":
                init = body.get("initializeUploadRequest") or {}
                if init.get("owner") != f"urn:li:person:{MEMBER['sub']}":
                    return li_error(403, "Owner must be the authenticated member", "ACCESS_DENIED")
                size = init.get("fileSizeBytes")
                if not isinstance(size, int) or size <= 0:
                    return li_error(400, "fileSizeBytes is required", "ILLEGAL_ARGUMENT")
                n = str(len(self.videos) + 1)
                urn = f"urn:li:video:C5F10AQ{n.zfill(8)}"
                parts = [{"uploadUrl": f"{self.url}/dms-uploads/video/{n}/part/{i}",
                          "firstByte": first, "lastByte": min(first + self.part_size, size) - 1}
                         for i, first in enumerate(range(0, size, self.part_size))]
                self.videos[urn] = {"size": size, "parts": parts, "etags": {}, "status": "WAITING_UPLOAD",
                                    "polls_left": self.processing_polls, "token": ""}
                return Answer(200, {"value": {"uploadUrlsExpireAt": 1893456000000, "video": urn,
                                              "uploadInstructions": parts, "uploadToken": ""}})
            if action == "finalizeUpload":
                fin = body.get("finalizeUploadRequest") or {}
                video = self.videos.get(fin.get("video", ""))
                if video is None or video["status"] != "WAITING_UPLOAD":
                    return li_error(400, "video unknown or already finalized", "ILLEGAL_ARGUMENT")
                want = [video["etags"].get(i) for i in range(len(video["parts"]))]
                if None in want or fin.get("uploadedPartIds") != want:
                    return li_error(400, "uploadedPartIds must list every part's ETag in order",
                                    "ILLEGAL_ARGUMENT")
                video["status"] = "PROCESSING"
                return Answer(200, "")
        return li_error(400, "unknown action", "ILLEGAL_ARGUMENT")

    @route("PUT", r"/dms-uploads/video/(?P<n>\d+)/part/(?P<i>\d+)")
    def video_part(self, req):
        if (problem := self._auth(req, rest=False)):
            return problem
        urn, i = f"urn:li:video:C5F10AQ{req.params['n'].zfill(8)}", int(req.params["i"])
        with self.lock:
            video = self.videos.get(urn)
            if video is None or i >= len(video["parts"]):
                return Answer(404, "no such upload")
            part = video["parts"][i]
            if len(req.body) != part["lastByte"] - part["firstByte"] + 1:
                return Answer(400, "the part must be exactly firstByte..lastByte")
            if i == 0 and not is_video(req.body):
                return Answer(400, "not an MP4")
            etag = base64.b64encode(hashlib.md5(req.body).digest()).decode()[:22]
            video["etags"][i] = etag
        return Answer(200, "", {"ETag": f'"{etag}"'})

    @route("GET", r"/rest/videos/(?P<urn>[^/]+)")
    def video_status(self, req):
        if (problem := self._auth(req)):
            return problem
        urn = unquote(req.params["urn"])
        with self.lock:
            video = self.videos.get(urn)
            if video is None:
                return li_error(404, f"{urn} not found", "NOT_FOUND")
            if video["status"] == "PROCESSING":
                if video["polls_left"] > 0:
                    video["polls_left"] -= 1
                else:
                    video["status"] = "AVAILABLE"
            return Answer(200, {"id": urn, "status": video["status"], "owner":
                                f"urn:li:person:{MEMBER['sub']}"})

    # --- posts ---------------------------------------------------------------------------------------

    @route("POST", r"/rest/posts")
    def create_post(self, req):
        if (problem := self._auth(req)):
            return problem
        body = req.json()
        if not isinstance(body, dict):
            return li_error(400, "Request body could not be converted to data map", "ILLEGAL_ARGUMENT")
        missing = [f for f in ("author", "commentary", "visibility", "distribution", "lifecycleState")
                   if f not in body]
        if missing:
            return li_error(422, "\n".join(f"ERROR :: /{f} :: field is required but not found and has "
                                           "no default value" for f in missing), "UNPROCESSABLE_ENTITY")
        if body["author"] != f"urn:li:person:{MEMBER['sub']}":
            return li_error(403, "Member is not the author", "ACCESS_DENIED")
        if body["visibility"] not in ("PUBLIC", "CONNECTIONS", "LOGGED_IN") \
                or body["lifecycleState"] != "PUBLISHED" \
                or (body.get("distribution") or {}).get("feedDistribution") != "MAIN_FEED":
            return li_error(422, "visibility, lifecycleState or distribution is invalid",
                            "UNPROCESSABLE_ENTITY")
        text = read_little(body["commentary"])
        if len(text) > 3000:
            return li_error(422, "commentary is longer than 3000 characters", "UNPROCESSABLE_ENTITY")
        content = body.get("content") or {}
        with self.lock:
            if "media" in content:
                ids = [content["media"].get("id")]
            else:
                ids = [i.get("id") for i in (content.get("multiImage") or {}).get("images", [])]
                if ids and not 2 <= len(ids) <= 20:
                    return li_error(422, "multiImage takes 2 to 20 images", "UNPROCESSABLE_ENTITY")
            for urn in ids:
                asset = self.images.get(urn) or self.videos.get(urn)
                if asset is None or asset["status"] != "AVAILABLE":
                    return li_error(422, f"{urn} is not AVAILABLE", "UNPROCESSABLE_ENTITY")
                if urn in self.videos and len(ids) > 1:
                    return li_error(422, "one video per post", "UNPROCESSABLE_ENTITY")
            for share in self.shares:
                if share["text"] == text and share["media"] == ids:
                    return li_error(422, "com.linkedin.content.common.exception.BadRequestResponseException: "
                                    f"Content is a duplicate of {share['urn']}", "UNPROCESSABLE_ENTITY",
                                    errorDetails={"inputErrors": [{"description": "Duplicate post is detected",
                                                                   "input": {}, "code": "DUPLICATE_POST"}]})
        fault = self.take_fault()
        if fault in FAULT_ANSWERS:
            return self.fault_answer(fault)
        if fault == "drop_before_post":
            return DROP
        with self.lock:
            post = self.store_post(text=text, media=ids, commentary=body["commentary"],
                                   visibility=body["visibility"])
            urn = f"urn:li:share:{7140000000000000000 + int(post['id'])}"
            self.shares.append({"urn": urn, "text": text, "media": ids})
        return DROP if fault == "drop_after_post" else Answer(201, "", {"x-restli-id": urn})
