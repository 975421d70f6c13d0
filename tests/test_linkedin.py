"""LinkedIn against its fake (versioned REST API and its OAuth 2.0 server): the contract, plus LinkedIn's own rules."""
from __future__ import annotations

from datetime import timedelta

import pytest

from schedulerx import publications, quotas, states
from schedulerx.crypto import decrypt_json
from schedulerx.models import Account
from schedulerx.testing.publisher_contract import PublisherContract, PublisherHarness
from schedulerx.timeutil import utcnow
from schedulerx_plugins.linkedin.publisher import API_VERSION, LinkedInPublisher, escape_little

from .fakes_platforms.linkedin import MEMBER, LinkedInFake, read_little


class LinkedInSetup:
    publisher = LinkedInPublisher
    media_kinds = ("image", "video")
    refresh_tokens_enabled = True  # an app LinkedIn approved for refresh tokens

    @pytest.fixture
    def fake(self):
        with LinkedInFake(refresh_tokens_enabled=self.refresh_tokens_enabled, part_size=32) as fake:
            yield fake

    def platform_config(self, fake):
        return {"client_id": fake.client_id, "client_secret": fake.client_secret,
                "authorize_url": f"{fake.url}/oauth/v2/authorization",
                "token_url": f"{fake.url}/oauth/v2/accessToken",
                "api_url": fake.url, "poll_interval": "0.01"}


class TestLinkedInContract(LinkedInSetup, PublisherContract):
    pass


class TestLinkedInOwnRules(LinkedInSetup, PublisherHarness):

    def test_connect_names_the_member_and_keeps_the_60_day_token(self, harness):
        acc = harness.fresh_account()
        assert acc.display_name == MEMBER["name"]
        assert acc.platform_info["person_urn"] == f"urn:li:person:{MEMBER['sub']}"
        assert utcnow() + timedelta(days=59) < acc.token_expires_at < utcnow() + timedelta(days=61)
        assert decrypt_json(harness.rt.config.secret_key, acc.credentials).get("refresh_token")

    def test_reserved_characters_arrive_intact(self, harness):
        body = "Launch (beta) — 50% off *today* for @team_leads #news https://x.io/a_b?c=[1] ~ok~"
        pub = harness.run(harness.schedule(body))
        assert pub.status == states.PUBLISHED, pub.error_message
        [post] = harness.fake.posts
        assert post["text"] == body
        assert "\\(beta\\)" in post["commentary"] and "#news" in post["commentary"]
        # Unescaped, LinkedIn would have cut the post at the first parenthesis.
        assert read_little(body) == "Launch "

    def test_escaping_keeps_links_and_hashtags(self):
        assert escape_little("#go see https://a.b/c_(d) (now)") == "#go see https://a.b/c_(d) \\(now\\)"
        assert escape_little("C:\\tmp # alone") == "C:\\\\tmp \\# alone"

    def test_every_rest_call_names_the_api_version(self, harness):
        harness.run(harness.schedule("LinkedIn: versioned", media_kinds=("image",)))
        assert harness.fake.versions_seen and set(harness.fake.versions_seen) == {API_VERSION}

    def test_the_version_can_be_moved_by_the_operator(self, harness):
        harness.rt.config.platforms["linkedin"]["version"] = "202601"
        pub = harness.run(harness.schedule("LinkedIn: other version"))
        assert pub.status == states.PUBLISHED and set(harness.fake.versions_seen) == {"202601"}

    def test_a_video_is_uploaded_in_linkedins_parts_and_waited_for(self, harness):
        harness.fake.processing_polls = 2
        pub = harness.run(harness.schedule("LinkedIn: video", media_kinds=("video",)))
        assert pub.status == states.PUBLISHED, pub.error_message
        assert harness.fake.count("PUT", r"/dms-uploads/video/1/part/\d+") == 3  # 96 bytes, 32 a part
        assert harness.fake.count("GET", r"/rest/videos/.+") == 3  # PROCESSING × 2, then AVAILABLE
        [post] = harness.fake.posts
        assert post["media"] == ["urn:li:video:C5F10AQ00000001"]
        assert pub.remote_id.startswith("urn:li:share:")
        assert pub.remote_url == f"https://www.linkedin.com/feed/update/{pub.remote_id}/"

    def test_several_images_become_a_multi_image_post(self, harness):
        pub = harness.run(harness.schedule("LinkedIn: album", media_kinds=("image",) * 3))
        assert pub.status == states.PUBLISHED, pub.error_message
        [post] = harness.fake.posts
        assert len(post["media"]) == 3 and all(m.startswith("urn:li:image:") for m in post["media"])

    def test_a_user_retry_after_an_unknown_outcome_meets_linkedins_duplicate_refusal(self, harness):
        harness.fake.fail_next("drop_after_post")
        pub = harness.run(harness.schedule("LinkedIn: answer lost"))
        assert pub.status == states.UNKNOWN  # LinkedIn cannot be asked: the user decides
        pub = harness.run(publications.act(harness.rt.pm, pub, "retry"))
        assert pub.status == states.FAILED
        assert f"Content is a duplicate of {harness.fake.shares[0]['urn']}" in pub.error_message
        assert len(harness.fake.posts) == 1

    def test_the_member_quota_is_150_posts_a_day(self, harness):
        [row] = quotas.status(LinkedInPublisher, harness.fresh_account())
        assert (row["limit"], row["label"]) == (150, "posts")


class TestLinkedInStandardApp(LinkedInSetup, PublisherHarness):
    """Most apps get no refresh token: when the 60-day token runs out, the user reconnects."""
    refresh_tokens_enabled = False

    def test_no_refresh_token_is_stored(self, harness):
        assert "refresh_token" not in decrypt_json(harness.rt.config.secret_key,
                                                   harness.fresh_account().credentials)

    def test_an_expired_token_needs_the_user_and_says_so(self, harness):
        Account.update(token_expires_at=utcnow() - timedelta(seconds=1)).where(
            Account.id == harness.account.id).execute()
        pub = harness.run(harness.schedule("LinkedIn: day 61"))
        assert pub.status == states.FAILED and "no refresh token; reconnect" in pub.error_message
        assert harness.fresh_account().health == "needs_reconnect"
        assert harness.fake.posts == [] and harness.fake.refresh_count == 0
