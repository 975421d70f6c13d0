"""The X publisher: API v2 with httpx (why not tweepy: docs/platforms/x.md).

* Connect: OAuth 2.0 authorization code with PKCE (``Publisher.oauth``); scopes
  include ``offline.access`` so X hands out a refresh token. X rotates refresh
  tokens: each can be used once (``schedulerx.oauth.ensure_fresh`` takes a lease).
* Publish: media through the chunked upload (``POST /2/media/upload`` with
  ``command=INIT``, ``APPEND`` per chunk, ``FINALIZE``, then ``STATUS`` polls while
  X processes), then ``POST /2/tweets``. A 401 refreshes the token once and tries again.
* Text: X's weighted count (twitter-text v3 rules: URLs count 23, CJK and emoji 2),
  280, or 4,000 with X Premium (the account setting ``long_posts``).
* Limits: 429 waits until ``x-rate-limit-reset``; a daily post quota per account.
* Exactly once: X has no idempotency key, but the user's timeline can be read, so
  an unknown outcome is reconciled by looking for the text among recent posts.
"""
from __future__ import annotations

import re
import time
from datetime import timedelta

import httpx
import marshmallow
from marshmallow import fields, validate
from twitter_text import parse_tweet

from schedulerx.publisher_http import raise_for_answer, send, send_authorized
from schedulerx.publishers import (Connection, OAuth2, PermanentError, PlatformDescriptor,
                                   PlatformLimits, PostMetrics, PublishContext, Publisher,
                                   PublishResult, Quota, TemporaryError, replace_limits)
from schedulerx.timeutil import from_storage, isoformat

TIMEOUT = httpx.Timeout(60.0, connect=10.0)
CHUNK = 1024 * 1024  # X takes up to 5 MB per APPEND
URL = re.compile(r"https?://\S+")
CATEGORY = {"image/gif": "tweet_gif"}
LONG_POST_MAX = 4_000


class XSettings(marshmallow.Schema):
    long_posts = fields.Boolean(load_default=False, metadata={
        "label": "X Premium (long posts)", "description": "posts up to 4,000 weighted characters"})
    daily_post_limit = fields.Integer(validate=validate.Range(min=1, max=100_000), metadata={
        "label": "Daily post limit", "description":
        "your API plan's posts per day for this account (default 2,400: 300 per 3 hours)"})


