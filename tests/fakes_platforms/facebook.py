"""Facebook (Graph API for Pages) as far as a publisher sees it, with Facebook Login.

Enforces: the login dialog (registered client, exact redirect URI, the scopes,
single-use codes; no PKCE — a confidential web app with its secret), the code
exchange and ``fb_exchange_token`` with the app secret; ``GET /me/accounts``
answering Page tokens only for a long-lived user token; a Page token (not a user
token) and a valid ``appsecret_proof`` on every Page call; ``/{page}/feed`` (a
message or a link, 63,206 characters, only this Page's unpublished photos as
``attached_media``), ``/{page}/photos`` (multipart ``source`` that really is an
image), ``/{page}/videos`` only on the video host (multipart ``source`` that
really is an MP4/MOV). Errors in Meta's shape — ``{"error": {"message", "type",
"code", "error_subcode", "fbtrace_id"}}`` — with Meta's codes: 190 for a bad
token, 32 + ``X-Business-Use-Case-Usage`` for a Page rate limit, 2 (transient).

``MetaDialog`` and ``graph_error`` are shared with the Instagram fake.
"""
from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from datetime import datetime, timezone
from urllib.parse import urlencode

from schedulerx.testing.fake_server import DROP, FAULT_ANSWERS, Answer, FakePlatform, OAuthFake, bearer, route

PAGE = {"id": "104790315392641", "name": "Studio Page"}
OTHER_PAGE = {"id": "208811001122334", "name": "Side Project"}
GRAPH_ERROR_TYPES = {190: "OAuthException", 100: "OAuthException"}


def graph_error(status: int, message: str, code: int, *, subcode: int | None = None,
                transient: bool = False, headers: dict | None = None, user_msg: str | None = None) -> Answer:
    err = {"message": message, "type": GRAPH_ERROR_TYPES.get(code, "OAuthException"), "code": code,
           "fbtrace_id": "A" + secrets.token_hex(8)}
    if subcode is not None:
        err["error_subcode"] = subcode
    if transient:
        err["is_transient"] = True
    if user_msg:
        err["error_user_msg"] = user_msg
    return Answer(status, {"error": err}, headers or {})


def image_kind(data: bytes) -> str | None:
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return "image/gif"
    return None


def is_video(data: bytes) -> bool:
    return data[4:8] == b"ftyp"


class MetaDialog(OAuthFake):
    """Meta's login dialog and code exchange: no PKCE, the app secret in the form."""

    client_id = "1234567890123456"
    client_secret = "fake-meta-app-secret"
    scope_separator = ","

    def dialog(self, req) -> Answer:
        q = req.query
        problem = None
        if q.get("client_id") != self.client_id:
            problem = "Invalid App ID"
        elif not q.get("redirect_uri") or not q.get("state"):
            problem = "redirect_uri and state are required"
        elif q.get("response_type", "code") != "code":
            problem = "response_type must be code"
        elif not set(self.scopes_required) <= set((q.get("scope") or "").split(self.scope_separator)):
            problem = f"Invalid Scopes: the app needs {self.scope_separator.join(self.scopes_required)}"
        if problem:
            return Answer(400, problem)  # the dialog shows an HTML error page
        with self.lock:
            code = self._new("code")
            self.codes[code] = {"redirect_uri": q["redirect_uri"]}
        return Answer(302, "", {"Location": f"{q['redirect_uri']}?{urlencode({'code': code, 'state': q['state']})}"})

    def take_code(self, form: dict) -> Answer | None:
        """Check the app and the code; None when the exchange may go on."""
        if form.get("client_id") != self.client_id or form.get("client_secret") != self.client_secret:
            return graph_error(400, "Error validating client secret.", 1, subcode=None)
        with self.lock:
            entry = self.codes.pop(form.get("code", ""), None)  # single use
        if entry is None or entry["redirect_uri"] != form.get("redirect_uri"):
            return graph_error(400, "Error validating verification code. Please make sure your "
                               "redirect_uri is identical to the one you used in the OAuth dialog "
                               "request", 100, subcode=36008)
        return None

    def proof_ok(self, req, token: str) -> bool:
        given = req.query.get("appsecret_proof") or req.form().get("appsecret_proof")
        want = hmac.new(self.client_secret.encode(), token.encode(), hashlib.sha256).hexdigest()
        return given is not None and hmac.compare_digest(given, want)


