"""The Bluesky publisher: AT Protocol XRPC with httpx (why not the atproto SDK: docs/platforms/bluesky.md).

* Connect: a handle and an app password → ``com.atproto.server.createSession``.
  Sessions are kept per process and renewed with ``refreshSession`` (``xrpc.py``).
* Publish: each file through ``com.atproto.repo.uploadBlob``, then the
  ``app.bsky.feed.post`` record through ``com.atproto.repo.putRecord`` under a record
  key derived from the publication's idempotency key (``record_key.py``): every try
  writes the same record, so a retry can never make a second post. Links, mentions
  and hashtags become facets at UTF-8 byte offsets (``richtext.py``).
* Text: 300 graphemes and 3,000 bytes (the post lexicon's two limits).
* Reconcile: ``com.atproto.repo.getRecord`` for that record key.
* Metrics: ``app.bsky.feed.getPosts`` (likes, replies, reposts + quotes; no views).
"""
from __future__ import annotations

import httpx
import marshmallow
from marshmallow import fields, validate

from schedulerx.publishers import (Connection, PermanentError, PlatformDescriptor, PlatformLimits,
                                   PostMetrics, PublishContext, Publisher, PublishResult)
from schedulerx.publisher_http import send
from schedulerx.timeutil import utcnow

from . import richtext
from .record_key import record_key
from .xrpc import Pds, raise_for_xrpc, remember, sign_in, xrpc_error

TIMEOUT = httpx.Timeout(120.0, connect=10.0)
POST = "app.bsky.feed.post"
IMAGE_MAX_BYTES = 1_000_000   # app.bsky.embed.images: maxSize of each image blob
VIDEO_MAX_BYTES = 50_000_000  # app.bsky.embed.video: maxSize of the video blob
APP_PASSWORD = r"^[a-z0-9]{4}-[a-z0-9]{4}-[a-z0-9]{4}-[a-z0-9]{4}\Z"


class BlueskySettings(marshmallow.Schema):
    handle = fields.String(required=True, validate=validate.Length(min=3, max=253), metadata={
        "label": "Handle", "description": "e.g. studio.bsky.social (or the account's DID)"})
    app_password = fields.String(required=True, validate=validate.Regexp(
        APP_PASSWORD, error="an app password looks like abcd-efgh-ijkl-mnop: create one under "
                            "Settings → Privacy and security → App passwords (never your main password)"),
        metadata={"label": "App password", "description":
                  "Settings → Privacy and security → App passwords"})
    pds_url = fields.Url(schemes={"http", "https"}, require_tld=False, metadata={
        "label": "PDS URL", "description": "only for accounts hosted elsewhere than bsky.social"})
    language = fields.String(validate=validate.Regexp(r"^[a-zA-Z]{2,3}(-[a-zA-Z0-9]{2,8})*\Z"),
                             metadata={"label": "Language", "description": "of the posts, e.g. en or pt-BR"})


def _iso_now() -> str:
    now = utcnow()
    return now.strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond // 1000:03d}Z"


def post_url(handle: str, rkey: str) -> str:
    return f"https://bsky.app/profile/{handle}/post/{rkey}"


