"""The Telegram Bot API, as far as a publisher sees it.

Enforces: the bot token in the path (``/bot<token>/<method>``; a wrong one is
``401 Unauthorized``); parameters as a query string, form, JSON or multipart, as
the Bot API takes them; a chat the bot knows (``@username`` or id) and may post
in (a channel needs the bot as an administrator with ``can_post_messages``);
``sendMessage`` text of 1–4,096 characters; captions of at most 1,024;
``sendPhoto`` / ``sendVideo`` files uploaded as multipart (photos up to 10 MB,
other files 50 MB, the bytes matching the kind); ``sendMediaGroup`` with 2–10
photos and videos, each ``attach://<part>`` naming an uploaded part. Every error is
``{"ok": false, "error_code", "description"}``; 429 says the wait in
``parameters.retry_after`` (and sends no Retry-After header). The Bot API keeps
no idempotency key and offers no way to read back what a bot sent: neither does
this fake.
"""
from __future__ import annotations

import json
import time

from schedulerx.testing.fake_server import DROP, FAULT_ANSWERS, Answer, FakePlatform, route

BOT = {"id": 7000000001, "is_bot": True, "first_name": "Studio Bot", "username": "studio_bot"}
TOKEN = "7000000001:AAHk3v9Qx2LmN8pR4sT6uW0yZ1bC3dE5fG7"
CHANNEL = {"id": -1001234567890, "type": "channel", "title": "Studio News", "username": "studionews"}
GROUP = {"id": -1009876543210, "type": "supergroup", "title": "Studio Team"}
PHOTO_MAX, FILE_MAX = 10 * 1024 * 1024, 50 * 1024 * 1024


def _kind_of(data: bytes) -> str | None:
    if data.startswith(b"\x89PNG\r\n\x1a\n") or data.startswith(b"\xff\xd8\xff"):
        return "photo"
    if data[4:8] == b"ftyp":
        return "video"
    return None