class XPublisher(Publisher):
    descriptor = PlatformDescriptor(
        name="x", label="X",
        limits=PlatformLimits(
            text_max=280, media_max_count=4, image_max_count=4, video_max_count=1,
            mixed_media=False, media_types=("image/jpeg", "image/png", "image/gif", "image/webp",
                                            "video/mp4", "video/quicktime"),
            image_max_bytes=5 * 1024 * 1024, video_max_bytes=512 * 1024 * 1024,
            video_max_seconds=140),
        best_times=({"weekday": 1, "time": "09:00"}, {"weekday": 2, "time": "09:00"},
                    {"weekday": 3, "time": "09:00"}))
    settings_schema = XSettings
    oauth = OAuth2(authorize_url="https://x.com/i/oauth2/authorize",
                   token_url="https://api.x.com/2/oauth2/token",
                   scopes=("tweet.read", "tweet.write", "users.read", "media.write", "offline.access"),
                   pkce=True, client_auth="basic")
    base_urls = {"api": "https://api.x.com"}
    # 300 posts per 3 hours per user: at most 2,400 a day; a plan may allow fewer.
    quotas = (Quota(unit="posts", limit=2400, setting="daily_post_limit", label="posts"),)
    idempotent = False
    can_look_up = True  # the user's timeline

    # --- connecting -------------------------------------------------------------

    def check_connection(self, settings, credentials):
        with httpx.Client(base_url=self.url(), timeout=TIMEOUT) as client:
            me = send(client, "GET", "/2/users/me", what="X",
                      headers={"Authorization": f"Bearer {credentials['access_token']}"})
        raise_for_answer(me, "X")
        user = me.json()["data"]
        return Connection(display_name=f"@{user['username']}",
                          info={"user_id": str(user["id"]), "username": user["username"]})

    # --- before scheduling ------------------------------------------------------

    def limits_for(self, settings, info):
        if settings.get("long_posts"):
            return replace_limits(self.descriptor.limits, text_max=LONG_POST_MAX)
        return self.descriptor.limits

    def text_length(self, text: str) -> int:
        return parse_tweet(text).weightedLength

    # --- calls ------------------------------------------------------------------

    def _call(self, ctx: PublishContext, client: httpx.Client, method: str, path: str, **kw):
        """One API call; a 401 refreshes the token once (another worker may have already)."""
        answer = send_authorized(ctx, client, method, path, what="X", **kw)
        raise_for_answer(answer, "X")
        return answer

    def publish(self, ctx: PublishContext) -> PublishResult:
        with httpx.Client(base_url=self.url(), timeout=TIMEOUT) as client:
            media_ids = [self._upload(ctx, client, item) for item in ctx.media]
            body = {"text": ctx.body}
            if media_ids:
                body["media"] = {"media_ids": media_ids}
            answer = self._call(ctx, client, "POST", "/2/tweets", json=body)
        post = answer.json()["data"]
        username = ctx.account_info.get("username", "i")
        return PublishResult(remote_id=str(post["id"]), raw=post,
                             url=f"https://x.com/{username}/status/{post['id']}")

    def _upload(self, ctx, client, item) -> str:
        category = CATEGORY.get(item.mime, f"tweet_{item.kind}")
        init = self._call(ctx, client, "POST", "/2/media/upload", data={
            "command": "INIT", "media_type": item.mime, "total_bytes": str(item.size),
            "media_category": category})
        media_id = init.json()["data"]["id"]
        chunk = int(self.config.platform_setting(self.name, "chunk_size", str(CHUNK)))
        with (item.open() if item.open else open(item.path, "rb")) as fh:
            index = 0
            while data := fh.read(chunk):
                self._call(ctx, client, "POST", "/2/media/upload",
                           data={"command": "APPEND", "media_id": media_id, "segment_index": str(index)},
                           files={"media": ("chunk", data, "application/octet-stream")})
                index += 1
        done = self._call(ctx, client, "POST", "/2/media/upload",
                          data={"command": "FINALIZE", "media_id": media_id})
        info = (done.json().get("data") or {}).get("processing_info")
        polls = int(self.config.platform_setting(self.name, "media_poll_max", "60"))
        while info and info.get("state") in ("pending", "in_progress"):
            if polls <= 0:  # nothing posted yet: a later try starts over
                raise TemporaryError(f"X is still processing {item.filename}", code="media_processing")
            polls -= 1
            time.sleep(min(float(info.get("check_after_secs", 1)), 30))
            status = self._call(ctx, client, "GET", "/2/media/upload",
                                params={"command": "STATUS", "media_id": media_id})
            info = (status.json().get("data") or {}).get("processing_info")
        if info and info.get("state") == "failed":
            error = info.get("error") or {}
            raise PermanentError(f"X could not process {item.filename}: "
                                 f"{error.get('message') or error.get('name') or 'failed'}", raw=info)
        return str(media_id)

    # --- after an unknown outcome -------------------------------------------------

    def reconcile(self, ctx: PublishContext):
        user_id = ctx.account_info.get("user_id")
        if not user_id:
            return None
        since = from_storage(ctx.scheduled_at) - timedelta(minutes=5)
        with httpx.Client(base_url=self.url(), timeout=TIMEOUT) as client:
            answer = self._call(ctx, client, "GET", f"/2/users/{user_id}/tweets", params={
                "max_results": "100", "start_time": isoformat(since).replace("+00:00", "Z"),
                "tweet.fields": "created_at", "exclude": "replies,retweets"})
        body = answer.json()
        wanted = _comparable(ctx.body)
        for post in body.get("data") or []:
            if _comparable(post.get("text", "")) == wanted:
                return PublishResult(remote_id=str(post["id"]), raw=post,
                                     url=f"https://x.com/{ctx.account_info.get('username', 'i')}/status/{post['id']}")
        # Every post since then fits in one page unless X says there is a next one.
        return None if (body.get("meta") or {}).get("next_token") else False

    def metrics(self, ctx: PublishContext):
        with httpx.Client(base_url=self.url(), timeout=TIMEOUT) as client:
            answer = self._call(ctx, client, "GET", f"/2/tweets/{ctx.remote_id}",
                                params={"tweet.fields": "public_metrics"})
        m = (answer.json().get("data") or {}).get("public_metrics") or {}
        return PostMetrics(views=m.get("impression_count"), likes=m.get("like_count"),
                           comments=m.get("reply_count"),
                           shares=(m.get("retweet_count") or 0) + (m.get("quote_count") or 0),
                           raw=m)


def _comparable(text: str) -> str:
    # X shortens every link to t.co: compare texts with links blanked out.
    return " ".join(URL.sub("URL", text).split())
