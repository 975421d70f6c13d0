"""A Bluesky PDS (AT Protocol XRPC), as far as a publisher sees it.

Enforces: sessions from ``com.atproto.server.createSession`` (identifier + app
password; 30 sign-ins per 5 minutes per account, as the PDS counts them), JWTs
with an ``exp``; the access JWT on every authenticated call, the refresh JWT only
on ``refreshSession``, which rotates it (a refresh JWT works once); an expired
access JWT is ``400 ExpiredToken``. ``uploadBlob`` checks the declared
Content-Type against the bytes. ``putRecord`` checks the ``app.bsky.feed.post``
record: a TID record key (the lexicon's key type), the repo of the session, 300
graphemes and 3,000 bytes, an RFC 3339 ``createdAt``, facets whose UTF-8 byte
ranges fall on character boundaries, do not overlap and cover exactly the text
they decorate (the link's URI, ``#tag``, ``@handle`` of the mentioned DID), and
embeds of at most 4 images of 1,000,000 bytes each with ``alt``, or one MP4 video
— blobs this account uploaded. A second ``putRecord`` under one record key
updates that record: it is not a second post (``updates`` counts them).
Errors are XRPC's ``{"error", "message"}``; 429 carries ``ratelimit-reset`` (a
Unix time), as the PDS sends it.
"""
from __future__ import annotations

import base64
import hashlib
import json
import math
import re
import secrets
import time
from datetime import datetime

import regex

from schedulerx.testing.fake_server import DROP, FAULT_ANSWERS, Answer, FakePlatform, bearer, route

HANDLE, DID = "studio.bsky.social", "did:plc:ewvi7nxzyoun6zhxrhs64oiz"
#: other accounts a post may mention
KNOWN = {"alice.bsky.social": "did:plc:z72i7hdynmk6r22z27h6tvur"}
TID = re.compile(r"[234567abcdefghij][234567abcdefghijklmnopqrstuvwxyz]{12}\Z")
POST = "app.bsky.feed.post"
FACET = "app.bsky.richtext.facet"
IMAGE_MAX, VIDEO_MAX, BLOB_MAX = 1_000_000, 50_000_000, 52_428_800
SIGN_INS_PER_5_MIN = 30


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _jwt(claims: dict) -> str:
    head = _b64(json.dumps({"typ": "at+jwt", "alg": "ES256K"}).encode())
    return f"{head}.{_b64(json.dumps(claims).encode())}.{_b64(secrets.token_bytes(32))}"


def _cid(data: bytes) -> str:
    return "bafkrei" + base64.b32encode(hashlib.sha256(data).digest()).decode().lower().rstrip("=")[:52]


def _sniff(data: bytes) -> str | None:
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data[4:8] == b"ftyp":
        return "video/mp4"
    return None


def _graphemes(text: str) -> int:
    return len(regex.findall(r"\X", text))


