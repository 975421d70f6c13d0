"""Instagram against its fake (Instagram API with Instagram Login): the contract, plus Instagram's own rules.

Meta fetches media from a URL, so these tests run SchedulerX's web app on
127.0.0.1 (BASE_URL points at it) and the fake really downloads each file through
its signed public link.
"""
from __future__ import annotations

import dataclasses
import io
import threading
from datetime import datetime, timedelta, timezone

import pytest
from werkzeug.serving import make_server

from schedulerx import media, metrics, posts, publications, states
from schedulerx.crypto import decrypt_json
from schedulerx.errors import ValidationError
from schedulerx.models import Account, Publication
from schedulerx.runtime import current
from schedulerx.testing import publisher_contract
from schedulerx.testing.publisher_contract import PublisherContract, PublisherHarness
from schedulerx.testing.samples import mp4_bytes, png_bytes
from schedulerx.timeutil import from_storage, utcnow
from schedulerx_plugins.instagram.publisher import InstagramPublisher

from .fakes_platforms.instagram import IG_USER, PUBLISHING_LIMIT, InstagramFake


def jpeg_bytes(padding: int = 64) -> bytes:
    """The start of a JFIF JPEG (what type sniffers and the fake look at), then padding, then EOI."""
    return (b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"
            + b"\x00" * padding + b"\xff\xd9")


class SchedulerXServer:
    """SchedulerX's web app on 127.0.0.1, built on first request from the test's runtime."""

    def __init__(self):
        self.app = None
        self.server = make_server("127.0.0.1", 0, self, threaded=True)
        self.url = f"http://127.0.0.1:{self.server.server_port}"

    def __call__(self, environ, start_response):
        if self.app is None:
            from schedulerx_web.app import create_app
            self.app = create_app(current())
        return self.app(environ, start_response)

    def __enter__(self):
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()


def _upload(self, kind: str) -> int:
    """The kit uploads PNGs; Instagram takes JPEG only."""
    data, name = (jpeg_bytes(), "pic.jpg") if kind == "image" else (mp4_bytes(64), "clip.mp4")
    return media.ingest(self.rt.config, self.rt.pm, self.workspace.id, io.BytesIO(data), name).id


_kit_schedule = publisher_contract.Harness.schedule


def _schedule(self, body="Hello from the contract kit", *, media_kinds=(), **fields):
    """Instagram has no text-only posts: the kit's text posts carry one JPEG here."""
    return _kit_schedule(self, body, media_kinds=media_kinds or ("image",), **fields)


class InstagramSetup:
    publisher = InstagramPublisher
    media_kinds = ("image", "video")

    @pytest.fixture
    def fake(self, monkeypatch):
        monkeypatch.setattr(publisher_contract.Harness, "upload", _upload)
        monkeypatch.setattr(publisher_contract.Harness, "schedule", _schedule)
        with SchedulerXServer() as web, InstagramFake() as fake:
            monkeypatch.setenv("SCHEDULERX_BASE_URL", web.url)
            fake.web = web
            yield fake

    def platform_config(self, fake):
        return {"client_id": fake.client_id, "client_secret": fake.client_secret,
                "authorize_url": f"{fake.url}/oauth/authorize",
                "token_url": f"{fake.url}/oauth/access_token",
                "api_url": fake.url, "auth_url": fake.url, "poll_interval": "0.01"}


class TestInstagramContract(InstagramSetup, PublisherContract):
    """Instagram renews its 60-day token with ``ig_refresh_token``, which hands out no
    refresh token and cannot revive a token Meta already rejected: those two kit
    checks are replaced by what holds for Instagram."""

    def test_expired_token_is_refreshed_before_publishing(self, harness):
        Account.update(token_expires_at=utcnow() + timedelta(days=3)).where(
            Account.id == harness.account.id).execute()  # inside the week's margin
        old = decrypt_json(harness.rt.config.secret_key, harness.fresh_account().credentials)
        pub = harness.run(harness.schedule("Instagram: after renewal"))
        assert pub.status == states.PUBLISHED, pub.error_message
        assert harness.fake.refresh_count == 1
        new = decrypt_json(harness.rt.config.secret_key, harness.fresh_account().credentials)
        assert new["access_token"] != old["access_token"] and "refresh_token" not in new
        assert harness.fresh_account().token_expires_at > utcnow() + timedelta(days=59)

    def test_token_rejected_mid_publish_is_refreshed_once(self, harness):
        harness.fake.expire_access_tokens()  # Meta invalidated it (password change, …)
        pub = harness.run(harness.schedule("Instagram: token rejected"))
        assert pub.status == states.FAILED and "refused to refresh" in pub.error_message
        assert "Error validating access token" in pub.error_message
        assert harness.fresh_account().health == "needs_reconnect"
        assert harness.fake.refresh_count == 0 and harness.fake.posts == []


