"""Instagram (API with Instagram Login) as far as a publisher sees it, with its login.

Enforces: the authorize window (registered client, exact redirect URI, the
``instagram_business_*`` scopes, single-use codes; no PKCE) and the code exchange
with the app secret, answering ``{access_token, user_id, permissions}``;
``ig_exchange_token`` (a valid one-hour token and the app secret) and
``ig_refresh_token`` (a valid 60-day token); a valid token on every call (and a
correct ``appsecret_proof`` when one is sent). Content publishing as Meta does
it: a container names its media by URL and **the fake fetches that URL over real
HTTP** (no credentials), checking it answers 200 with a JPEG (images) or an MP4/MOV
(videos) — an image at once, a video while the container is ``IN_PROGRESS`` for
``processing_polls`` polls; ``media_publish`` takes only a ``FINISHED`` container
of this user, once (error 9007/2207027 before that); carousels take 2–10
finished items made with ``is_carousel_item``; captions up to 2,200 characters
and 30 hashtags; ``content_publishing_limit`` counts posts of the last 24 hours
against 100. Errors in Meta's shape with its codes (190, 80002 with
``X-Business-Use-Case-Usage``, 2, …).
"""
from __future__ import annotations

import json
import re
from datetime import datetime, timedelta, timezone

import httpx

from schedulerx.testing.fake_server import DROP, FAULT_ANSWERS, Answer, FakePlatform, bearer, route

from .facebook import MetaDialog, graph_error, image_kind, is_video

IG_USER = {"user_id": "17841405793187218", "username": "studio.gram", "id": "7020123456789012"}
HASHTAG = re.compile(r"(?<![\w#])#(\w+)")
PUBLISHING_LIMIT = 100


