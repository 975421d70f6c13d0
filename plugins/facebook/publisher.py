"""The Facebook Page publisher: Graph API with httpx (why not an SDK: docs/platforms/facebook.md).

* Connect: Facebook Login (OAuth 2.0 code flow, no PKCE: a confidential web app
  with its secret). The code's user token is traded for a long-lived one
  (``fb_exchange_token``), which lists the Pages the user granted
  (``GET /me/accounts``); the chosen Page's access token is what is kept. A Page
  token got from a long-lived user token does not expire, so there is nothing to
  refresh: when Meta rejects it (the user changed their password, lost the Page
  role or removed the app) the account needs reconnecting.
* Publish: text (and an optional link) through ``POST /{page}/feed``; one photo
  through ``POST /{page}/photos`` (multipart ``source``); several photos uploaded
  unpublished, then attached to one feed post; one video through
  ``POST /{page}/videos`` on the video host (multipart ``source``).
* Exactly once: no idempotency key, but the Page's posts can be read, so an
  unknown outcome is reconciled by looking for the message since the scheduled time.
"""
from __future__ import annotations

import json
from contextlib import contextmanager
from datetime import timedelta

import httpx
import marshmallow
from marshmallow import fields, validate

from schedulerx import oauth
from schedulerx.publisher_http import send
from schedulerx.publishers import (Connection, OAuth2, PermanentError, PlatformDescriptor,
                                   PlatformLimits, PostMetrics, PublishContext, Publisher,
                                   PublishResult)
from schedulerx.timeutil import from_storage

from .graph import TIMEOUT, Graph, raise_for_graph

GRAPH_VERSION = "v25.0"
LABEL = "Facebook"
IMAGE_TYPES = ("image/jpeg", "image/png", "image/gif", "image/bmp", "image/tiff", "image/webp")
VIDEO_TYPES = ("video/mp4", "video/quicktime")
#: Posting needs this task on the Page (Meta's page roles, as /me/accounts lists them).
CREATE_CONTENT = "CREATE_CONTENT"


def _weekdays(*hours: int) -> tuple[dict, ...]:
    return tuple({"weekday": d, "time": f"{h:02d}:00"} for d in range(5) for h in hours)


class FacebookSettings(marshmallow.Schema):
    page_id = fields.String(validate=validate.Regexp(r"^\d{1,30}$"), metadata={
        "label": "Page id", "description": "the Page to post to when you granted several; "
        "takes effect when you reconnect (empty: the first Page you can post to)"})


