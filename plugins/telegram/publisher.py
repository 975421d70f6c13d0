"""The Telegram publisher: the Bot API with httpx (why not an SDK: docs/platforms/telegram.md).

* Connect: a bot token (from @BotFather) and a chat (``@channelname`` or a numeric
  id). Checked with ``getMe``, ``getChat`` and ``getChatMember`` (may the bot post there?).
* Publish: ``sendMessage`` for text; ``sendPhoto`` / ``sendVideo`` for one file and
  ``sendMediaGroup`` for an album of 2–10, uploaded as ``multipart/form-data``, the
  text as the caption.
* Text: 4,096 characters, or 1,024 as the caption of media.
* Limits: a 429 says how long to wait in ``parameters.retry_after``.
* Exactly once: the Bot API takes no idempotency key and cannot list the messages a
  bot sent, so an interrupted send is left ``unknown`` for the user (never retried blindly).
"""
from __future__ import annotations

import json

import httpx
import marshmallow
from marshmallow import fields, validate

from schedulerx.publisher_http import ERROR_TEXT_MAX, send
from schedulerx.publishers import (AuthError, Connection, PermanentError, PlatformDescriptor,
                                   PlatformLimits, PublishContext, Publisher, PublishResult,
                                   RateLimited, TemporaryError)

TIMEOUT = httpx.Timeout(300.0, connect=10.0)  # a 50 MB upload takes a while
TEXT_MAX, CAPTION_MAX, ALBUM_MAX = 4096, 1024, 10
PHOTO_MAX_BYTES = 10 * 1024 * 1024   # sendPhoto
FILE_MAX_BYTES = 50 * 1024 * 1024    # every other upload by a bot
POSTERS = ("creator", "administrator", "member")


class TelegramSettings(marshmallow.Schema):
    bot_token = fields.String(required=True, validate=validate.Regexp(
        r"^\d{3,20}:[A-Za-z0-9_-]{30,100}\Z", error="a bot token looks like 123456789:AAH…; ask @BotFather"),
        metadata={"label": "Bot token", "description": "from @BotFather (/newbot or /token)"})
    chat_id = fields.String(required=True, validate=validate.Regexp(
        r"^(@[A-Za-z][A-Za-z0-9_]{3,31}|-?\d{1,20})\Z",
        error="a chat is @channelname or a numeric id (channels and supergroups start with -100)"),
        metadata={"label": "Chat", "description": "@channelname, or the numeric chat id"})
    topic_id = fields.Integer(validate=validate.Range(min=1), metadata={
        "label": "Topic", "description": "message_thread_id of a forum topic (supergroups with topics)"})
    silent = fields.Boolean(load_default=False, metadata={
        "label": "Send silently", "description": "members get no notification sound"})


def message_url(chat: dict, message_id) -> str | None:
    """t.me link of a message: public chats by username, private supergroups and channels by id."""
    if chat.get("username"):
        return f"https://t.me/{chat['username']}/{message_id}"
    chat_id = str(chat.get("id", ""))
    if chat_id.startswith("-100"):
        return f"https://t.me/c/{chat_id[4:]}/{message_id}"
    return None  # private chats and basic groups have no links