class TelegramFake(FakePlatform):
    reject_message = "Bad Request: not enough rights to send text messages to the chat"
    rate_limit_wait = 35

    def __init__(self):
        super().__init__()
        self.token = TOKEN
        self.chats = {c["id"]: dict(c) for c in (CHANNEL, GROUP)}
        # The bot's standing in each chat (getChatMember of the bot).
        self.members = {CHANNEL["id"]: {"status": "administrator", "can_post_messages": True},
                        GROUP["id"]: {"status": "member"}}
        self.migrated: dict[int, int] = {}  # basic group id → the supergroup it became
        self.message_ids = 100
        self.methods: list[str] = []        # every send* method called, in order

    def revoke_access_tokens(self):
        """The bot's token was revoked with @BotFather."""
        with self.lock:
            self.token = None

    def remove_bot(self, chat_id: int):
        with self.lock:
            self.members[chat_id] = {"status": "left"}

    # --- the protocol ---------------------------------------------------------------

    @staticmethod
    def _fail(code: int, description: str, **parameters) -> Answer:
        body = {"ok": False, "error_code": code, "description": description}
        if parameters:
            body["parameters"] = parameters
        return Answer(code, body)

    @staticmethod
    def _ok(result) -> Answer:
        return Answer(200, {"ok": True, "result": result})

    def rate_limited(self):
        return self._fail(429, f"Too Many Requests: retry after {self.rate_limit_wait}",
                          retry_after=self.rate_limit_wait)

    def server_error(self):
        return self._fail(500, "Internal Server Error")

    def rejected(self):
        return self._fail(400, self.reject_message)

    @staticmethod
    def _params(req) -> dict:
        """Bot API parameters from the query string, a form, JSON or multipart."""
        params = dict(req.query)
        ctype = req.headers.get("Content-Type") or ""
        if ctype.startswith("application/json"):
            params.update(req.json() or {})
        elif ctype.startswith("multipart/form-data"):
            params.update(req.multipart())
        elif ctype.startswith("application/x-www-form-urlencoded"):
            params.update(req.form())
        return params

    def _chat(self, chat_id):
        with self.lock:
            for chat in self.chats.values():
                if str(chat_id) in (str(chat["id"]), f"@{chat.get('username')}"):
                    return chat
        return None

    @route("GET", r"/bot(?P<token>[^/]+)/(?P<method>\w+)")
    def call_get(self, req):
        return self.call(req)

    @route("POST", r"/bot(?P<token>[^/]+)/(?P<method>\w+)")
    def call(self, req):
        if req.params["token"] != self.token:
            return self._fail(401, "Unauthorized")
        method = req.params["method"].lower()  # method names are case-insensitive
        if method == "getme":
            return self._ok(BOT)
        handler = getattr(self, f"m_{method}", None)
        if handler is None:
            return self._fail(404, "Not Found")
        params = self._params(req)
        chat_id = params.get("chat_id")
        if chat_id in (None, ""):
            return self._fail(400, "Bad Request: chat_id is empty")
        try:
            if int(chat_id) in self.migrated:
                return self._fail(400, "Bad Request: group chat was upgraded to a supergroup chat",
                                  migrate_to_chat_id=self.migrated[int(chat_id)])
        except ValueError:
            pass
        chat = self._chat(chat_id)
        if chat is None:
            return self._fail(400, "Bad Request: chat not found")
        return handler(chat, params)

    def m_getchat(self, chat, params):
        return self._ok(chat)

    def m_getchatmember(self, chat, params):
        if str(params.get("user_id")) != str(BOT["id"]):
            return self._fail(400, "Bad Request: user not found")
        return self._ok({"user": BOT, **self.members[chat["id"]]})

    # --- sending ------------------------------------------------------------------------

    def _may_post(self, chat) -> Answer | None:
        member = self.members[chat["id"]]
        if chat["type"] == "channel" and not member.get("can_post_messages"):
            return self._fail(403, "Forbidden: bot is not a member of the channel chat"
                              if member["status"] == "left" else
                              "Bad Request: need administrator rights in the channel chat")
        if member["status"] in ("left", "kicked"):
            return self._fail(403, "Forbidden: bot is not a member of the supergroup chat")
        return None

    def _sending(self, method: str, chat):
        """The checks and faults every send* method shares: an Answer to return, or the fault."""
        with self.lock:
            self.methods.append(method)
        if (problem := self._may_post(chat)):
            return problem, None
        fault = self.take_fault()
        if fault in FAULT_ANSWERS:
            return self.fault_answer(fault), None
        if fault == "drop_before_post":
            return DROP, None
        return None, fault

    def _message(self, chat, **fields) -> dict:
        with self.lock:
            self.message_ids += 1
            return {"message_id": self.message_ids, "date": int(time.time()),
                    "chat": {k: v for k, v in chat.items()}, **fields}

    @staticmethod
    def _caption_problem(caption) -> Answer | None:
        if caption is not None and len(caption) > 1024:
            return TelegramFake._fail(400, "Bad Request: message caption is too long")
        return None

    def m_sendmessage(self, chat, params):
        answer, fault = self._sending("sendMessage", chat)
        if answer is not None:
            return answer
        text = params.get("text") or ""
        if not text.strip():
            return self._fail(400, "Bad Request: message text is empty")
        if len(text) > 4096:
            return self._fail(400, "Bad Request: message is too long")
        self.store_post(text=text, media=[], chat_id=chat["id"], method="sendMessage",
                        silent=params.get("disable_notification"), topic=params.get("message_thread_id"))
        message = self._message(chat, text=text)
        return DROP if fault == "drop_after_post" else self._ok(message)

    def _file(self, params, field: str, kind: str):
        """The uploaded file of ``field``, or the Bot API's refusal."""
        part = params.get(field)
        if not isinstance(part, tuple):
            return None, self._fail(400, f"Bad Request: there is no {field} in the request")
        _name, _ctype, data = part
        if len(data) > (PHOTO_MAX if kind == "photo" else FILE_MAX):
            return None, self._fail(413, "Request Entity Too Large")
        if _kind_of(data) != kind:
            return None, self._fail(400, f"Bad Request: wrong file type for a {kind}")
        return data, None

    def _send_file(self, method, field, chat, params):
        answer, fault = self._sending(method, chat)
        if answer is not None:
            return answer
        if (problem := self._caption_problem(params.get("caption"))):
            return problem
        data, problem = self._file(params, field, field)
        if problem:
            return problem
        caption = params.get("caption") or ""
        self.store_post(text=caption, media=[field], chat_id=chat["id"], method=method)
        message = self._message(chat, caption=caption, **{field: {"file_size": len(data)}})
        return DROP if fault == "drop_after_post" else self._ok(message)

    def m_sendphoto(self, chat, params):
        return self._send_file("sendPhoto", "photo", chat, params)

    def m_sendvideo(self, chat, params):
        return self._send_file("sendVideo", "video", chat, params)

    def m_sendmediagroup(self, chat, params):
        answer, fault = self._sending("sendMediaGroup", chat)
        if answer is not None:
            return answer
        try:
            items = json.loads(params.get("media") or "null")
        except ValueError:
            items = None
        if not isinstance(items, list) or not 2 <= len(items) <= 10:
            return self._fail(400, "Bad Request: media must include 2-10 items")
        kinds = []
        for item in items:
            kind, ref = item.get("type"), str(item.get("media") or "")
            if kind not in ("photo", "video"):
                return self._fail(400, f"Bad Request: unsupported media type {kind!r} in an album")
            if not ref.startswith("attach://"):
                return self._fail(400, "Bad Request: media must be attach://<part> for an upload")
            if (problem := self._caption_problem(item.get("caption"))):
                return problem
            _data, problem = self._file(params, ref[len("attach://"):], kind)
            if problem:
                return problem
            kinds.append(kind)
        caption = items[0].get("caption") or ""
        self.store_post(text=caption, media=kinds, chat_id=chat["id"], method="sendMediaGroup")
        group = str(int(time.time() * 1000))
        messages = [self._message(chat, media_group_id=group, **({"caption": caption} if i == 0 and caption else {}))
                    for i, _ in enumerate(kinds)]
        return DROP if fault == "drop_after_post" else self._ok(messages)
