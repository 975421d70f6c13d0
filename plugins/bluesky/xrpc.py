"""XRPC calls to a Bluesky PDS under a session: created with an app password, kept per process, refreshed.

``com.atproto.server.createSession`` is limited to 30 calls per 5 minutes and 300
a day per account, so a session is not created per post: each process keeps the
sessions it made (keyed by PDS, identifier and a hash of the app password, so a
new password starts a new session) and renews the two-hour access JWT with the
refresh JWT (``refreshSession``, which rotates it: each refresh JWT works once).
Only when the refresh JWT is refused too does it sign in again with the app
password. One lock per key keeps two threads from spending one refresh JWT.

Nothing of a session is written to the database: a new worker process signs in
once, which the limits allow many times over.
"""
from __future__ import annotations

import base64
import hashlib
import json
import threading
import time
from dataclasses import dataclass

import httpx

from schedulerx.publisher_http import ERROR_TEXT_MAX, raise_for_answer, send
from schedulerx.publishers import AuthError, PermanentError

#: refresh an access JWT this many seconds before its ``exp``
REFRESH_MARGIN = 60.0
#: XRPC errors that mean "this token no longer works" (the PDS answers 400 or 401)
TOKEN_ERRORS = ("ExpiredToken", "InvalidToken")


@dataclass(frozen=True)
class Session:
    did: str
    handle: str
    access_jwt: str
    refresh_jwt: str
    info: dict  # the rest of createSession's answer (email confirmation, status)

    @classmethod
    def of(cls, answer: dict) -> "Session":
        return cls(did=answer["did"], handle=answer.get("handle") or answer["did"],
                   access_jwt=answer["accessJwt"], refresh_jwt=answer["refreshJwt"],
                   info={k: v for k, v in answer.items() if k not in ("accessJwt", "refreshJwt")})

    def expiring(self, margin: float = REFRESH_MARGIN) -> bool:
        exp = jwt_expiry(self.access_jwt)
        return exp is not None and exp <= time.time() + margin


def jwt_expiry(token: str) -> float | None:
    """The ``exp`` claim of a JWT, read without verifying it (only the PDS can)."""
    try:
        payload = token.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        return float(claims["exp"])
    except (IndexError, KeyError, TypeError, ValueError):
        return None


def xrpc_error(answer: httpx.Response) -> tuple[str | None, str]:
    """An XRPC error answer's name and message (``{"error": …, "message": …}``)."""
    try:
        body = answer.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        return None, answer.text[:ERROR_TEXT_MAX]
    name = body.get("error") if isinstance(body.get("error"), str) else None
    message = body.get("message") if isinstance(body.get("message"), str) else ""
    return name, message[:ERROR_TEXT_MAX]


def token_refused(answer: httpx.Response) -> bool:
    return answer.status_code in (400, 401) and xrpc_error(answer)[0] in TOKEN_ERRORS


def raise_for_xrpc(answer: httpx.Response, label: str = "Bluesky") -> None:
    """The engine's exception for a non-2xx XRPC answer: a refused token is an
    ``AuthError``, other 4xx a ``PermanentError`` with the PDS's own error name and
    words; 429 (``ratelimit-reset``) and 5xx as ``raise_for_answer`` maps them."""
    status = answer.status_code
    if 200 <= status < 300 or status == 429 or status >= 500 or status == 408:
        raise_for_answer(answer, label)
        return
    name, message = xrpc_error(answer)
    text = f"{label} answered {status}: {': '.join(p for p in (name, message) if p)}"
    if status == 401 or name in TOKEN_ERRORS:
        raise AuthError(text, raw=answer.text[:ERROR_TEXT_MAX])
    raise PermanentError(text, code=f"http_{status}", raw=answer.text[:ERROR_TEXT_MAX])


