"""A base for platform fakes: real HTTP servers on 127.0.0.1 that enforce a contract and count.

A fake subclasses ``FakePlatform`` and declares its routes with ``@route``::

    class PasteFake(FakePlatform):
        reject_message = "Text contains a forbidden word"

        @route("POST", r"/api/pastes")
        def create(self, req):
            if req.headers.get("Authorization") != "Bearer good":
                return Answer(401, {"error": "bad token"})
            fault = self.take_fault()          # what the test asked for, if anything
            if fault in FAULT_ANSWERS:
                return self.fault_answer(fault)
            if fault == "drop_before_post":
                return DROP
            post = self.store_post(text=req.json()["text"])
            return DROP if fault == "drop_after_post" else Answer(200, {"id": post["id"]})

    with PasteFake() as fake:
        fake.url   # http://127.0.0.1:<port>

Faults a test queues with ``fail_next`` (and the contract kit uses):
``rate_limit``, ``server_error``, ``reject`` (answered by ``fault_answer``: override
``rate_limited``/``server_error``/``rejected`` for the platform's own shapes),
``drop_before_post`` and ``drop_after_post`` (close the connection without an
answer, before or after storing the post: an interrupted publish).
"""
from __future__ import annotations

import base64
import email.parser
import hashlib
import json
import re
import socket
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

#: Answer nothing and close the connection: the client cannot know what happened.
DROP = object()
FAULT_ANSWERS = ("rate_limit", "server_error", "reject")
FAULTS = FAULT_ANSWERS + ("drop_before_post", "drop_after_post")


def route(method: str, pattern: str):
    """Mark a method of a ``FakePlatform`` as the handler of ``method`` + path regex."""
    def deco(fn):
        fn.fake_route = (method.upper(), re.compile(pattern + r"\Z"))
        return fn
    return deco


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, str]
    headers: Any  # case-insensitive (email.message.Message)
    body: bytes
    params: dict[str, str] = field(default_factory=dict)  # named groups of the route

    def json(self) -> Any:
        try:
            return json.loads(self.body or b"null")
        except ValueError:
            return None

    def form(self) -> dict[str, str]:
        return dict(parse_qsl(self.body.decode("utf-8", "replace"), keep_blank_values=True))

    def multipart(self) -> dict[str, Any]:
        """name → str for a plain field, or ``(filename, content_type, bytes)`` for a file."""
        ctype = self.headers.get("Content-Type", "")
        if not ctype.startswith("multipart/form-data"):
            return {}
        msg = email.parser.BytesParser().parsebytes(
            f"Content-Type: {ctype}\r\n\r\n".encode() + self.body)
        out = {}
        for part in msg.get_payload() if msg.is_multipart() else ():
            name = part.get_param("name", header="content-disposition")
            data = part.get_payload(decode=True) or b""
            filename = part.get_filename()
            out[name] = (filename, part.get_content_type(), data) if filename else data.decode()
        return out


@dataclass
class Answer:
    status: int
    body: Any = None  # dict/list → JSON; str/bytes as they are
    headers: dict = field(default_factory=dict)