class InstagramFake(MetaDialog, FakePlatform):
    reject_message = ("The submitted image with aspect ratio ('0.5') cannot be published. "
                      "Please submit an image with a valid aspect ratio.")
    rate_limit_wait = 600
    scopes_required = ("instagram_business_basic", "instagram_business_content_publish")
    long_token_ttl = 5184000

    def __init__(self, processing_polls: int = 2):
        FakePlatform.__init__(self)
        self.oauth_init()
        self.processing_polls = processing_polls
        self.short_tokens: set[str] = set()
        self.containers: dict[str, dict] = {}
        self.media: list[dict] = []           # published, newest first
        self.fetches: list[dict] = []         # every media fetch: url, status, type, size
        self.exchanges = 0

    # --- Business Login ----------------------------------------------------------------

    @route("GET", r"/oauth/authorize")
    def oauth_authorize(self, req):
        return self.dialog(req)

    @route("POST", r"/oauth/access_token")
    def oauth_code(self, req):
        form = req.form()
        if form.get("grant_type") != "authorization_code":
            return Answer(400, {"error_type": "OAuthException", "code": 400,
                                "error_message": "Invalid grant_type"})
        problem = self.take_code(form)
        if problem:
            return Answer(400, {"error_type": "OAuthException", "code": 400,
                                "error_message": "Matching code was not found or was already used"})
        with self.lock:
            token = self._new("IGshort")
            self.short_tokens.add(token)
        return Answer(200, {"access_token": token, "user_id": int(IG_USER["user_id"]),
                            "permissions": list(self.scopes_required)})

    @route("GET", r"/access_token")
    def exchange(self, req):
        q = req.query
        if q.get("grant_type") != "ig_exchange_token" or q.get("client_secret") != self.client_secret:
            return graph_error(400, "Invalid grant_type or client_secret", 100)
        with self.lock:
            if q.get("access_token") not in self.short_tokens:
                return graph_error(400, "Error validating access token: Session has expired", 190,
                                   subcode=463)
            self.exchanges += 1
            return Answer(200, self._long())

    @route("GET", r"/refresh_access_token")
    def refresh(self, req):
        q = req.query
        if q.get("grant_type") != "ig_refresh_token":
            return graph_error(400, "Invalid grant_type", 100)
        with self.lock:
            if q.get("access_token") not in self.access_tokens:
                # An expired or revoked token cannot be renewed: only a new login can.
                return graph_error(400, "Error validating access token: Session has expired", 190,
                                   subcode=463)
            self.refresh_count += 1
            return Answer(200, self._long())

    def _long(self) -> dict:
        token = self._new("IGlong")
        self.access_tokens.add(token)
        return {"access_token": token, "token_type": "bearer", "expires_in": self.long_token_ttl}

    def _auth(self, req):
        token = bearer(req) or req.query.get("access_token")
        with self.lock:
            ok = token in self.access_tokens
        if not ok:
            return graph_error(400, "Error validating access token: Session has expired", 190,
                               subcode=463)
        if "appsecret_proof" in req.query and not self.proof_ok(req, token):
            return graph_error(400, "Invalid appsecret_proof provided in the API argument", 100)
        return None

    # --- error shapes ----------------------------------------------------------------------

    def rate_limited(self):
        usage = {IG_USER["user_id"]: [{"type": "instagram", "call_count": 100, "total_cputime": 9,
                                       "total_time": 11, "estimated_time_to_regain_access":
                                           self.rate_limit_wait // 60}]}
        return graph_error(400, "Application request limit reached", 80002,
                           headers={"X-Business-Use-Case-Usage": json.dumps(usage)})

    def server_error(self):
        return graph_error(500, "An unexpected error has occurred. Please retry your request later.",
                           2, transient=True)

    def rejected(self):
        return graph_error(400, self.reject_message, 36003, subcode=2207009)

    # --- who ---------------------------------------------------------------------------------

    @route("GET", r"/me")
    def me(self, req):
        return self._auth(req) or Answer(200, {"user_id": IG_USER["user_id"], "username": IG_USER["username"],
                                               "id": IG_USER["id"]})

    # --- containers ----------------------------------------------------------------------------

    def _fetch(self, url: str, want: str) -> str | None:
        """GET the media like Meta's crawler: no credentials. The problem, or None."""
        try:
            r = httpx.get(url, timeout=10)
        except httpx.HTTPError as exc:
            self.fetches.append({"url": url, "status": None})
            return f"could not fetch: {exc}"
        data = r.content
        kind = image_kind(data) if want == "image" else ("video" if is_video(data) else None)
        self.fetches.append({"url": url, "status": r.status_code, "kind": kind, "size": len(data)})
        if r.status_code != 200:
            return f"the media URL answered {r.status_code}"
        if want == "image" and kind != "image/jpeg":
            return "Only JPEG images are supported"
        if want == "video" and kind is None:
            return "The video format is not supported"
        return None

    @route("POST", r"/(?P<ig>\d+)/media")
    def create_container(self, req):
        if (problem := self._auth(req)):
            return problem
        if req.params["ig"] != IG_USER["user_id"]:
            return graph_error(403, "(#10) Application does not have permission for this action", 10)
        form = {**req.query, **req.form()}
        caption = form.get("caption", "")
        if len(caption) > 2200:
            return graph_error(400, "The caption is too long (2,200 characters at most)", 100,
                               subcode=2207040)
        if len(set(t.lower() for t in HASHTAG.findall(caption))) > 30:
            return graph_error(400, "The caption has more than 30 hashtags", 100, subcode=2207040)
        item = form.get("is_carousel_item") == "true"
        mtype = form.get("media_type")
        with self.lock:
            container_id = str(17890000000000000 + len(self.containers))
        if mtype == "CAROUSEL":
            children = [c for c in (form.get("children") or "").split(",") if c]
            with self.lock:
                kids = [self.containers.get(c) for c in children]
            if not 2 <= len(kids) <= 10 or None in kids:
                return graph_error(400, "A carousel takes 2 to 10 existing items", 100, subcode=2207028)
            if any(not k["item"] or k["status"] != "FINISHED" for k in kids):
                return graph_error(400, "Carousel children must be finished carousel items", 100,
                                   subcode=2207028)
            entry = {"kind": "carousel", "media": [m for k in kids for m in k["media"]],
                     "status": "FINISHED", "polls_left": 0}
        elif mtype in ("REELS", "VIDEO"):
            if (mtype == "VIDEO") != item or not form.get("video_url"):
                return graph_error(400, "media_type VIDEO is for carousel items; REELS takes video_url",
                                   100)
            entry = {"kind": "video", "url": form["video_url"], "media": [form["video_url"]],
                     "status": "IN_PROGRESS", "polls_left": self.processing_polls, "fetched": False}
        elif mtype in (None, "IMAGE") and form.get("image_url"):
            problem = self._fetch(form["image_url"], "image")
            if problem:
                return graph_error(400, f"The media could not be fetched from this uri: {problem}",
                                   9004, subcode=2207052)
            entry = {"kind": "image", "media": [form["image_url"]], "status": "FINISHED", "polls_left": 0}
        else:
            return graph_error(400, "(#100) The parameter image_url or video_url is required", 100)
        entry.update(id=container_id, caption=caption, item=item, owner=req.params["ig"],
                     created=datetime.now(timezone.utc))
        with self.lock:
            self.containers[container_id] = entry
        return Answer(200, {"id": container_id})

    @route("GET", r"/(?P<ig>\d+)/content_publishing_limit")
    def publishing_limit(self, req):
        if (problem := self._auth(req)):
            return problem
        day_ago = datetime.now(timezone.utc) - timedelta(hours=24)
        with self.lock:
            used = sum(1 for m in self.media if m["created"] >= day_ago)
        return Answer(200, {"data": [{"quota_usage": used, "config": {
            "quota_total": PUBLISHING_LIMIT, "quota_duration": 86400}}]})

    @route("POST", r"/(?P<ig>\d+)/media_publish")
    def publish(self, req):
        if (problem := self._auth(req)):
            return problem
        form = {**req.query, **req.form()}
        with self.lock:
            c = self.containers.get(form.get("creation_id", ""))
            if c is None or c["owner"] != req.params["ig"] or c["item"]:
                return graph_error(400, "(#100) Param creation_id is not a container of this user", 100)
            if c["status"] == "PUBLISHED":
                return graph_error(400, "The media has already been published", 9, subcode=2207006)
            if c["status"] != "FINISHED":
                return graph_error(400, "Media ID is not available: the media is not ready for "
                                   "publishing, please wait for a moment", 9007, subcode=2207027)
            day_ago = datetime.now(timezone.utc) - timedelta(hours=24)
            if sum(1 for m in self.media if m["created"] >= day_ago) >= PUBLISHING_LIMIT:
                return graph_error(400, "You have reached the maximum number of posts that is "
                                   "allowed to be published by Content Publishing API", 9,
                                   subcode=2207042)
        fault = self.take_fault()
        if fault in FAULT_ANSWERS:
            return self.fault_answer(fault)
        if fault == "drop_before_post":
            return DROP
        with self.lock:
            c["status"] = "PUBLISHED"
            post = self.store_post(text=c["caption"], media=list(c["media"]), kind=c["kind"])
            media_id = str(17920000000000000 + int(post["id"]))
            self.media.insert(0, {"id": media_id, "caption": c["caption"], "kind": c["kind"],
                                  "created": datetime.now(timezone.utc)})
        return DROP if fault == "drop_after_post" else Answer(200, {"id": media_id})

    @route("GET", r"/(?P<ig>\d+)/media")
    def list_media(self, req):
        if (problem := self._auth(req)):
            return problem
        limit = min(int(req.query.get("limit", "25")), 100)
        with self.lock:
            rows = list(self.media)
        data = [{"id": m["id"], "caption": m["caption"],
                 "timestamp": m["created"].strftime("%Y-%m-%dT%H:%M:%S+0000"),
                 "permalink": f"https://www.instagram.com/p/{m['id'][-8:]}/"} for m in rows[:limit]]
        body = {"data": data}
        if len(rows) > limit:
            body["paging"] = {"next": f"{self.url}/{req.params['ig']}/media?after=QVFI"}
        return Answer(200, body)

    @route("GET", r"/(?P<node>\d+)")
    def node(self, req):
        if (problem := self._auth(req)):
            return problem
        node = req.params["node"]
        with self.lock:
            c = self.containers.get(node)
            if c is not None:
                if c["kind"] == "video" and c["status"] == "IN_PROGRESS":
                    if not c["fetched"]:  # Meta fetches a video in the background
                        c["fetched"] = True
                        problem = self._fetch(c["url"], "video")
                        if problem:
                            c["status"], c["error"] = "ERROR", problem
                    if c["status"] == "IN_PROGRESS":
                        if c["polls_left"] > 0:
                            c["polls_left"] -= 1
                        else:
                            c["status"] = "FINISHED"
                body = {"id": node, "status_code": c["status"]}
                if c["status"] == "ERROR":
                    body["status"] = f"Error: {c['error']} (2207052)"
                return Answer(200, body)
            m = next((m for m in self.media if m["id"] == node), None)
        if m is None:
            return graph_error(400, f"(#100) Object with ID '{node}' does not exist", 100, subcode=33)
        return Answer(200, {"id": node, "permalink": f"https://www.instagram.com/p/{node[-8:]}/",
                            "like_count": 11, "comments_count": 4})
