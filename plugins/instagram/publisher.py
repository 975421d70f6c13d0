"""The Instagram publisher: Instagram API with Instagram Login, on httpx (docs/platforms/instagram.md).

* Connect: Business Login for Instagram (OAuth 2.0 code flow, no PKCE). The code
  gives a one-hour token, traded at once for a 60-day one (``ig_exchange_token``);
  that one is renewed before it runs out with ``ig_refresh_token`` (Instagram has
  no refresh_token grant: ``refresh_tokens``), under the engine's refresh lease.
* Publish: Meta *fetches* each file from a URL — SchedulerX's signed, expiring
  public link (``MediaItem.public_url``, under BASE_URL). A container is created
  (``POST /{ig-user}/media``: an image, a reel, or carousel items and then the
  carousel), its ``status_code`` polled until ``FINISHED``, then published
  (``POST /{ig-user}/media_publish``) — the only step that makes a post.
* Limits: caption 2,200 characters, 30 hashtags, 10 carousel items, JPEG images;
  no text-only posts. 100 API-published posts per rolling 24 hours: declared as a
  daily quota and read live (``content_publishing_limit``) before each publish.
* Exactly once: no idempotency key; the account's recent media can be listed, so
  an unknown outcome is reconciled by caption and time.
"""
from __future__ import annotations

import time
from datetime import datetime, timedelta

import httpx

from schedulerx import oauth
from schedulerx.publisher_http import send
from schedulerx.publishers import (AuthError, Connection, OAuth2, PermanentError, PlatformDescriptor,
                                   PlatformLimits, PostMetrics, PublishContext, PublishError,
                                   Publisher, PublishResult, Quota, RateLimited, TemporaryError)
from schedulerx.timeutil import from_storage
from schedulerx_plugins.facebook.graph import TIMEOUT, Graph, raise_for_graph

GRAPH_VERSION = "v25.0"
LABEL = "Instagram"
#: Meta documents JPEG as the only image format it takes; reels MP4 or MOV.
MEDIA_TYPES = ("image/jpeg", "video/mp4", "video/quicktime")
POLL_INTERVAL = 5.0
POLL_MAX = 60  # five minutes at the default interval
#: content_publishing_limit counts a rolling 24 hours and gives no reset time.
LIMIT_WAIT = 3600