class TestInstagramOwnRules(InstagramSetup, PublisherHarness):

    def test_connect_trades_the_code_token_for_a_60_day_one(self, harness):
        acc = harness.fresh_account()
        assert acc.display_name == f"@{IG_USER['username']}"
        assert acc.platform_info == {"user_id": IG_USER["user_id"], "username": IG_USER["username"]}
        assert harness.fake.exchanges == 1
        token = decrypt_json(harness.rt.config.secret_key, acc.credentials)["access_token"]
        assert token.startswith("IGlong") and token in harness.fake.access_tokens
        assert acc.token_expires_at > utcnow() + timedelta(days=59)

    def test_a_text_only_post_is_refused_when_scheduling(self, harness):
        post = posts.create(harness.workspace.id, body="Words alone")
        with pytest.raises(ValidationError) as info:
            publications.schedule(harness.rt.config, harness.rt.pm, harness.workspace.id, post,
                                  [harness.account.id], from_storage(utcnow()), "UTC")
        assert "no text-only posts" in str(info.value.errors)
        assert harness.fake.count("POST", r"/\d+/media") == 0

    @pytest.mark.parametrize("body,problem", [
        (" ".join(f"#tag{i}" for i in range(31)), "31 hashtags"),
        ("x" * 2201, "2201 characters"),
    ])
    def test_caption_rules_are_checked_when_scheduling(self, harness, body, problem):
        with pytest.raises(ValidationError) as info:
            harness.schedule(body)
        assert problem in str(info.value.errors)

    def test_png_is_refused_when_scheduling(self, harness):
        asset = media.ingest(harness.rt.config, harness.rt.pm, harness.workspace.id,
                             io.BytesIO(png_bytes()), "pic.png")
        post = posts.create(harness.workspace.id, body="a PNG", media=[asset.id])
        with pytest.raises(ValidationError) as info:
            publications.schedule(harness.rt.config, harness.rt.pm, harness.workspace.id, post,
                                  [harness.account.id], from_storage(utcnow()), "UTC")
        assert "image/png is not accepted" in str(info.value.errors)

    def test_the_fake_fetched_the_image_through_the_signed_public_link(self, harness):
        pub = harness.run(harness.schedule("Instagram: fetched", media_kinds=("image",)))
        assert pub.status == states.PUBLISHED, pub.error_message
        [fetch] = harness.fake.fetches
        assert fetch["url"].startswith(f"{harness.fake.web.url}/m/")
        assert fetch["status"] == 200 and fetch["kind"] == "image/jpeg" and fetch["size"] == len(jpeg_bytes())

    def test_a_reel_is_published_only_after_its_container_finished(self, harness):
        harness.fake.processing_polls = 3
        pub = harness.run(harness.schedule("Instagram: reel", media_kinds=("video",)))
        assert pub.status == states.PUBLISHED, pub.error_message
        [post] = harness.fake.posts
        assert post["kind"] == "video"
        assert harness.fake.count("GET", r"/\d{17}") >= 4  # IN_PROGRESS × 3, then FINISHED
        assert harness.fake.fetches[0]["kind"] == "video"

    def test_a_carousel_waits_for_every_item(self, harness):
        pub = harness.run(harness.schedule("Instagram: carousel",
                                           media_kinds=("image", "video", "image")))
        assert pub.status == states.PUBLISHED, pub.error_message
        [post] = harness.fake.posts
        assert post["kind"] == "carousel" and len(post["media"]) == 3
        assert len(harness.fake.fetches) == 3
        assert harness.fake.count("POST", r"/\d+/media") == 4  # three items and the carousel

    def test_eleven_carousel_items_are_refused_when_scheduling(self, harness):
        with pytest.raises(ValidationError) as info:
            harness.schedule("Instagram: too many", media_kinds=("image",) * 11)
        assert "11 media files" in str(info.value.errors)

    def test_an_unreachable_link_fails_with_a_hint_about_base_url(self, harness):
        # BASE_URL names a place the platform cannot reach (nothing listens there).
        harness.rt.config = dataclasses.replace(harness.rt.config, base_url="http://127.0.0.1:9")
        pub = harness.run(harness.schedule("Instagram: cannot fetch", media_kinds=("image",)))
        assert pub.status == states.FAILED and "could not be fetched" in pub.error_message
        assert harness.fake.posts == []

    def test_a_video_meta_cannot_fetch_ends_in_error_status(self, harness):
        harness.rt.config = dataclasses.replace(harness.rt.config, base_url="http://127.0.0.1:9")
        pub = harness.run(harness.schedule("Instagram: reel lost", media_kinds=("video",)))
        assert pub.status == states.FAILED and "is BASE_URL reachable" in pub.error_message
        assert harness.fake.posts == []

    def test_a_spent_publishing_limit_waits_before_anything_is_created(self, harness):
        # A hundred posts in the last 24 hours, made elsewhere (the app, another tool).
        harness.fake.media[:0] = [{"id": str(i), "caption": "", "kind": "image",
                                   "created": datetime.now(timezone.utc)}
                                  for i in range(PUBLISHING_LIMIT)]
        before = utcnow()
        pub = harness.run(harness.schedule("Instagram: over the limit"))
        assert pub.status == states.RETRY_WAIT and pub.error_code == "publishing_limit"
        assert "publishing limit is spent: 100 of 100" in pub.error_message
        assert pub.next_attempt_at >= before + timedelta(minutes=59)
        assert harness.fake.containers == {}

    def test_the_daily_quota_is_declared_and_shown(self, harness):
        from schedulerx import quotas
        harness.run(harness.schedule("Instagram: counted"))
        [row] = quotas.status(InstagramPublisher, harness.fresh_account())
        assert (row["limit"], row["used"], row["label"]) == (100, 1, "API-published posts")

    def test_metrics(self, harness):
        pub = harness.run(harness.schedule("Instagram: numbers"))
        row = metrics.collect(harness.rt.config, harness.rt.pm, pub)
        assert (row.views, row.likes, row.comments, row.shares) == (None, 11, 4, None)

    def test_reconcile_finds_the_post_by_caption_and_time(self, harness):
        harness.fake.fail_next("drop_after_post")
        pub = harness.run(harness.schedule("Instagram: answer lost"))
        pub = Publication.get_by_id(pub.id)
        assert pub.status == states.PUBLISHED
        assert pub.remote_id == harness.fake.media[0]["id"]
        assert pub.remote_url.startswith("https://www.instagram.com/p/")
        assert len(harness.fake.posts) == 1