class BlueskyFake(FakePlatform):
    reject_message = "Record/text contains a link to a site on the blocklist"
    rate_limit_wait = 600

    def __init__(self):
        super().__init__()
        self.app_password = "abcd-efgh-ijkl-mnop"
        self.email_confirmed = True
        self.access_ttl = 7200              # seconds an access JWT lives (exp claim)
        self.access: dict[str, str] = {}    # live access JWT → did
        self.refresh: dict[str, str] = {}   # unspent refresh JWT → did
        self.expired: set[str] = set()      # access JWTs the server now treats as expired
        self.sign_ins: list[float] = []     # times of successful createSession calls
        self.refresh_count = 0
        self.refused = 0                    # calls refused for an expired or revoked token
        self.blobs: dict[str, dict] = {}    # cid → {"mimeType", "size"}
        self.records: dict[str, dict] = {}  # rkey → {"cid", "value"}
        self.updates = 0                    # putRecord on an existing record key
        self.likes = 0

    # --- sessions -----------------------------------------------------------------

    @property
    def session_count(self) -> int:
        return len(self.sign_ins)

    def _issue(self, did: str) -> dict:
        now = int(time.time())
        access = _jwt({"scope": "com.atproto.appPass", "sub": did, "aud": "did:web:127.0.0.1",
                       "iat": now, "exp": now + self.access_ttl})
        refresh = _jwt({"scope": "com.atproto.refresh", "sub": did, "aud": "did:web:127.0.0.1",
                        "jti": secrets.token_hex(16), "iat": now, "exp": now + 90 * 86400})
        self.access[access], self.refresh[refresh] = did, did
        return {"did": did, "handle": HANDLE, "email": "studio@example.com",
                "emailConfirmed": self.email_confirmed, "active": True,
                "accessJwt": access, "refreshJwt": refresh}

    def expire_access_tokens(self) -> None:
        """Every access JWT issued so far is past its ``exp`` (the PDS's clock moved on)."""
        with self.lock:
            self.expired |= set(self.access)

    def revoke_sessions(self) -> None:
        """Every session ends (access and refresh JWTs); the app password still signs in."""
        with self.lock:
            self.access.clear()
            self.refresh.clear()

    def revoke_access_tokens(self) -> None:
        """The user deleted the app password: its sessions end and it no longer signs in."""
        with self.lock:
            self.revoke_sessions()
            self.app_password = None

    @staticmethod
    def _error(status: int, name: str, message: str, headers: dict | None = None) -> Answer:
        return Answer(status, {"error": name, "message": message}, headers or {})

    def _auth(self, req):
        """The session's DID, or the PDS's refusal."""
        token = bearer(req)
        if not token:
            return None, self._error(401, "AuthenticationRequired", "Authentication Required")
        with self.lock:
            if token in self.refresh:
                return None, self._error(400, "InvalidToken", "Invalid token type")
            if token in self.expired:
                self.refused += 1
                return None, self._error(400, "ExpiredToken", "Token has expired")
            did = self.access.get(token)
            if did is None:
                self.refused += 1
                return None, self._error(400, "ExpiredToken", "Token has been revoked")
        return did, None

    @route("POST", r"/xrpc/com\.atproto\.server\.createSession")
    def create_session(self, req):
        body = req.json() or {}
        identifier, password = body.get("identifier"), body.get("password")
        if not isinstance(identifier, str) or not isinstance(password, str):
            return self._error(400, "InvalidRequest", "Input must have the property \"identifier\" and \"password\"")
        with self.lock:
            now = time.time()
            if len([t for t in self.sign_ins if t > now - 300]) >= SIGN_INS_PER_5_MIN:
                return self._error(429, "RateLimitExceeded", "Rate Limit Exceeded",
                                   {"ratelimit-limit": "30", "ratelimit-remaining": "0",
                                    "ratelimit-reset": str(math.ceil(now + 300)), "ratelimit-policy": "30;w=300"})
            if identifier.lower() not in (HANDLE, DID, "studio@example.com") or password != self.app_password:
                return self._error(401, "AuthenticationRequired", "Invalid identifier or password")
            self.sign_ins.append(now)
            return Answer(200, self._issue(DID))

    @route("POST", r"/xrpc/com\.atproto\.server\.refreshSession")
    def refresh_session(self, req):
        token = bearer(req)
        with self.lock:
            if token in self.access:
                return self._error(400, "InvalidToken", "Invalid token type")
            did = self.refresh.pop(token, None)  # rotated: each refresh JWT works once
            if did is None:
                return self._error(400, "ExpiredToken", "Token has been revoked")
            self.refresh_count += 1
            return Answer(200, self._issue(did))

    # --- identity, blobs ------------------------------------------------------------

    @route("GET", r"/xrpc/com\.atproto\.identity\.resolveHandle")
    def resolve_handle(self, req):
        handle = (req.query.get("handle") or "").lower()
        did = {HANDLE: DID, **KNOWN}.get(handle)
        if did is None:
            return self._error(400, "InvalidRequest", "Unable to resolve handle")
        return Answer(200, {"did": did})

    @route("POST", r"/xrpc/com\.atproto\.repo\.uploadBlob")
    def upload_blob(self, req):
        did, problem = self._auth(req)
        if problem:
            return problem
        declared = (req.headers.get("Content-Type") or "").split(";")[0].strip()
        if not req.body:
            return self._error(400, "InvalidRequest", "Request body is required")
        if len(req.body) > BLOB_MAX:
            return self._error(400, "BlobTooLarge", "This file is too large. It is 52428800 bytes at most.")
        if _sniff(req.body) != declared:
            return self._error(400, "InvalidMimeType", f"Content-Type {declared!r} does not match the file")
        cid = _cid(req.body)
        with self.lock:
            self.blobs[cid] = {"mimeType": declared, "size": len(req.body), "did": did}
        return Answer(200, {"blob": {"$type": "blob", "ref": {"$link": cid}, "mimeType": declared,
                                     "size": len(req.body)}})

    # --- records ----------------------------------------------------------------------

    def _invalid(self, what: str) -> Answer:
        return self._error(400, "InvalidRequest", f"Invalid {POST} record: {what}")

    def _check_facets(self, text: str, facets) -> str | None:
        data, end_of_last = text.encode("utf-8"), 0
        if not isinstance(facets, list):
            return "Record/facets must be an array"
        for f in sorted(facets, key=lambda f: (f.get("index") or {}).get("byteStart", -1)):
            index, features = f.get("index") or {}, f.get("features")
            start, end = index.get("byteStart"), index.get("byteEnd")
            if not (isinstance(start, int) and isinstance(end, int) and 0 <= start < end <= len(data)):
                return f"facet index {index} is outside the text's {len(data)} bytes"
            if start < end_of_last:
                return f"facet at byte {start} overlaps the one before"
            end_of_last = end
            try:
                covered = data[start:end].decode("utf-8")
            except UnicodeDecodeError:
                return f"facet bytes {start}-{end} split a character"
            if not isinstance(features, list) or len(features) != 1:
                return "each facet needs its feature"
            feature = features[0]
            kind = feature.get("$type")
            if kind == f"{FACET}#link":
                if covered != feature.get("uri") or not str(feature.get("uri")).startswith(("http://", "https://")):
                    return f"link facet covers {covered!r}, not its uri {feature.get('uri')!r}"
            elif kind == f"{FACET}#tag":
                tag = feature.get("tag") or ""
                if covered != f"#{tag}" or not tag or _graphemes(tag) > 64:
                    return f"tag facet covers {covered!r}, not #{tag}"
            elif kind == f"{FACET}#mention":
                handle = {v: k for k, v in {HANDLE: DID, **KNOWN}.items()}.get(feature.get("did"))
                if handle is None or covered.lower() != f"@{handle}":
                    return f"mention facet covers {covered!r}, not the handle of {feature.get('did')}"
            else:
                return f"unknown facet feature {kind!r}"
        return None

    def _check_embed(self, did: str, embed) -> tuple[str | None, list[str]]:
        """A problem with the embed, and the CIDs of its blobs."""
        kind = (embed or {}).get("$type")

        def blob_of(ref, accept: str, max_size: int):
            cid = ((ref or {}).get("ref") or {}).get("$link")
            blob = self.blobs.get(cid)
            if blob is None or blob["did"] != did:
                return None, f"blob {cid} was not uploaded by this account"
            if not blob["mimeType"].startswith(accept) or blob["size"] > max_size:
                return None, f"blob {cid} ({blob['mimeType']}, {blob['size']} bytes) is not accepted here"
            return cid, None

        if kind == "app.bsky.embed.images":
            images = embed.get("images")
            if not isinstance(images, list) or not 1 <= len(images) <= 4:
                return "Record/embed/images must hold 1 to 4 images", []
            cids = []
            for image in images:
                if not isinstance(image.get("alt"), str):
                    return "Record/embed/images/0 must have the property \"alt\"", []
                cid, problem = blob_of(image.get("image"), "image/", IMAGE_MAX)
                if problem:
                    return problem, []
                cids.append(cid)
            return None, cids
        if kind == "app.bsky.embed.video":
            cid, problem = blob_of(embed.get("video"), "video/mp4", VIDEO_MAX)
            return problem, [cid] if cid else []
        return f"unsupported embed {kind!r}", []

    @route("POST", r"/xrpc/com\.atproto\.repo\.putRecord")
    def put_record(self, req):
        did, problem = self._auth(req)
        if problem:
            return problem
        body = req.json() or {}
        if body.get("repo") not in (did, HANDLE):
            return self._error(400, "InvalidRequest", f"Invalid repo: {body.get('repo')}")
        if body.get("collection") != POST:
            return self._error(400, "InvalidRequest", "this fake holds app.bsky.feed.post records only")
        rkey = body.get("rkey") or ""
        if not TID.match(rkey):
            return self._error(400, "InvalidRequest", f"Invalid record key: {rkey!r} is not a TID")
        fault = self.take_fault()
        if fault in FAULT_ANSWERS:
            return self.fault_answer(fault)
        if fault == "drop_before_post":
            return DROP
        record = body.get("record") or {}
        text = record.get("text")
        if record.get("$type") != POST or not isinstance(text, str):
            return self._invalid("Record must have the property \"text\"")
        if _graphemes(text) > 300:
            return self._invalid("Record/text must not be longer than 300 graphemes")
        if len(text.encode("utf-8")) > 3000:
            return self._invalid("Record/text must not be longer than 3000 characters")
        try:
            datetime.fromisoformat(str(record.get("createdAt")).replace("Z", "+00:00"))
        except ValueError:
            return self._invalid("Record/createdAt must be an valid atproto datetime")
        if "facets" in record and (problem := self._check_facets(text, record["facets"])):
            return self._invalid(problem)
        media = []
        if "embed" in record:
            problem, media = self._check_embed(did, record["embed"])
            if problem:
                return self._invalid(problem)
        cid = _cid(json.dumps(record, sort_keys=True).encode())
        with self.lock:
            if rkey in self.records:
                self.updates += 1  # the same record key: an update, never a second post
            else:
                self.store_post(text=text, media=media, rkey=rkey, facets=record.get("facets") or [])
            self.records[rkey] = {"cid": cid, "value": record}
        if fault == "drop_after_post":
            return DROP
        return Answer(200, {"uri": f"at://{did}/{POST}/{rkey}", "cid": cid,
                            "commit": {"cid": _cid(cid.encode()), "rev": "3l" + rkey[2:]},
                            "validationStatus": "valid"})

    @route("GET", r"/xrpc/com\.atproto\.repo\.getRecord")
    def get_record(self, req):
        q = req.query
        if q.get("repo") not in (DID, HANDLE) or q.get("collection") != POST:
            return self._error(400, "RecordNotFound", f"Could not locate record: at://{q.get('repo')}/{q.get('collection')}/{q.get('rkey')}")
        with self.lock:
            found = self.records.get(q.get("rkey", ""))
        if found is None:
            return self._error(400, "RecordNotFound", f"Could not locate record: at://{DID}/{POST}/{q.get('rkey')}")
        return Answer(200, {"uri": f"at://{DID}/{POST}/{q['rkey']}", "cid": found["cid"], "value": found["value"]})

    @route("GET", r"/xrpc/app\.bsky\.feed\.getPosts")
    def get_posts(self, req):
        _did, problem = self._auth(req)
        if problem:
            return problem
        uri = req.query.get("uris", "")
        rkey = uri.rsplit("/", 1)[-1]
        with self.lock:
            found = self.records.get(rkey) if uri.startswith(f"at://{DID}/{POST}/") else None
        if found is None:
            return Answer(200, {"posts": []})
        return Answer(200, {"posts": [{"uri": uri, "cid": found["cid"], "record": found["value"],
                                       "author": {"did": DID, "handle": HANDLE},
                                       "likeCount": self.likes, "replyCount": 2, "repostCount": 3,
                                       "quoteCount": 1, "indexedAt": "2026-01-01T00:00:00.000Z"}]})

    # --- error shapes ---------------------------------------------------------------------

    def rate_limited(self):
        reset = math.ceil(time.time() + self.rate_limit_wait)
        return self._error(429, "RateLimitExceeded", "Rate Limit Exceeded",
                           {"ratelimit-limit": "5000", "ratelimit-remaining": "0",
                            "ratelimit-reset": str(reset), "ratelimit-policy": "5000;w=3600"})

    def server_error(self):
        return self._error(500, "InternalServerError", "Internal Server Error")

    def rejected(self):
        return self._error(400, "InvalidRequest", self.reject_message)