class InstagramPublisher(Publisher):
    descriptor = PlatformDescriptor(
        name="instagram", label="Instagram",
        limits=PlatformLimits(
            text_max=2_200, hashtags_max=30, media_max_count=10, media_types=MEDIA_TYPES,
            image_max_bytes=8 * 1024 * 1024, video_max_bytes=300 * 1024 * 1024,
            video_max_seconds=15 * 60),
        # "weekdays 10–15" (docs/platforms/instagram.md): two slots a weekday.
        best_times=tuple({"weekday": d, "time": t} for d in range(5) for t in ("11:00", "14:00")))
    oauth = OAuth2(authorize_url="https://www.instagram.com/oauth/authorize",
                   token_url="https://api.instagram.com/oauth/access_token",
                   scopes=("instagram_business_basic", "instagram_business_content_publish"),
                   pkce=False, client_auth="body", scope_separator=",",
                   # A 60-day token: renew it a week ahead, not minutes before it dies.
                   refresh_margin=7 * 86400)
    base_urls = {"api": f"https://graph.instagram.com/{GRAPH_VERSION}",
                 "auth": "https://graph.instagram.com"}
    quotas = (Quota(unit="posts", limit=100, label="API-published posts"),)
    idempotent = False
    can_look_up = True  # the account's recent media

    def _graph(self, token: str) -> Graph:
        _, secret = oauth.client_credentials(self.config, type(self))
        return Graph(self.url(), token, secret, LABEL)

    def _token_call(self, path: str, params: dict) -> dict:
        """The long-lived token endpoints (``/access_token``, ``/refresh_access_token``)."""
        with httpx.Client(base_url=self.url("auth"), timeout=TIMEOUT) as client:
            answer = send(client, "GET", path, params=params, what=LABEL)
        raise_for_graph(answer, LABEL)
        tokens = answer.json()
        if not tokens.get("access_token"):
            raise PermanentError(f"{LABEL} sent no access token", raw=answer.text[:2000])
        return tokens

    # --- connecting -------------------------------------------------------------

    def connected_tokens(self, tokens: dict, settings: dict) -> dict:
        """The code's one-hour token → a 60-day one (``expires_in`` sets the refresh time)."""
        _, secret = oauth.client_credentials(self.config, type(self))
        return self._token_call("/access_token", {"grant_type": "ig_exchange_token",
                                                  "client_secret": secret or "",
                                                  "access_token": tokens["access_token"]})

    def refresh_tokens(self, credentials: dict) -> dict:
        # Works on a token that is still valid (and at least a day old): the margin sees to it.
        return self._token_call("/refresh_access_token", {"grant_type": "ig_refresh_token",
                                                          "access_token": credentials["access_token"]})

    def check_connection(self, settings, credentials):
        with self._graph(credentials["access_token"]) as graph:
            me = graph.call("GET", "/me", params={"fields": "user_id,username"})
        return Connection(display_name=f"@{me['username']}",
                          info={"user_id": str(me["user_id"]), "username": me["username"]})

    # --- before scheduling ------------------------------------------------------

    def validate(self, title, body, media, settings, info=None, tags=()):
        problems = super().validate(title, body, media, settings, info, tags)
        if not media:
            problems.append("Instagram posts need at least one image or video (no text-only posts)")
        return problems

    # --- publishing -------------------------------------------------------------

    def publish(self, ctx: PublishContext) -> PublishResult:
        if not ctx.media:
            raise PermanentError("Instagram posts need at least one image or video")
        ig = ctx.account_info.get("user_id")
        if not ig:  # nothing sent yet: say so plainly rather than leave the outcome unknown
            raise PermanentError("the account has no Instagram user id; reconnect it")
        with _Session(self, ctx) as s:
            self._check_publishing_limit(s, ig)
            if len(ctx.media) == 1:
                container = self._container(s, ig, ctx.media[0], caption=ctx.body)
            else:
                children = [self._container(s, ig, item, carousel=True) for item in ctx.media]
                for child in children:
                    self._wait(s, child)
                container = s.call("POST", f"/{ig}/media", data={
                    "media_type": "CAROUSEL", "children": ",".join(children), "caption": ctx.body})["id"]
            self._wait(s, container)
            media_id = str(s.call("POST", f"/{ig}/media_publish", data={"creation_id": container})["id"])
            # Published: from here on nothing may fail the publication.
            url = self._permalink(s, media_id)
        return PublishResult(remote_id=media_id, url=url, raw={"container": container})

    def _check_publishing_limit(self, s: "_Session", ig: str) -> None:
        answer = s.call("GET", f"/{ig}/content_publishing_limit", params={"fields": "quota_usage,config"})
        row = (answer.get("data") or [{}])[0]
        usage, total = row.get("quota_usage"), (row.get("config") or {}).get("quota_total")
        if usage is not None and total is not None and usage >= total:
            raise RateLimited(f"Instagram's publishing limit is spent: {usage} of {total} posts in "
                              "the last 24 hours", retry_after=LIMIT_WAIT, code="publishing_limit")

    def _container(self, s, ig: str, item, *, caption: str | None = None, carousel: bool = False) -> str:
        if not item.public_url:
            raise PermanentError(f"{item.filename} has no public link for Instagram to fetch")
        if item.kind == "image":
            form = {"image_url": item.public_url}
        else:
            form = {"media_type": "VIDEO" if carousel else "REELS", "video_url": item.public_url}
        if carousel:
            form["is_carousel_item"] = "true"
        else:
            form["caption"] = caption or ""
        return str(s.call("POST", f"/{ig}/media", data=form)["id"])

    def _wait(self, s, container: str) -> None:
        """Poll the container until Meta has fetched and processed the media."""
        interval = float(self.config.platform_setting(self.name, "poll_interval", str(POLL_INTERVAL)))
        polls = int(self.config.platform_setting(self.name, "poll_max", str(POLL_MAX)))
        for _ in range(polls + 1):
            state = s.call("GET", f"/{container}", params={"fields": "status_code,status"})
            code = state.get("status_code")
            if code == "FINISHED":
                return
            if code in ("ERROR", "EXPIRED"):
                raise PermanentError(
                    f"Instagram could not fetch or process the media ({code}: "
                    f"{state.get('status') or 'no detail'}); is BASE_URL reachable from the "
                    "internet? (docs/operations.md)", code="container_error", raw=state)
            time.sleep(interval)
        # Nothing was published: a later try starts with a new container.
        raise TemporaryError("Instagram is still processing the media", code="media_processing")

    def _permalink(self, s, media_id: str) -> str | None:
        try:
            return s.call("GET", f"/{media_id}", params={"fields": "permalink"}).get("permalink")
        except (PublishError, httpx.HTTPError, ValueError):
            return None  # the post exists; its link is a nicety

    # --- after an unknown outcome ---------------------------------------------------

    def reconcile(self, ctx: PublishContext):
        ig = ctx.account_info.get("user_id")
        if not ig:
            return None
        since = from_storage(ctx.scheduled_at) - timedelta(minutes=5)
        with _Session(self, ctx) as s:
            answer = s.call("GET", f"/{ig}/media", params={
                "fields": "id,caption,timestamp,permalink", "limit": "50"})
        rows = answer.get("data") or []
        wanted = " ".join(ctx.body.split())
        for row in rows:
            if _time(row) >= since and " ".join((row.get("caption") or "").split()) == wanted:
                return PublishResult(remote_id=str(row["id"]), url=row.get("permalink"), raw=row)
        # Newest first: if the page reaches back past the scheduled time (or is all there is),
        # the post is certainly not there.
        complete = not (answer.get("paging") or {}).get("next") or (rows and _time(rows[-1]) < since)
        return False if complete else None

    def metrics(self, ctx: PublishContext):
        with _Session(self, ctx) as s:
            node = s.call("GET", f"/{ctx.remote_id}", params={"fields": "like_count,comments_count"})
        # Views and shares are insights (instagram_business_manage_insights): not asked for.
        return PostMetrics(views=None, likes=node.get("like_count"),
                           comments=node.get("comments_count"), shares=None, raw=node)


class _Session:
    """Graph calls with the account's token; a rejected token (190) is renewed once."""

    def __init__(self, publisher: InstagramPublisher, ctx: PublishContext):
        self.publisher, self.ctx = publisher, ctx
        self.graph = publisher._graph(ctx.credentials["access_token"])

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.graph.client.close()

    def call(self, method: str, path: str, **kw) -> dict:
        try:
            return self.graph.call(method, path, **kw)
        except AuthError:
            if self.ctx.refresh_credentials is None:
                raise
            # Another worker may have renewed it already; else this renews (or raises AuthError).
            self.ctx.credentials = self.ctx.refresh_credentials()
            self.graph.client.close()
            self.graph = self.publisher._graph(self.ctx.credentials["access_token"])
            return self.graph.call(method, path, **kw)


def _time(row: dict) -> datetime:
    """A media's ``timestamp`` (``2026-11-21T10:00:00+0000``), timezone-aware."""
    return datetime.strptime(row["timestamp"], "%Y-%m-%dT%H:%M:%S%z")
