"""TikTok against its fake (Content Posting API Direct Post, chunked FILE_UPLOAD, OAuth v2):
the publisher contract, plus TikTok's own rules."""
from __future__ import annotations

from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from schedulerx import metrics, oauth, states
from schedulerx.errors import UpstreamError, ValidationError
from schedulerx.models import Account, Publication
from schedulerx.publishers import MediaItem
from schedulerx.testing.publisher_contract import PublisherContract, PublisherHarness
from schedulerx.testing.samples import mp4_bytes
from schedulerx.timeutil import utcnow
from schedulerx_plugins.tiktok.publisher import MB, TikTokPublisher, chunk_plan

from .fakes_platforms.tiktok import TikTokFake

INIT = r"/v2/post/publish/video/init/"
STATUS = r"/v2/post/publish/status/fetch/"
VIDEO = mp4_bytes(64)  # what the kit uploads: 96 bytes, in chunks of 40 and 56


class TikTokSetup:
    publisher = TikTokPublisher
    media_kinds = ("video",)

    @pytest.fixture
    def fake(self):
        with TikTokFake(min_chunk_size=16) as fake:
            yield fake

    def platform_config(self, fake):
        return {"client_id": fake.client_id, "client_secret": fake.client_secret,
                "authorize_url": f"{fake.url}/v2/auth/authorize/", "token_url": f"{fake.url}/v2/oauth/token/",
                "api_url": fake.url, "chunk_size": "40", "status_poll_interval": "0",
                "status_poll_max": "5"}


class TestTikTokContract(TikTokSetup, PublisherContract):
    pass


def _settings(harness, **settings):
    Account.update(settings={**(harness.fresh_account().settings or {}), **settings}).where(
        Account.id == harness.account.id).execute()