class FakePlatform:
    """A platform fake on 127.0.0.1, served from a thread; use it as a context manager."""

    #: what ``reject`` answers with; the contract kit expects it in the error message
    reject_message = "the platform refused this post"
    #: what ``rate_limit`` asks the client to wait, in seconds
    rate_limit_wait = 120

    def __init__(self):
        self.lock = threading.RLock()
        self.faults: list[str] = []
        self.posts: list[dict] = []       # every post the platform stored
        self.requests: list[tuple[str, str]] = []  # (method, path) of every request
        self._routes = [getattr(self, n).fake_route + (getattr(self, n),)
                        for n in dir(type(self)) if hasattr(getattr(type(self), n), "fake_route")]
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def _dispatch(self):
                parts = urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                req = Request(self.command, parts.path, dict(parse_qsl(parts.query)), self.headers, body)
                with fake.lock:
                    fake.requests.append((self.command, parts.path))
                answer = fake.dispatch(req)
                if answer is DROP:
                    self.close_connection = True
                    try:
                        self.connection.shutdown(socket.SHUT_RDWR)
                    except OSError:
                        pass
                    return
                self._send(answer)

            def _send(self, answer: Answer):
                data = answer.body
                ctype = "application/json"
                if isinstance(data, str):
                    data, ctype = data.encode(), "text/plain; charset=utf-8"
                elif not isinstance(data, bytes):
                    data = b"" if data is None and answer.status in (204, 304) else json.dumps(data).encode()
                self.send_response(answer.status)
                headers = {"Content-Type": ctype, **answer.headers}
                for k, v in headers.items():
                    self.send_header(k, str(v))
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _dispatch

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.server.block_on_close = False
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    # --- routing ---------------------------------------------------------------

    def dispatch(self, req: Request):
        allowed = False
        for method, pattern, handler in self._routes:
            m = pattern.match(req.path)
            if m:
                allowed = True
                if method == req.method:
                    req.params = m.groupdict()
                    return handler(req)
        return self.not_found(req) if not allowed else Answer(405, {"error": "method not allowed"})

    def not_found(self, req: Request) -> Answer:
        return Answer(404, {"error": f"no route {req.method} {req.path}"})

    # --- faults ----------------------------------------------------------------

    def fail_next(self, *kinds: str) -> None:
        """Queue faults for the next posting calls, in order."""
        for kind in kinds:
            if kind not in FAULTS:
                raise ValueError(f"unknown fault {kind!r}; one of {FAULTS}")
        with self.lock:
            self.faults.extend(kinds)

    def take_fault(self) -> str | None:
        with self.lock:
            return self.faults.pop(0) if self.faults else None

    def fault_answer(self, kind: str) -> Answer:
        return {"rate_limit": self.rate_limited, "server_error": self.server_error,
                "reject": self.rejected}[kind]()

    def rate_limited(self) -> Answer:
        return Answer(429, {"error": "Too many requests"}, {"Retry-After": str(self.rate_limit_wait)})

    def server_error(self) -> Answer:
        return Answer(503, {"error": "Service unavailable"})

    def rejected(self) -> Answer:
        return Answer(422, {"error": self.reject_message})

    # --- what the platform stored ------------------------------------------------

    def store_post(self, **fields) -> dict:
        with self.lock:
            post = {"id": str(len(self.posts) + 1), **fields}
            self.posts.append(post)
            return post

    def count(self, method: str, path_regex: str) -> int:
        rx = re.compile(path_regex + r"\Z")
        with self.lock:
            return sum(1 for m, p in self.requests if m == method and rx.match(p))

    # --- life ------------------------------------------------------------------

    def __enter__(self):
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()


def bearer(req: Request) -> str | None:
    header = req.headers.get("Authorization") or ""
    return header[7:] if header.startswith("Bearer ") else None