def _form(req) -> dict:
    form = req.multipart() or req.form()
    return {**req.query, **form}


class FacebookFake(MetaDialog, FakePlatform):
    reject_message = "(#368) The action attempted has been deemed abusive or is otherwise disallowed"
    rate_limit_wait = 600
    scopes_required = ("pages_show_list", "pages_manage_posts", "pages_read_engagement")

    def __init__(self, pages=(PAGE,)):
        FakePlatform.__init__(self)
        self.oauth_init()
        self.user_tokens: dict[str, dict] = {}   # token → {"long": bool}
        self.page_tokens: dict[str, str] = {}     # token → page id
        self.pages = [dict(p, tasks=["ADVERTISE", "ANALYZE", "CREATE_CONTENT", "MESSAGING",
                                     "MODERATE", "MANAGE"]) for p in pages]
        self.photos: dict[str, dict] = {}         # unpublished photos by id
        self.feed: list[dict] = []                # the Page's posts, newest first
        self.exchanges = 0

    # --- Facebook Login -----------------------------------------------------------

    @route("GET", r"/dialog/oauth")
    def oauth_dialog(self, req):
        return self.dialog(req)

    @route("POST", r"/oauth/access_token")
    def oauth_code(self, req):
        form = req.form()
        if form.get("grant_type", "authorization_code") != "authorization_code":
            return graph_error(400, "Unsupported grant_type", 100)
        problem = self.take_code(form)
        if problem:
            return problem
        with self.lock:
            token = self._new("EAAshort")
            self.user_tokens[token] = {"long": False}
        return Answer(200, {"access_token": token, "token_type": "bearer", "expires_in": 5400})

    @route("GET", r"/oauth/access_token")
    def oauth_exchange(self, req):
        q = req.query
        if q.get("grant_type") != "fb_exchange_token":
            return graph_error(400, "Unsupported grant_type", 100)
        if q.get("client_id") != self.client_id or q.get("client_secret") != self.client_secret:
            return graph_error(400, "Error validating client secret.", 1)
        with self.lock:
            if q.get("fb_exchange_token") not in self.user_tokens:
                return graph_error(400, "Error validating access token: The session is invalid", 190,
                                   subcode=460)
            self.exchanges += 1
            token = self._new("EAAlong")
            self.user_tokens[token] = {"long": True}
        return Answer(200, {"access_token": token, "token_type": "bearer", "expires_in": 5183944})

    # what the tests call
    def expire_user_tokens(self) -> None:
        """Every user token ran out (60 days later): Page tokens live on."""
        with self.lock:
            self.user_tokens.clear()

    def revoke_page_tokens(self) -> None:
        """The user changed their password or removed the app: Page tokens die too."""
        with self.lock:
            self.user_tokens.clear()
            self.page_tokens.clear()

    # --- tokens on calls ------------------------------------------------------------

    def _token(self, req) -> str | None:
        return bearer(req) or _form(req).get("access_token")

    def _user(self, req):
        token = self._token(req)
        with self.lock:
            known = token in self.user_tokens
        if not known:
            return None, graph_error(400, "Error validating access token: Session has expired", 190,
                                     subcode=463)
        if not self.proof_ok(req, token):
            return None, graph_error(400, "Invalid appsecret_proof provided in the API argument", 100)
        return token, None

    def _page(self, req, page_id: str | None = None):
        """(page id, None) for a valid Page token (of ``page_id``), else (None, the error)."""
        token = self._token(req)
        with self.lock:
            owner = self.page_tokens.get(token)
            user = token in self.user_tokens
        if owner is None and not user:
            return None, graph_error(400, "Error validating access token: The user has not "
                                     "authorized application or the session was invalidated", 190,
                                     subcode=460)
        if not self.proof_ok(req, token):
            return None, graph_error(400, "Invalid appsecret_proof provided in the API argument", 100)
        if owner is None or (page_id is not None and owner != page_id):
            return None, graph_error(403, "(#200) If posting to a page, requires both "
                                     "pages_read_engagement and pages_manage_posts as an admin "
                                     "with sufficient administrative permission", 200)
        return owner, None

    # --- who --------------------------------------------------------------------------

    @route("GET", r"/me/accounts")
    def accounts(self, req):
        token, problem = self._user(req)
        if problem:
            return problem
        if not self.user_tokens[token]["long"]:
            # Page tokens from a short-lived user token expire with it: SchedulerX must trade first.
            return graph_error(400, "a long-lived user token is required by this fake", 100)
        data = []
        with self.lock:
            for p in self.pages:
                page_token = self._new(f"EAApage{p['id']}")
                self.page_tokens[page_token] = p["id"]
                data.append({"id": p["id"], "name": p["name"], "access_token": page_token,
                             "category": "Brand", "tasks": p["tasks"]})
        return Answer(200, {"data": data, "paging": {"cursors": {"before": "QVFI", "after": "QVFJ"}}})

    @route("GET", r"/me")
    def me(self, req):
        page_id, problem = self._page(req)
        if problem:
            return problem
        page = next(p for p in self.pages if p["id"] == page_id)
        return Answer(200, {"id": page["id"], "name": page["name"]})

    # --- error shapes ---------------------------------------------------------------

    def rate_limited(self):
        usage = {PAGE["id"]: [{"type": "pages", "call_count": 100, "total_cputime": 12,
                               "total_time": 14, "estimated_time_to_regain_access":
                                   self.rate_limit_wait // 60}]}
        return graph_error(400, "(#32) Page request limit reached", 32,
                           headers={"X-Business-Use-Case-Usage": json.dumps(usage)})

    def server_error(self):
        return graph_error(500, "An unexpected error has occurred. Please retry your request later.",
                           2, transient=True)

    def rejected(self):
        return graph_error(400, self.reject_message, 368, subcode=1390008)

    def _fault(self):
        fault = self.take_fault()
        if fault in FAULT_ANSWERS:
            return fault, self.fault_answer(fault)
        if fault == "drop_before_post":
            return fault, DROP
        return fault, None

    def _store(self, message: str, media: list, kind: str, page_id: str, **extra) -> dict:
        with self.lock:
            post = self.store_post(text=message, media=media, kind=kind, **extra)
            entry = {"id": f"{page_id}_{int(post['id']) + 900000}", "message": message,
                     "created_time": datetime.now(timezone.utc), "post": post}
            self.feed.insert(0, entry)
        return entry

    # --- posting ------------------------------------------------------------------------

    @route("POST", r"/(?P<page>\d+)/photos")
    def photos(self, req):
        page_id, problem = self._page(req, req.params["page"])
        if problem:
            return problem
        form = _form(req)
        source = form.get("source")
        if not isinstance(source, tuple) and not form.get("url"):
            return graph_error(400, "(#324) Requires upload file", 324)
        if isinstance(source, tuple) and image_kind(source[2]) is None:
            return graph_error(400, "(#324) Missing or invalid image file", 324)
        published = form.get("published", "true") != "false"
        if not published:  # an unpublished photo is no post: nothing to fault or count
            with self.lock:
                photo_id = str(500000 + len(self.photos))
                self.photos[photo_id] = {"page": page_id, "used": False, "size": len(source[2])}
            return Answer(200, {"id": photo_id})
        fault, answer = self._fault()
        if answer is not None:
            return answer
        photo_id = str(600000 + len(self.posts))
        entry = self._store(form.get("message", ""), [photo_id], "photo", page_id)
        return DROP if fault == "drop_after_post" else Answer(200, {"id": photo_id, "post_id": entry["id"]})

    @route("POST", r"/(?P<page>\d+)/feed")
    def feed_post(self, req):
        page_id, problem = self._page(req, req.params["page"])
        if problem:
            return problem
        form = _form(req)
        message, link = form.get("message", ""), form.get("link")
        attached = [json.loads(v)["media_fbid"] for k, v in sorted(form.items())
                    if k.startswith("attached_media[")]
        if not message and not link and not attached:
            return graph_error(400, "(#100) Missing message or attachment", 100)
        if len(message) > 63206:
            return graph_error(400, "(#100) Message is too long", 100)
        with self.lock:
            photos = [self.photos.get(a) for a in attached]
            if any(p is None or p["page"] != page_id or p["used"] for p in photos):
                return graph_error(400, "(#100) attached_media must be unpublished photos of this Page",
                                   100)
        fault, answer = self._fault()
        if answer is not None:
            return answer
        with self.lock:
            for p in photos:
                p["used"] = True
        entry = self._store(message, attached, "status", page_id, link=link)
        return DROP if fault == "drop_after_post" else Answer(200, {"id": entry["id"]})

    @route("POST", r"/video/(?P<page>\d+)/videos")
    def videos(self, req):
        page_id, problem = self._page(req, req.params["page"])
        if problem:
            return problem
        source = _form(req).get("source")
        if not isinstance(source, tuple) or not is_video(source[2]):
            return graph_error(400, "(#352) The video file you selected is in a format that we "
                               "don't support.", 352)
        fault, answer = self._fault()
        if answer is not None:
            return answer
        form = _form(req)
        video_id = str(700000 + len(self.posts))
        self._store(form.get("description", ""), [video_id], "video", page_id,
                    title=form.get("title"), video_id=video_id)
        return DROP if fault == "drop_after_post" else Answer(200, {"id": video_id})

    @route("POST", r"/(?P<page>\d+)/videos")
    def videos_on_the_wrong_host(self, req):
        return graph_error(400, "(#6000) Video uploads go to graph-video.facebook.com", 6000)

    # --- reading ----------------------------------------------------------------------------

    @route("GET", r"/(?P<page>\d+)/posts")
    def page_posts(self, req):
        page_id, problem = self._page(req, req.params["page"])
        if problem:
            return problem
        since = int(req.query.get("since", "0"))
        limit = min(int(req.query.get("limit", "25")), 100)
        with self.lock:
            rows = [e for e in self.feed if e["id"].startswith(page_id + "_")
                    and e["created_time"].timestamp() >= since]
        data = [{"id": e["id"], "message": e["message"],
                 "created_time": e["created_time"].strftime("%Y-%m-%dT%H:%M:%S+0000")}
                for e in rows[:limit]]
        body = {"data": data}
        if len(rows) > limit:
            body["paging"] = {"next": f"{self.url}/{page_id}/posts?after=QVFH"}
        return Answer(200, body)

    @route("GET", r"/(?P<node>\d+(_\d+)?)")
    def node(self, req):
        _, problem = self._page(req)
        if problem:
            return problem
        node = req.params["node"]
        with self.lock:
            entry = next((e for e in self.feed if e["id"] == node
                          or e["post"].get("video_id") == node), None)
        if entry is None:
            return graph_error(400, f"(#100) Object with ID '{node}' does not exist", 100, subcode=33)
        fields = req.query.get("fields", "")
        body = {"id": node}
        if "reactions" in fields:
            body["reactions"] = {"data": [], "summary": {"total_count": 7}}
        if "likes" in fields:
            body["likes"] = {"data": [], "summary": {"total_count": 5}}
        if "comments" in fields:
            body["comments"] = {"data": [], "summary": {"total_count": 3}}
        if "shares" in fields:
            body["shares"] = {"count": 2}
        return Answer(200, body)