class TestTikTokOwnRules(TikTokSetup, PublisherHarness):
    # --- connecting -----------------------------------------------------------------

    def test_connect_uses_the_client_key_and_comma_scopes(self, harness):
        [query] = harness.fake.authorize_queries
        assert query["client_key"] == harness.fake.client_id and "client_id" not in query
        assert query["scope"] == "user.info.basic,video.publish,video.list"
        assert "code_challenge" not in query  # TikTok's web login has no PKCE
        acc = harness.fresh_account()
        assert acc.display_name == "@studio"
        assert acc.platform_info["privacy_level_options"] == harness.fake.privacy_level_options
        assert acc.platform_info["max_video_post_duration_sec"] == 600

    def test_an_account_that_did_not_allow_posting_is_refused(self, harness):
        harness.fake.granted_scopes = ["user.info.basic"]
        rt, ws, user = harness.rt, harness.workspace, harness.user
        url, _ = oauth.begin(rt.config, rt.pm, workspace_id=ws.id, user_id=user.id, platform="tiktok")
        back = parse_qs(urlsplit(httpx.get(url).headers["Location"]).query)
        with pytest.raises(ValidationError) as info:
            oauth.complete(rt.config, rt.pm, workspace_id=ws.id, user_id=user.id, platform="tiktok",
                           state=back["state"][0], code=back["code"][0])
        assert "did not allow posting" in str(info.value)
        assert Account.select().count() == 1

    # --- validation -------------------------------------------------------------------

    def test_captions_count_utf16_units(self, harness):
        with pytest.raises(ValidationError) as info:
            harness.schedule("😀" * 1101)  # 1,101 characters, 2,202 UTF-16 units
        assert "text is 2202 characters; TikTok allows 2200" in str(info.value.errors)
        harness.schedule("😀" * 1100)
        assert harness.fake.count("POST", INIT) == 0

    def test_photos_are_not_offered(self, harness):
        with pytest.raises(ValidationError) as info:
            harness.schedule("TikTok: a photo", media_kinds=("image",))
        assert info.value.status == 422 and "image/png is not accepted by TikTok" in str(info.value.errors)

    def test_a_privacy_level_tiktok_does_not_offer_is_a_422(self, harness):
        Account.update(platform_info={**harness.fresh_account().platform_info,
                                      "privacy_level_options": ["SELF_ONLY"]}).where(
            Account.id == harness.account.id).execute()
        _settings(harness, privacy_level="PUBLIC_TO_EVERYONE")
        with pytest.raises(ValidationError) as info:
            harness.schedule("TikTok: too public for this app")
        assert "TikTok offers this account only SELF_ONLY" in str(info.value.errors)

    def test_the_creators_longest_video_is_the_limit(self, harness):
        publisher = TikTokPublisher(harness.rt.config)
        clip = MediaItem(1, "long.mp4", "video/mp4", 100, None, None, duration=700.0)
        assert publisher.validate("", "caption", [clip], {}, {"max_video_post_duration_sec": 900}) == []
        assert publisher.validate("", "caption", [clip], {}, {"max_video_post_duration_sec": 600}) == \
            ["long.mp4: 700 s; TikTok allows 600 s"]

    # --- the chunked upload -------------------------------------------------------------

    def test_chunk_plans_follow_tiktoks_rules(self):
        assert chunk_plan(96, 40) == (40, 2)                       # the last chunk takes 56 bytes
        assert chunk_plan(30, 40) == (30, 1)                       # smaller than a chunk: whole
        assert chunk_plan(4 * MB, 10 * MB) == (4 * MB, 1)          # under 5 MB: whole
        assert chunk_plan(105 * MB, 10 * MB) == (10 * MB, 10)      # 10 chunks, the last 15 MB

    def test_the_video_goes_up_in_tiktoks_chunks_then_is_polled(self, harness):
        harness.fake.processing_polls = 3
        pub = harness.run(harness.schedule("TikTok: chunks"))
        assert pub.status == states.PUBLISHED, pub.error_message
        [post] = harness.fake.posts
        assert post["data"] == VIDEO and post["text"] == "TikTok: chunks" and post["privacy"] == "SELF_ONLY"
        assert harness.fake.count("PUT", r"/video/") == 2
        assert harness.fake.count("POST", STATUS) == 4  # three PROCESSING_UPLOAD, then PUBLISH_COMPLETE
        # A private post has no public id: the publish id stands for it.
        assert pub.remote_id.startswith("v_pub_file~") and pub.remote_url is None

    def test_a_chunk_plan_tiktok_refuses_fails_with_its_message(self, harness):
        harness.fake.min_chunk_size = 64  # our 40-byte chunks are now too small
        pub = harness.run(harness.schedule("TikTok: bad plan"))
        assert pub.status == states.FAILED
        assert "chunk_size must be between 64" in pub.error_message
        assert harness.fake.posts == []

    def test_privacy_and_the_creators_switches_are_sent(self, harness):
        _settings(harness, privacy_level="PUBLIC_TO_EVERYONE")
        harness.fake.comment_disabled = True  # switched off in the app: stays off
        pub = harness.run(harness.schedule("TikTok: public"))
        assert pub.status == states.PUBLISHED, pub.error_message
        [post] = harness.fake.posts
        assert (post["privacy"], post["disable_comment"]) == ("PUBLIC_TO_EVERYONE", True)
        assert pub.remote_id.isdigit()
        assert pub.remote_url == f"https://www.tiktok.com/@studio/video/{pub.remote_id}"

    def test_an_upload_broken_mid_way_starts_again_and_posts_once(self, harness):
        harness.fake.fail_upload("drop")  # the first chunk never arrives
        pub = harness.run(harness.schedule("TikTok: broken upload"))
        assert (pub.status, pub.error_code) == (states.RETRY_WAIT, "upload_interrupted"), pub.error_message
        assert Publication.get_by_id(pub.id).remote_id.startswith("v_pub_file~")  # kept for the next try
        pub = harness.run(pub)
        assert pub.status == states.PUBLISHED, pub.error_message
        assert harness.fake.count("POST", INIT) == 2 and len(harness.fake.posts) == 1

    def test_a_lost_last_chunk_is_seen_in_the_status_and_tried_again(self, harness):
        harness.fake.fail_upload("ok", "drop")  # the last chunk is lost before TikTok keeps it
        pub = harness.run(harness.schedule("TikTok: last chunk lost"))
        assert (pub.status, pub.error_code) == (states.RETRY_WAIT, "upload_interrupted"), pub.error_message
        assert "got 40 of 96 bytes" in pub.error_message
        pub = harness.run(pub)
        assert pub.status == states.PUBLISHED and len(harness.fake.posts) == 1

    def test_a_lost_answer_and_status_are_reconciled_by_the_publish_id(self, harness):
        harness.fake.fail_next("drop_after_post")  # TikTok keeps the video, its answer is lost…
        harness.fake.fail_status("drop")           # …and so is the status fetch after it
        pub = harness.run(harness.schedule("TikTok: lost answer"))
        assert pub.status == states.PUBLISHED, (pub.status, pub.error_message)
        assert any("outcome unknown" in m for m in harness.events_about("publication", pub.id))
        assert harness.fake.count("POST", INIT) == 1 and len(harness.fake.posts) == 1

    def test_still_processing_waits_on_the_same_publish_id(self, harness):
        harness.fake.processing_polls = 8  # more than the 5 polls one attempt makes
        pub = harness.run(harness.schedule("TikTok: slow"))
        assert (pub.status, pub.error_code) == (states.RETRY_WAIT, "processing"), pub.error_message
        pub = harness.run(pub)
        assert pub.status == states.PUBLISHED, pub.error_message
        assert harness.fake.count("POST", INIT) == 1 and len(harness.fake.posts) == 1

    def test_a_video_tiktok_cannot_process_fails_with_the_reason(self, harness):
        harness.fake.processing_failure = "duration_check_failed"
        pub = harness.run(harness.schedule("TikTok: too long after all"))
        assert pub.status == states.FAILED and "duration_check_failed" in pub.error_message
        assert harness.fake.posts == []

    def test_a_lost_init_answer_means_nothing_to_find(self, harness):
        harness.fake.fail_next("drop_before_post")
        pub = harness.run(harness.schedule("TikTok: init lost"))
        assert (pub.status, pub.error_code) == (states.RETRY_WAIT, "no_answer")
        assert Publication.get_by_id(pub.id).remote_id is None

    # --- limits ---------------------------------------------------------------------------

    def test_the_seventh_init_in_a_minute_waits_the_window_out(self, harness):
        harness.fake.now = lambda: 1000.0  # all within one minute, however slow the machine
        for n in range(6):
            assert harness.run(harness.schedule(f"TikTok: {n}")).status == states.PUBLISHED
        before = utcnow()
        pub = harness.run(harness.schedule("TikTok: seventh"))
        assert (pub.status, pub.error_code) == (states.RETRY_WAIT, "rate_limited"), pub.error_message
        assert pub.next_attempt_at >= before + timedelta(seconds=59)
        harness.fake.now = lambda: 1061.0
        assert harness.run(pub).status == states.PUBLISHED
        assert len(harness.fake.posts) == 7

    def test_tiktoks_daily_cap_waits_a_day(self, harness):
        harness.fake.posts_left_today = 0
        before = utcnow()
        pub = harness.run(harness.schedule("TikTok: capped"))
        assert (pub.status, pub.error_code) == (states.RETRY_WAIT, "daily_cap"), pub.error_message
        assert pub.next_attempt_at >= before + timedelta(hours=24) - timedelta(seconds=1)

    def test_a_post_past_the_daily_quota_is_flagged_when_scheduled(self, harness):
        _settings(harness, daily_post_limit=2)
        harness.schedule("TikTok: one")
        harness.schedule("TikTok: two")
        with pytest.raises(ValidationError) as info:
            harness.schedule("TikTok: three")
        assert info.value.status == 422 and "TikTok allows 2 posts a day" in str(info.value.errors)

    # --- metrics ---------------------------------------------------------------------------

    def test_metrics_of_a_public_post(self, harness):
        _settings(harness, privacy_level="PUBLIC_TO_EVERYONE")
        pub = harness.run(harness.schedule("TikTok: numbers"))
        row = metrics.collect(harness.rt.config, harness.rt.pm, pub)
        assert (row.views, row.likes, row.comments, row.shares) == (1200, 90, 12, 7)

    def test_a_private_post_has_no_numbers(self, harness):
        pub = harness.run(harness.schedule("TikTok: private numbers"))
        with pytest.raises(UpstreamError) as info:
            metrics.collect(harness.rt.config, harness.rt.pm, pub)
        assert "no numbers" in str(info.value)