class OAuthFake:
    """OAuth 2.0 authorize + token endpoints for a ``FakePlatform`` (mix it in first).

    Enforces what platforms enforce: the registered client (HTTP Basic or form),
    the exact redirect URI, PKCE S256, single-use codes, and **rotating single-use
    refresh tokens** (a refresh token used twice is ``invalid_grant``). The
    authorize endpoint approves at once (the user said yes) and redirects with
    ``code`` and ``state``. Set ``authorize_path`` / ``token_path`` on the subclass.
    """

    client_id = "fake-client-id"
    client_secret = "fake-client-secret"
    access_token_ttl = 7200
    scopes_required: tuple[str, ...] = ()
    rotate_refresh_tokens = True
    #: False: the code exchange sends no refresh token (as some platforms do on a reconnect)
    refresh_token_on_code = True
    #: what the platform calls the client id (TikTok: "client_key")
    client_id_param = "client_id"
    #: False: PKCE is optional (a confidential web client, as on TikTok's web login)
    pkce_required = True

    def oauth_init(self):
        self.codes: dict[str, dict] = {}
        self.access_tokens: set[str] = set()
        self.refresh_tokens: set[str] = set()
        self.refresh_count = 0
        self.token_serial = 0

    def _new(self, prefix: str) -> str:
        self.token_serial += 1
        return f"{prefix}-{self.token_serial}"

    def authorize(self, req: Request) -> Answer:
        q = req.query
        problem = None
        if q.get("response_type") != "code":
            problem = "response_type must be code"
        elif q.get(self.client_id_param) != self.client_id:
            problem = f"unknown {self.client_id_param}"
        elif not q.get("redirect_uri") or not q.get("state"):
            problem = "redirect_uri and state are required"
        elif self.scopes_required and not set(self.scopes_required) <= set(
                (q.get("scope") or "").replace(",", " ").split()):
            problem = f"scope must include {' '.join(self.scopes_required)}"
        elif (self.pkce_required or "code_challenge" in q) and (
                q.get("code_challenge_method") != "S256" or not q.get("code_challenge")):
            problem = "PKCE with S256 is required"
        if problem:
            return Answer(400, {"error": "invalid_request", "error_description": problem})
        with self.lock:
            code = self._new("code")
            self.codes[code] = {"redirect_uri": q["redirect_uri"], "challenge": q.get("code_challenge")}
        sep = "&" if "?" in q["redirect_uri"] else "?"
        return Answer(302, "", {"Location": f"{q['redirect_uri']}{sep}{urlencode({'code': code, 'state': q['state']})}"})

    def _client_ok(self, req: Request, form: dict) -> bool:
        header = req.headers.get("Authorization") or ""
        if header.startswith("Basic "):
            user, _, pw = base64.b64decode(header[6:]).decode().partition(":")
            return (user, pw) == (self.client_id, self.client_secret)
        return form.get(self.client_id_param) == self.client_id

    def issue(self) -> dict:
        with self.lock:
            access, refresh = self._new("access"), self._new("refresh")
            self.access_tokens.add(access)
            self.refresh_tokens.add(refresh)
        return {"token_type": "bearer", "access_token": access, "refresh_token": refresh,
                "expires_in": self.access_token_ttl, "scope": " ".join(self.scopes_required)}

    def token(self, req: Request) -> Answer:
        if not (req.headers.get("Content-Type") or "").startswith("application/x-www-form-urlencoded"):
            return Answer(400, {"error": "invalid_request", "error_description": "form body expected"})
        form = req.form()
        if not self._client_ok(req, form):
            return Answer(401, {"error": "invalid_client", "error_description": "client authentication failed"})
        grant = form.get("grant_type")
        with self.lock:
            if grant == "authorization_code":
                entry = self.codes.pop(form.get("code", ""), None)  # single use
                if entry is None or entry["redirect_uri"] != form.get("redirect_uri"):
                    return Answer(400, {"error": "invalid_grant", "error_description": "bad code or redirect_uri"})
                verifier = form.get("code_verifier", "")
                challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
                if entry["challenge"] is not None and challenge != entry["challenge"]:
                    return Answer(400, {"error": "invalid_grant", "error_description": "PKCE verification failed"})
                issued = self.issue()
                if not self.refresh_token_on_code:
                    self.refresh_tokens.discard(issued.pop("refresh_token"))
                return Answer(200, issued)
            if grant == "refresh_token":
                token = form.get("refresh_token", "")
                if token not in self.refresh_tokens:
                    return Answer(400, {"error": "invalid_grant",
                                        "error_description": "Value passed for the token was invalid."})
                self.refresh_count += 1
                issued = self.issue()
                if self.rotate_refresh_tokens:
                    self.refresh_tokens.discard(token)
                else:
                    self.refresh_tokens.discard(issued.pop("refresh_token"))
                return Answer(200, issued)
        return Answer(400, {"error": "unsupported_grant_type"})

    # what the contract kit calls
    def expire_access_tokens(self) -> None:
        with self.lock:
            self.access_tokens.clear()

    def revoke_refresh_tokens(self) -> None:
        with self.lock:
            self.refresh_tokens.clear()
            self.access_tokens.clear()

    def token_ok(self, req: Request) -> bool:
        with self.lock:
            return bearer(req) in self.access_tokens

