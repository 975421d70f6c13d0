"""Discord's webhook endpoints, as far as a publisher sees them.

Enforces: the webhook id and token in the path (``/api[/v10]/webhooks/{id}/{token}``;
an unknown id is ``404 Unknown Webhook`` (10015), a wrong token ``401 Invalid
Webhook Token`` (50027)); execute with a JSON body or ``multipart/form-data`` of
``payload_json`` and ``files[n]`` parts, each ``attachments[].id`` naming a sent
file; content of at most 2,000 characters, at most 10 files, each within the
upload limit (413 above it), something to send; ``wait=true`` answers the
message, without it 204 and no id — as Discord does. Every answer carries the
per-webhook rate-limit headers; 429 is ``{"message", "retry_after" (seconds, a
float), "global"}`` with ``Retry-After``. Errors are ``{"message", "code"}``
(form errors with ``errors``). Webhooks take no nonce and cannot list their
channel: a message is read back only by its id (``GET …/messages/{id}``).
"""
from __future__ import annotations

import json
import math
import time

from schedulerx.testing.fake_server import DROP, FAULT_ANSWERS, Answer, FakePlatform, route

WEBHOOK_ID, WEBHOOK_TOKEN = "1234567890123456789", "Zm9vYmFyLXdlYmhvb2stdG9rZW4tZm9yLXRlc3RzLW9ubHktMDEyMzQ1Njc4OQ"
CHANNEL_ID, GUILD_ID = "1100000000000000001", "1000000000000000001"
PATH = r"/api(?:/v\d+)?/webhooks/(?P<id>\d+)/(?P<token>[^/]+)"
MIB = 1024 * 1024