class BlueskyPublisher(Publisher):
    descriptor = PlatformDescriptor(
        name="bluesky", label="Bluesky",
        limits=PlatformLimits(
            text_max=300, count_graphemes=True, text_max_bytes=3000,
            media_max_count=4, image_max_count=4, video_max_count=1, mixed_media=False,
            media_types=("image/jpeg", "image/png", "image/webp", "image/gif", "video/mp4"),
            image_max_bytes=IMAGE_MAX_BYTES, video_max_bytes=VIDEO_MAX_BYTES,
            video_max_seconds=180))
    # No best_times: /work/shared/PLATFORMS.md has no posting-time heuristics for Bluesky.
    settings_schema = BlueskySettings
    secret_fields = ("app_password",)
    base_urls = {"api": "https://bsky.social"}
    idempotent = True   # putRecord under the publication's own record key: a retry overwrites
    can_look_up = True  # getRecord by that record key

    # --- the PDS ----------------------------------------------------------------

    def _client(self, settings: dict) -> httpx.Client:
        service = (settings.get("pds_url") or self.url("api")).rstrip("/")
        return httpx.Client(base_url=service, timeout=TIMEOUT)

    @staticmethod
    def _pds(client: httpx.Client, settings: dict, credentials: dict) -> Pds:
        return Pds(client, settings["handle"], credentials["app_password"])

    # --- connecting -------------------------------------------------------------

    def check_connection(self, settings, credentials):
        with self._client(settings) as client:
            session = sign_in(client, settings["handle"], credentials["app_password"])
            remember(client, settings["handle"], credentials["app_password"], session)  # for the first post
        if session.info.get("active") is False:
            raise PermanentError(f"the Bluesky account is {session.info.get('status') or 'inactive'}")
        info = {"did": session.did, "handle": session.handle}
        if "emailConfirmed" in session.info:
            info["email_confirmed"] = bool(session.info["emailConfirmed"])
        return Connection(display_name=f"@{session.handle}", info=info)

    # --- before scheduling ------------------------------------------------------

    def validate(self, title, body, media, settings, info=None, tags=()):
        problems = super().validate(title, body, media, settings, info, tags)
        if any(m.kind == "video" for m in media) and (info or {}).get("email_confirmed") is False:
            problems.append("Bluesky posts videos only from accounts with a verified email address")
        if not media and not body.strip():
            problems.append("Bluesky needs text or media")
        return problems

    # --- publishing -------------------------------------------------------------

    def publish(self, ctx: PublishContext) -> PublishResult:
        settings, rkey = ctx.account_settings, record_key(ctx.idempotency_key)
        with self._client(settings) as client:
            pds = self._pds(client, settings, ctx.credentials)
            if ctx.attempt > 1:
                # An earlier try may have written it (a 5xx after the write): keep that one.
                found = self._get_record(client, pds.session.did, rkey)
                if found is not None:
                    return self._result(found, pds.session.handle, rkey)
            record = {"$type": POST, "text": ctx.body, "createdAt": _iso_now()}
            facets = richtext.facets(ctx.body, lambda handle: self._resolve(client, handle))
            if facets:
                record["facets"] = facets
            if settings.get("language"):
                record["langs"] = [settings["language"]]
            if ctx.media:
                record["embed"] = self._embed(pds, ctx)
            answer = pds.call("POST", "com.atproto.repo.putRecord", json={
                "repo": pds.session.did, "collection": POST, "rkey": rkey, "record": record})
        return self._result(answer.json(), pds.session.handle, rkey)

    @staticmethod
    def _result(found: dict, handle: str, rkey: str) -> PublishResult:
        return PublishResult(remote_id=found["uri"], url=post_url(handle, rkey), raw=found)

    def _resolve(self, client: httpx.Client, handle: str) -> str | None:
        answer = send(client, "GET", "/xrpc/com.atproto.identity.resolveHandle", what="Bluesky",
                      params={"handle": handle})
        if answer.status_code == 400:  # not a Bluesky handle: left as plain text
            return None
        raise_for_xrpc(answer)
        return answer.json().get("did")

    @staticmethod
    def _embed(pds: Pds, ctx: PublishContext) -> dict:
        blobs = []
        for item in ctx.media:
            with (item.open() if item.open else open(item.path, "rb")) as fh:
                data = fh.read()
            answer = pds.call("POST", "com.atproto.repo.uploadBlob", content=data,
                              headers={"Content-Type": item.mime})
            blobs.append((item, answer.json()["blob"]))
        if blobs[0][0].kind == "video":
            item, blob = blobs[0]
            embed = {"$type": "app.bsky.embed.video", "video": blob}
            if item.width and item.height:
                embed["aspectRatio"] = {"width": item.width, "height": item.height}
            return embed
        images = []
        for item, blob in blobs:
            image = {"image": blob, "alt": ""}  # alt is required; SchedulerX has no alt text yet
            if item.width and item.height:
                image["aspectRatio"] = {"width": item.width, "height": item.height}
            images.append(image)
        return {"$type": "app.bsky.embed.images", "images": images}

    def _get_record(self, client, did: str, rkey: str) -> dict | None:
        answer = send(client, "GET", "/xrpc/com.atproto.repo.getRecord", what="Bluesky",
                      params={"repo": did, "collection": POST, "rkey": rkey})
        if answer.status_code == 400 and xrpc_error(answer)[0] == "RecordNotFound":
            return None
        raise_for_xrpc(answer)
        return answer.json()

    # --- after an unknown outcome -------------------------------------------------

    def reconcile(self, ctx: PublishContext):
        did = ctx.account_info.get("did")
        if not did:
            return None
        rkey = record_key(ctx.idempotency_key)
        with self._client(ctx.account_settings) as client:
            found = self._get_record(client, did, rkey)
        if found is None:
            return False  # the record key is ours alone: not there means not posted
        return self._result(found, ctx.account_info.get("handle") or did, rkey)

    def metrics(self, ctx: PublishContext):
        settings = ctx.account_settings
        with self._client(settings) as client:
            answer = self._pds(client, settings, ctx.credentials).call(
                "GET", "app.bsky.feed.getPosts", params={"uris": ctx.remote_id})
        posts = answer.json().get("posts") or []
        if not posts:
            return None  # the AppView has not indexed it (yet)
        p = posts[0]
        return PostMetrics(views=None, likes=p.get("likeCount"), comments=p.get("replyCount"),
                           shares=(p.get("repostCount") or 0) + (p.get("quoteCount") or 0), raw=p)
