"""Signed, expiring public links to media files, for platforms that fetch media by URL.

Instagram (and any platform that "pulls" media) downloads a file from a URL it is
given, without SchedulerX's login. A link is ``<BASE_URL>/m/<token>``; the token
carries the media id and an expiry, and is signed with a key derived from
SECRET_KEY (HMAC-SHA256). The signature also covers the file's storage key, so a
link dies with its file: a new file that reuses a deleted file's id (SQLite may
reuse ids) is not reachable through the old link.

Token: ``<media id>.<expiry, Unix seconds>.<signature, base64url>``. Nothing in it
is secret; what it grants is bounded by the signature and the expiry.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import time

#: How long a link works. Meta fetches when the container is created, and a
#: publish (retries included) builds fresh links each try; a day leaves slack.
LINK_TTL = 24 * 3600
PATH_PREFIX = "/m/"


def _key(secret_key: str) -> bytes:
    # A key of its own, so a link signature can never be replayed as anything else.
    return hmac.new(secret_key.encode(), b"schedulerx public media links v1", hashlib.sha256).digest()


def _signature(secret_key: str, media_id: int, expires: int, storage_key: str) -> str:
    msg = f"{media_id}.{expires}.{storage_key}".encode()
    digest = hmac.new(_key(secret_key), msg, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def sign(secret_key: str, media_id: int, storage_key: str, *, ttl: float = LINK_TTL,
         now: float | None = None) -> str:
    """A token granting read access to one media file until ``now + ttl``."""
    expires = int((time.time() if now is None else now) + ttl)
    return f"{media_id}.{expires}.{_signature(secret_key, media_id, expires, storage_key)}"


def parse(token: str) -> tuple[int, int] | None:
    """(media id, expiry) of a well-formed token, before its signature is checked; else None."""
    parts = (token or "").split(".")
    if len(parts) != 3 or not parts[0].isdigit() or not parts[1].isdigit() or len(parts[0]) > 18:
        return None
    return int(parts[0]), int(parts[1])


def verify(secret_key: str, token: str, storage_key: str, *, now: float | None = None) -> bool:
    """True when ``token`` was signed for this file and has not expired."""
    parsed = parse(token)
    if parsed is None:
        return False
    media_id, expires = parsed
    if expires < (time.time() if now is None else now):
        return False
    expected = _signature(secret_key, media_id, expires, storage_key)
    return hmac.compare_digest(expected, token.rsplit(".", 1)[1])


def public_url(base_url: str, secret_key: str, media_id: int, storage_key: str, **kw) -> str:
    return f"{base_url.rstrip('/')}{PATH_PREFIX}{sign(secret_key, media_id, storage_key, **kw)}"