class DiscordFake(FakePlatform):
    reject_message = "Message was blocked by automatic moderation"
    rate_limit_wait = 64.57

    def __init__(self):
        super().__init__()
        self.webhooks = {WEBHOOK_ID: WEBHOOK_TOKEN}
        self.upload_limit = 10 * MIB
        self.messages: dict[str, dict] = {}
        self.payloads: list[dict] = []   # every accepted payload (JSON or payload_json)
        self.queries: list[dict] = []    # query string of every execute
        self.serial = 1200000000000000000
        self.remaining = 5

    @property
    def webhook_url(self) -> str:
        return f"{self.url}/api/webhooks/{WEBHOOK_ID}/{WEBHOOK_TOKEN}"

    def revoke_access_tokens(self):
        """Someone deleted the webhook in the channel's settings."""
        with self.lock:
            self.webhooks.clear()

    # --- shapes -------------------------------------------------------------------------

    def _limits(self) -> dict:
        return {"X-RateLimit-Limit": "5", "X-RateLimit-Remaining": str(max(self.remaining, 0)),
                "X-RateLimit-Reset": f"{time.time() + 2:.3f}", "X-RateLimit-Reset-After": "2.000",
                "X-RateLimit-Bucket": "a1b2c3d4e5f6"}

    def _error(self, status: int, message: str, code: int, **extra) -> Answer:
        return Answer(status, {"message": message, "code": code, **extra}, self._limits())

    def _form_error(self, field: str, message: str, code: str = "BASE_TYPE_MAX_LENGTH") -> Answer:
        return self._error(400, "Invalid Form Body", 50035,
                           errors={field: {"_errors": [{"code": code, "message": message}]}})

    def rate_limited(self):
        return Answer(429, {"message": "You are being rate limited.", "retry_after": self.rate_limit_wait,
                            "global": False},
                      {**self._limits(), "X-RateLimit-Remaining": "0",
                       "Retry-After": str(math.ceil(self.rate_limit_wait)), "X-RateLimit-Scope": "shared"})

    def server_error(self):
        return self._error(502, "502: Bad Gateway", 0)

    def rejected(self):
        return self._error(400, self.reject_message, 200000)

    def _webhook(self, req) -> Answer | None:
        with self.lock:
            token = self.webhooks.get(req.params["id"])
        if token is None:
            return self._error(404, "Unknown Webhook", 10015)
        if token != req.params["token"]:
            return self._error(401, "Invalid Webhook Token", 50027)
        return None

    # --- routes ---------------------------------------------------------------------------

    @route("GET", PATH)
    def get_webhook(self, req):
        if (problem := self._webhook(req)):
            return problem
        return Answer(200, {"id": req.params["id"], "type": 1, "name": "Studio Announcements",
                            "avatar": None, "channel_id": CHANNEL_ID, "guild_id": GUILD_ID,
                            "application_id": None, "token": req.params["token"]}, self._limits())

    def _payload(self, req):
        """(payload, files) from JSON or multipart, or an Answer refusing the body."""
        ctype = req.headers.get("Content-Type") or ""
        if ctype.startswith("application/json"):
            payload = req.json()
            return (payload, {}) if isinstance(payload, dict) else (None, self._error(400, "Invalid JSON", 50109))
        if ctype.startswith("multipart/form-data"):
            parts = req.multipart()
            files = {k: v for k, v in parts.items() if isinstance(v, tuple)}
            try:
                payload = json.loads(parts.get("payload_json") or "{}")
            except ValueError:
                return None, self._error(400, "Invalid JSON in payload_json", 50109)
            bad = [k for k in files if not (k.startswith("files[") and k.endswith("]"))]
            if bad:
                return None, self._form_error(bad[0], "file fields are named files[n]", "INVALID_FIELD")
            return (payload, files) if isinstance(payload, dict) else (None, self._error(400, "Invalid JSON", 50109))
        return None, self._error(400, "Content-Type must be application/json or multipart/form-data", 50035)

    @route("POST", PATH)
    def execute(self, req):
        if (problem := self._webhook(req)):
            return problem
        with self.lock:
            self.queries.append(dict(req.query))
        fault = self.take_fault()
        if fault in FAULT_ANSWERS:
            return self.fault_answer(fault)
        if fault == "drop_before_post":
            return DROP
        payload, files = self._payload(req)
        if payload is None:
            return files
        content = payload.get("content") or ""
        if len(content) > 2000:
            return self._form_error("content", "Must be 2000 or fewer in length.")
        if len(files) > 10:
            return self._form_error("files", "Must be 10 or fewer in length.")
        if not content and not files and not payload.get("embeds"):
            return self._error(400, "Cannot send an empty message", 50006)
        for _name, _ctype, data in files.values():
            if len(data) > self.upload_limit:
                return self._error(413, "Request entity too large", 40005)
        attachments = payload.get("attachments") or []
        names = {f"files[{a.get('id')}]" for a in attachments}
        if attachments and names != set(files):
            return self._form_error("attachments", "attachments[].id must name each files[n] part",
                                    "ATTACHMENT_NOT_FOUND")
        with self.lock:
            self.serial += 1
            message_id = str(self.serial)
            post = self.store_post(text=content, media=[f[0] for f in files.values()],
                                   message_id=message_id)
            message = {"id": message_id, "type": 0, "channel_id": req.query.get("thread_id") or CHANNEL_ID,
                       "content": content, "webhook_id": req.params["id"],
                       "author": {"id": req.params["id"], "username": payload.get("username") or "Studio Announcements",
                                  "bot": True},
                       "attachments": [{"id": str(self.serial + i), "filename": f[0], "size": len(f[2]),
                                        "content_type": f[1]} for i, f in enumerate(files.values())],
                       "timestamp": time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime()),
                       "reactions": []}
            self.messages[message_id] = message
            self.payloads.append(payload)
            post["payload"] = payload
        if fault == "drop_after_post":
            return DROP
        if req.query.get("wait") != "true":
            return Answer(204, None, self._limits())
        return Answer(200, message, self._limits())

    @route("GET", PATH + r"/messages/(?P<message_id>\d+)")
    def get_message(self, req):
        if (problem := self._webhook(req)):
            return problem
        with self.lock:
            message = self.messages.get(req.params["message_id"])
        if message is None:
            return self._error(404, "Unknown Message", 10008)
        return Answer(200, message, self._limits())

    def react(self, message_id: str, emoji: str, count: int) -> None:
        with self.lock:
            self.messages[message_id]["reactions"].append({"emoji": {"id": None, "name": emoji}, "count": count})