class SessionCache:
    """The sessions this process holds, one lock per account key."""

    def __init__(self):
        self._guard = threading.Lock()
        self._sessions: dict[str, Session] = {}
        self._locks: dict[str, threading.Lock] = {}

    @staticmethod
    def key(service: str, identifier: str, password: str) -> str:
        return hashlib.sha256("\0".join((service, identifier.lower(), password)).encode()).hexdigest()

    def lock(self, key: str) -> threading.Lock:
        with self._guard:
            return self._locks.setdefault(key, threading.Lock())

    def get(self, key: str) -> Session | None:
        with self._guard:
            return self._sessions.get(key)

    def put(self, key: str, session: Session) -> None:
        with self._guard:
            self._sessions[key] = session

    def drop(self, key: str) -> None:
        with self._guard:
            self._sessions.pop(key, None)


SESSIONS = SessionCache()


def sign_in(client: httpx.Client, identifier: str, password: str) -> Session:
    """``createSession``; any refusal of the handle or app password is an ``AuthError``."""
    answer = send(client, "POST", "/xrpc/com.atproto.server.createSession", what="Bluesky",
                  json={"identifier": identifier, "password": password})
    if 400 <= answer.status_code < 500 and answer.status_code != 429:
        name, message = xrpc_error(answer)
        raise AuthError(f"Bluesky refused the sign-in: {': '.join(p for p in (name, message) if p)}",
                        raw=answer.text[:ERROR_TEXT_MAX])
    raise_for_xrpc(answer)
    return Session.of(answer.json())


def obtain(client: httpx.Client, identifier: str, password: str, refused: Session | None = None) -> Session:
    """A working session for this account: the cached one, refreshed, or a new sign-in.

    ``refused``: the session whose access JWT the PDS just refused (replaced unless
    another thread already did).
    """
    key = SESSIONS.key(str(client.base_url), identifier, password)
    with SESSIONS.lock(key):
        current = SESSIONS.get(key)
        if current is not None and current != refused and not current.expiring():
            return current
        if current is not None:
            answer = send(client, "POST", "/xrpc/com.atproto.server.refreshSession", what="Bluesky",
                          headers={"Authorization": f"Bearer {current.refresh_jwt}"})
            if answer.is_success:
                fresh = Session.of(answer.json())
                SESSIONS.put(key, fresh)
                return fresh
            if not (token_refused(answer) or answer.status_code == 401):
                raise_for_xrpc(answer)
            SESSIONS.drop(key)  # the refresh JWT expired or was revoked: sign in again
        try:
            fresh = sign_in(client, identifier, password)
        except AuthError:
            SESSIONS.drop(key)
            raise
        SESSIONS.put(key, fresh)
        return fresh


def remember(client: httpx.Client, identifier: str, password: str, session: Session) -> None:
    """Keep a session made elsewhere (when an account is connected) for the next calls."""
    SESSIONS.put(SESSIONS.key(str(client.base_url), identifier, password), session)


class Pds:
    """One round of work with an account's PDS under one session.

    The session is taken once (refreshed first if its access JWT is about to
    expire) and kept for every call of the round; a call whose token the PDS
    refuses is sent once more under a renewed session (refused means nothing was
    done, so that is safe).
    """

    def __init__(self, client: httpx.Client, identifier: str, password: str):
        self.client, self.identifier, self.password = client, identifier, password
        self.session = obtain(client, identifier, password)

    def call(self, method: str, nsid: str, *, headers: dict | None = None, **kw) -> httpx.Response:
        answer = self._send(method, nsid, headers, kw)
        if token_refused(answer):
            self.session = obtain(self.client, self.identifier, self.password, refused=self.session)
            answer = self._send(method, nsid, headers, kw)
        raise_for_xrpc(answer)
        return answer

    def _send(self, method, nsid, headers, kw) -> httpx.Response:
        return send(self.client, method, f"/xrpc/{nsid}", what="Bluesky",
                    headers={**(headers or {}), "Authorization": f"Bearer {self.session.access_jwt}"}, **kw)