class FacebookPublisher(Publisher):
    descriptor = PlatformDescriptor(
        name="facebook", label="Facebook Page",
        limits=PlatformLimits(
            text_max=63_206, media_max_count=10, image_max_count=10, video_max_count=1,
            mixed_media=False, media_types=IMAGE_TYPES + VIDEO_TYPES,
            image_max_bytes=4 * 1024 * 1024,
            # One request with the file (non-resumable upload): up to 1 GB and 20 minutes.
            video_max_bytes=1024 * 1024 * 1024, video_max_seconds=20 * 60),
        # "weekdays 8–18" (docs/platforms/facebook.md): three slots a weekday.
        best_times=_weekdays(9, 13, 17))
    settings_schema = FacebookSettings
    oauth = OAuth2(authorize_url=f"https://www.facebook.com/{GRAPH_VERSION}/dialog/oauth",
                   token_url=f"https://graph.facebook.com/{GRAPH_VERSION}/oauth/access_token",
                   scopes=("pages_show_list", "pages_manage_posts", "pages_read_engagement"),
                   pkce=False, client_auth="body", scope_separator=",")
    base_urls = {"api": f"https://graph.facebook.com/{GRAPH_VERSION}",
                 "video": f"https://graph-video.facebook.com/{GRAPH_VERSION}"}
    idempotent = False
    can_look_up = True  # the Page's posts

    def _graph(self, token: str, host: str = "api") -> Graph:
        _, secret = oauth.client_credentials(self.config, type(self))
        return Graph(self.url(host), token, secret, LABEL)

    # --- connecting -------------------------------------------------------------

    def connected_tokens(self, tokens: dict, settings: dict) -> dict:
        """Long-lived user token → the chosen Page's token (which does not expire)."""
        client_id, secret = oauth.client_credentials(self.config, type(self))
        with httpx.Client(timeout=TIMEOUT) as client:
            answer = send(client, "GET", oauth.endpoint(self.config, type(self), "token"), what=LABEL,
                          params={"grant_type": "fb_exchange_token", "client_id": client_id,
                                  "client_secret": secret or "",
                                  "fb_exchange_token": tokens["access_token"]})
        raise_for_graph(answer, LABEL)
        user_token = answer.json()["access_token"]
        with self._graph(user_token) as graph:
            pages = graph.call("GET", "/me/accounts", params={
                "fields": "id,name,access_token,tasks", "limit": "100"}).get("data") or []
        usable = [p for p in pages if CREATE_CONTENT in (p.get("tasks") or ())]
        if not usable:
            raise PermanentError("no Facebook Page you can post to was granted: sign in again and "
                                 "choose a Page where you can create content")
        wanted = settings.get("page_id")
        chosen = next((p for p in usable if p["id"] == wanted), None) if wanted else usable[0]
        if chosen is None:
            names = ", ".join(f"{p['name']} ({p['id']})" for p in usable)
            raise PermanentError(f"Page {wanted} was not granted or you cannot post to it; "
                                 f"granted: {names}")
        # No expires_in: a Page token from a long-lived user token has no expiry.
        return {"access_token": chosen["access_token"], "token_type": "bearer",
                "scope": tokens.get("scope")}

    def check_connection(self, settings, credentials):
        with self._graph(credentials["access_token"]) as graph:
            page = graph.call("GET", "/me", params={"fields": "id,name"})
        return Connection(display_name=page["name"],
                          info={"page_id": str(page["id"]), "page_name": page["name"]})

    # --- publishing ---------------------------------------------------------------

    def publish(self, ctx: PublishContext) -> PublishResult:
        page = ctx.account_info.get("page_id")
        if not page:  # nothing sent yet: say so plainly rather than leave the outcome unknown
            raise PermanentError("the account has no Facebook Page id; reconnect it")
        token = ctx.credentials["access_token"]
        images = [m for m in ctx.media if m.kind == "image"]
        videos = [m for m in ctx.media if m.kind == "video"]
        if videos:
            with self._graph(token, "video") as graph:
                form = {"description": ctx.body}
                if ctx.title:
                    form["title"] = ctx.title
                with _source(videos[0]) as files:
                    video = graph.call("POST", f"/{page}/videos", data=form, files=files)
            return PublishResult(remote_id=str(video["id"]), raw=video,
                                 url=f"https://www.facebook.com/{page}/videos/{video['id']}/")
        with self._graph(token) as graph:
            if len(images) == 1:
                with _source(images[0]) as files:
                    photo = graph.call("POST", f"/{page}/photos", data={"message": ctx.body},
                                       files=files)
                return _post_result(photo.get("post_id") or photo["id"], photo)
            form = {"message": ctx.body}
            if ctx.options.get("link") and not images:
                form["link"] = ctx.options["link"]
            # Several photos: uploaded unpublished (no post yet), then attached to one post.
            for i, item in enumerate(images):
                with _source(item) as files:
                    photo = graph.call("POST", f"/{page}/photos", data={"published": "false"},
                                       files=files)
                form[f"attached_media[{i}]"] = json.dumps({"media_fbid": str(photo["id"])})
            post = graph.call("POST", f"/{page}/feed", data=form)
        return _post_result(post["id"], post)

    # --- after an unknown outcome ----------------------------------------------------

    def reconcile(self, ctx: PublishContext):
        page = ctx.account_info.get("page_id")
        if not page:
            return None
        since = from_storage(ctx.scheduled_at) - timedelta(minutes=5)
        with self._graph(ctx.credentials["access_token"]) as graph:
            answer = graph.call("GET", f"/{page}/posts", params={
                "fields": "id,message,created_time", "since": str(int(since.timestamp())),
                "limit": "100"})
        wanted = " ".join(ctx.body.split())
        for post in answer.get("data") or []:
            if " ".join((post.get("message") or "").split()) == wanted:
                return _post_result(post["id"], post)
        # Everything since then fits in one page unless Meta offers a next one.
        return None if (answer.get("paging") or {}).get("next") else False

    def metrics(self, ctx: PublishContext):
        with self._graph(ctx.credentials["access_token"]) as graph:
            if "_" in ctx.remote_id:  # a post: <page id>_<post id>
                node = graph.call("GET", f"/{ctx.remote_id}", params={
                    "fields": "reactions.summary(total_count),comments.summary(total_count),shares"})
                likes = _total(node.get("reactions"))
                shares = (node.get("shares") or {}).get("count", 0)
            else:  # a video
                node = graph.call("GET", f"/{ctx.remote_id}", params={
                    "fields": "likes.summary(total_count),comments.summary(total_count)"})
                likes, shares = _total(node.get("likes")), None
        # Views need the read_insights permission, which SchedulerX does not ask for.
        return PostMetrics(views=None, likes=likes, comments=_total(node.get("comments")),
                           shares=shares, raw=node)


@contextmanager
def _source(item):
    """The file as the multipart ``source`` field, streamed from storage."""
    with (item.open() if item.open else open(item.path, "rb")) as fh:
        yield {"source": (item.filename, fh, item.mime)}


def _post_result(post_id: str, raw) -> PublishResult:
    return PublishResult(remote_id=str(post_id), url=f"https://www.facebook.com/{post_id}", raw=raw)


def _total(edge) -> int | None:
    return ((edge or {}).get("summary") or {}).get("total_count")