class TelegramPublisher(Publisher):
    descriptor = PlatformDescriptor(
        name="telegram", label="Telegram",
        limits=PlatformLimits(
            text_max=TEXT_MAX, media_max_count=ALBUM_MAX,
            media_types=("image/jpeg", "image/png", "image/webp", "video/mp4"),
            image_max_bytes=PHOTO_MAX_BYTES, video_max_bytes=FILE_MAX_BYTES))
    # No best_times: /work/shared/PLATFORMS.md has no posting-time heuristics for Telegram.
    settings_schema = TelegramSettings
    secret_fields = ("bot_token",)
    base_urls = {"api": "https://api.telegram.org"}
    idempotent = False   # the Bot API has no idempotency key
    can_look_up = False  # and no way to list the messages a bot sent

    # --- calls ------------------------------------------------------------------

    def _call(self, client: httpx.Client, token: str, method: str, **kw):
        answer = send(client, "POST", f"/bot{token}/{method}", what="Telegram", **kw)
        try:
            body = answer.json()
        except ValueError:
            body = {}
        if not isinstance(body, dict):
            body = {}
        if answer.is_success and body.get("ok"):
            return body["result"]
        raise _error(answer, body)

    # --- connecting -------------------------------------------------------------

    def check_connection(self, settings, credentials):
        token = credentials["bot_token"]
        with httpx.Client(base_url=self.url(), timeout=TIMEOUT) as client:
            bot = self._call(client, token, "getMe")
            chat = self._call(client, token, "getChat", json={"chat_id": settings["chat_id"]})
            if chat.get("type") != "private":
                member = self._call(client, token, "getChatMember",
                                    json={"chat_id": chat["id"], "user_id": bot["id"]})
                problem = _cannot_post(chat, member)
                if problem:
                    raise PermanentError(problem)
        name = chat.get("title") or (f"@{chat['username']}" if chat.get("username") else chat.get("first_name"))
        return Connection(display_name=name or str(chat["id"]), info={
            "chat_id": chat["id"], "chat_type": chat.get("type"), "chat_username": chat.get("username"),
            "bot_id": bot["id"], "bot_username": bot.get("username")})

    # --- before scheduling ------------------------------------------------------

    def validate(self, title, body, media, settings, info=None, tags=()):
        problems = super().validate(title, body, media, settings, info, tags)
        n = self.text_length(body)
        if media and n > CAPTION_MAX:
            problems.append(f"caption is {n} characters; Telegram allows {CAPTION_MAX} with media "
                            f"({TEXT_MAX} without)")
        if not media and not body.strip():
            problems.append("Telegram needs text or media")
        return problems

    # --- publishing -------------------------------------------------------------

    def publish(self, ctx: PublishContext) -> PublishResult:
        settings, token = ctx.account_settings, ctx.credentials["bot_token"]
        common = {"chat_id": ctx.account_info.get("chat_id") or settings["chat_id"]}
        if settings.get("topic_id"):
            common["message_thread_id"] = settings["topic_id"]
        if settings.get("silent"):
            common["disable_notification"] = True
        with httpx.Client(base_url=self.url(), timeout=TIMEOUT) as client:
            if not ctx.media:
                sent = self._call(client, token, "sendMessage", json={**common, "text": ctx.body})
            elif len(ctx.media) == 1:
                sent = self._send_one(client, token, common, ctx)
            else:
                sent = self._send_album(client, token, common, ctx)
        messages = sent if isinstance(sent, list) else [sent]
        first = messages[0]
        return PublishResult(remote_id=str(first["message_id"]), raw=messages,
                             url=message_url(first.get("chat") or {}, first["message_id"]))

    def _send_one(self, client, token, common, ctx):
        item = ctx.media[0]
        field, method = ("photo", "sendPhoto") if item.kind == "image" else ("video", "sendVideo")
        data = {k: _form_value(v) for k, v in common.items()}
        if ctx.body:
            data["caption"] = ctx.body
        if item.kind == "video":
            data["supports_streaming"] = "true"
            data.update({k: str(int(v)) for k, v in (("width", item.width), ("height", item.height),
                                                     ("duration", item.duration)) if v})
        with _opened(item) as fh:
            return self._call(client, token, method, data=data, files={field: (item.filename, fh, item.mime)})

    def _send_album(self, client, token, common, ctx):
        media, files, handles = [], {}, []
        try:
            for i, item in enumerate(ctx.media):
                entry = {"type": "photo" if item.kind == "image" else "video", "media": f"attach://file{i}"}
                if i == 0 and ctx.body:
                    entry["caption"] = ctx.body  # an album shows the first item's caption
                media.append(entry)
                handles.append(_opened(item))
                files[f"file{i}"] = (item.filename, handles[-1], item.mime)
            data = {**{k: _form_value(v) for k, v in common.items()}, "media": json.dumps(media)}
            return self._call(client, token, "sendMediaGroup", data=data, files=files)
        finally:
            for fh in handles:
                fh.close()


def _opened(item):
    return item.open() if item.open else open(item.path, "rb")


def _form_value(value) -> str:
    return "true" if value is True else str(value)


def _cannot_post(chat: dict, member: dict) -> str | None:
    status = member.get("status")
    if chat.get("type") == "channel":
        if status == "creator" or (status == "administrator" and member.get("can_post_messages")):
            return None
        return "the bot cannot post in this channel: make it an administrator with “Post messages”"
    if status in POSTERS or (status == "restricted" and member.get("can_send_messages")):
        return None
    return f"the bot cannot post in this group (it is {status or 'not a member'}): add it as a member"


def _error(answer: httpx.Response, body: dict):
    """The engine's exception for a Bot API refusal (``{"ok": false, "error_code", "description"}``)."""
    status = answer.status_code
    description = body.get("description") or answer.text[:ERROR_TEXT_MAX] or answer.reason_phrase
    params = body.get("parameters") or {}
    message, raw = f"Telegram answered {status}: {description}", answer.text[:ERROR_TEXT_MAX]
    if status == 429:
        return RateLimited(message, retry_after=params.get("retry_after"), raw=raw)
    if status >= 500 or status == 408:
        return TemporaryError(message, code=f"http_{status}", raw=raw)
    if params.get("migrate_to_chat_id"):
        return AuthError(f"{message}; the group is now the supergroup {params['migrate_to_chat_id']}: "
                         "set that as the account's chat", raw=raw)
    # A revoked token, a bot removed from the chat or a chat gone: only the user can fix that.
    if status in (401, 403) or "chat not found" in description:
        return AuthError(message, raw=raw)
    return PermanentError(message, code=f"http_{status}", raw=raw)
