"""Mastodon against its fake: the publisher contract, plus what is Mastodon's own."""
from __future__ import annotations

import httpx
import pytest

from schedulerx import metrics
from schedulerx.publish_context import build_context
from schedulerx.testing.publisher_contract import PublisherContract, PublisherHarness
from schedulerx_plugins.mastodon.publisher import MastodonPublisher

from .fakes_platforms.mastodon import MastodonFake


class MastodonSetup:
    publisher = MastodonPublisher
    media_kinds = ("image", "video")

    @pytest.fixture
    def fake(self):
        with MastodonFake() as fake:
            yield fake

    def account_settings(self, fake):
        return {"instance_url": fake.url, "access_token": fake.token, "visibility": "unlisted"}

    def platform_config(self, fake):
        return {"media_poll_interval": "0.01"}


class TestMastodonContract(MastodonSetup, PublisherContract):
    pass


class TestMastodonOwnRules(MastodonSetup, PublisherHarness):
    """Mastodon's own rules, on the kit's harness."""

    def test_every_try_of_one_publication_sends_the_same_idempotency_key(self, harness):
        harness.fake.fail_next("server_error", "server_error")
        pub = harness.schedule("Mastodon: keyed")
        for _ in range(3):
            pub = harness.run(pub)
        assert pub.status == "published"
        assert harness.fake.keys_seen == [pub.idempotency_key] * 3
        assert len(harness.fake.posts) == 1

    def test_a_retry_after_the_answer_was_lost_gets_the_first_status(self, harness):
        # The key alone (no lookup) keeps it single: the instance answers the stored status.
        harness.fake.fail_next("drop_after_post")
        pub = harness.schedule("Mastodon: lost answer")
        publisher = MastodonPublisher(harness.rt.config)
        ctx = build_context(harness.rt.config, harness.rt.pm, pub)
        with pytest.raises(httpx.RemoteProtocolError):
            publisher.publish(ctx)
        again = publisher.publish(ctx)
        assert len(harness.fake.posts) == 1 and again.remote_id == harness.fake.statuses[0]["id"]

    def test_video_waits_for_processing(self, harness):
        harness.fake.processing_polls = 3
        pub = harness.run(harness.schedule("Mastodon: video", media_kinds=("video",)))
        assert pub.status == "published"
        assert harness.fake.count("GET", r"/api/v1/media/\d+") == 4  # 3 × 206, then 200

    def test_metrics_have_no_views(self, harness):
        pub = harness.run(harness.schedule("Mastodon: numbers"))
        row = metrics.collect(harness.rt.config, harness.rt.pm, pub)
        assert (row.views, row.likes, row.shares, row.comments) == (None, 3, 2, 1)
