"""YouTube against its fake (Data API v3, the resumable upload, Google's OAuth 2.0 server):
the publisher contract, plus YouTube's own rules."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from schedulerx import engine, metrics, oauth, quotas, states
from schedulerx.crypto import decrypt_json
from schedulerx.errors import ValidationError
from schedulerx.models import Account, Publication
from schedulerx.publish_context import build_context
from schedulerx.publishers import MediaItem
from schedulerx.testing.publisher_contract import PublisherContract, PublisherHarness
from schedulerx.testing.samples import mp4_bytes
from schedulerx.timeutil import utcnow
from schedulerx_plugins.youtube.publisher import QUOTA_ZONE, YouTubePublisher, tags_length, video_title

from .fakes_platforms.youtube import YouTubeFake

INSERT = r"/upload/youtube/v3/videos"
VIDEO = mp4_bytes(64)  # what the kit uploads: 96 bytes, three chunks of 32


class YouTubeSetup:
    publisher = YouTubePublisher
    media_kinds = ("video",)

    @pytest.fixture
    def fake(self):
        with YouTubeFake(chunk_granularity=16) as fake:
            yield fake

    def platform_config(self, fake):
        return {"client_id": fake.client_id, "client_secret": fake.client_secret,
                "authorize_url": f"{fake.url}/o/oauth2/v2/auth", "token_url": f"{fake.url}/token",
                "api_url": fake.url, "chunk_size": "32"}


class TestYouTubeContract(YouTubeSetup, PublisherContract):
    pass


def _settings(harness, **settings):
    Account.update(settings={**(harness.fresh_account().settings or {}), **settings}).where(
        Account.id == harness.account.id).execute()


class TestYouTubeOwnRules(YouTubeSetup, PublisherHarness):
    # --- connecting -----------------------------------------------------------------

    def test_connect_asks_for_offline_access_and_names_the_channel(self, harness):
        acc = harness.fresh_account()
        assert acc.display_name == "Studio Channel"
        assert acc.platform_info["channel_id"] == "UCsx0000000000000000000a"
        assert acc.platform_info["long_uploads"] is True
        assert harness.fake.offline_codes, "the authorize URL did not ask for access_type=offline"
        assert decrypt_json(harness.rt.config.secret_key, acc.credentials)["refresh_token"]

    def test_a_refresh_keeps_the_refresh_token_google_does_not_resend(self, harness):
        before = decrypt_json(harness.rt.config.secret_key, harness.fresh_account().credentials)
        Account.update(token_expires_at=utcnow() - timedelta(seconds=1)).where(
            Account.id == harness.account.id).execute()
        pub = harness.run(harness.schedule("YouTube: after a refresh"))
        assert pub.status == states.PUBLISHED, pub.error_message
        after = decrypt_json(harness.rt.config.secret_key, harness.fresh_account().credentials)
        assert harness.fake.refresh_count == 1
        assert after["access_token"] != before["access_token"]
        assert after["refresh_token"] == before["refresh_token"]

    def test_a_google_account_without_a_channel_is_refused(self, harness):
        harness.fake.has_channel = False
        rt, ws, user = harness.rt, harness.workspace, harness.user
        url, _ = oauth.begin(rt.config, rt.pm, workspace_id=ws.id, user_id=user.id, platform="youtube")
        back = parse_qs(urlsplit(httpx.get(url).headers["Location"]).query)
        with pytest.raises(ValidationError) as info:
            oauth.complete(rt.config, rt.pm, workspace_id=ws.id, user_id=user.id, platform="youtube",
                           state=back["state"][0], code=back["code"][0])
        assert "no YouTube channel" in str(info.value)
        assert Account.select().count() == 1

    # --- validation -------------------------------------------------------------------

    @pytest.mark.parametrize("fields, kinds, problem", [
        ({"title": "t" * 101}, ("video",), "title is 101 characters; YouTube allows 100"),
        ({"title": "Less <than> this"}, ("video",), "no < or > in a video's title"),
        ({"body": "a <b>bold</b> claim"}, ("video",), "no < or > in a video's description"),
        ({"body": "é" * 2501}, ("video",), "text is 5002 bytes; YouTube allows 5000"),
        ({"tags": [f"tag number {i:03d}" for i in range(40)]}, ("video",), "tags take 679 characters"),
        ({}, ("image",), "image/png is not accepted by YouTube"),
        ({}, ("video", "video"), "2 videos; YouTube allows 1"),
    ])
    def test_what_youtube_would_refuse_is_a_422_when_scheduling(self, harness, fields, kinds, problem):
        body = fields.pop("body", "YouTube: refused")
        with pytest.raises(ValidationError) as info:
            harness.schedule(body, media_kinds=kinds, **fields)
        assert info.value.status == 422 and problem in str(info.value.errors)
        assert harness.fake.count("POST", INSERT) == 0 and harness.fake.posts == []

    def test_tags_are_counted_as_youtube_counts_them(self):
        assert tags_length(["one", "two words", "#three"]) == 3 + 11 + 5 + 2

    def test_a_channel_without_long_uploads_takes_15_minutes(self, harness):
        publisher = YouTubePublisher(harness.rt.config)
        long = MediaItem(1, "long.mp4", "video/mp4", 100, None, None, duration=1200.0)
        assert publisher.validate("t", "b", [long], {}, {"long_uploads": True}) == []
        assert publisher.validate("t", "b", [long], {}, {"long_uploads": False}) == \
            ["long.mp4: 1200 s; YouTube allows 900 s"]

    # --- publishing ---------------------------------------------------------------------

    def test_the_video_goes_up_in_chunks_with_its_metadata(self, harness):
        _settings(harness, privacy_status="unlisted", category_id="27")
        pub = harness.run(harness.schedule("First line is the title\nand then the rest",
                                           media_kinds=("video",), tags=["#howto", "two words"]))
        assert pub.status == states.PUBLISHED, pub.error_message
        [post] = harness.fake.posts
        assert post["title"] == "First line is the title"
        assert post["text"] == "First line is the title\nand then the rest"
        assert (post["tags"], post["privacy"], post["data"]) == (["howto", "two words"], "unlisted", VIDEO)
        assert pub.remote_id == harness.fake.videos[0]["id"]
        assert pub.remote_url == f"https://www.youtube.com/watch?v={pub.remote_id}"
        assert harness.fake.count("PUT", INSERT) == 3 and harness.fake.bytes_received == len(VIDEO)
        assert harness.fake.videos[0]["snippet"]["categoryId"] == "27"

    def test_a_titled_post_keeps_its_title(self, harness):
        pub = harness.run(harness.schedule("The description", media_kinds=("video",), title="Own title"))
        assert pub.status == states.PUBLISHED
        assert (harness.fake.posts[0]["title"], harness.fake.posts[0]["text"]) == ("Own title", "The description")

    def test_derived_titles_fit(self):
        clip = [MediaItem(1, "holiday.mp4", "video/mp4", 1, None, None)]
        assert video_title("", "", clip) == "holiday"
        assert len(video_title("", "w" * 300, clip)) == 100

    def test_an_upload_broken_mid_chunk_resumes_from_what_arrived(self, harness):
        harness.fake.fail_upload("ok", "drop_mid_chunk")  # the 2nd chunk: 16 of its 32 bytes arrive
        pub = harness.run(harness.schedule("YouTube: resumed"))
        assert pub.status == states.PUBLISHED, pub.error_message
        assert harness.fake.status_queries == 1
        assert harness.fake.posts[0]["data"] == VIDEO  # whole and in order
        assert harness.fake.bytes_received == len(VIDEO)  # nothing that arrived was sent again
        assert harness.fake.count("POST", INSERT) == 1 and len(harness.fake.posts) == 1

    def test_a_server_error_mid_upload_resumes_in_the_same_session(self, harness):
        harness.fake.fail_upload("server_error")
        pub = harness.run(harness.schedule("YouTube: 503 on a chunk"))
        assert pub.status == states.PUBLISHED, pub.error_message
        assert harness.fake.status_queries == 1 and harness.fake.count("POST", INSERT) == 1
        assert harness.fake.posts[0]["data"] == VIDEO

    def test_the_next_attempt_resumes_the_session_the_last_one_left(self, harness):
        harness.fake.fail_upload("ok", "drop", "drop")  # chunk 2 lost, and the question after it
        pub = harness.run(harness.schedule("YouTube: next attempt resumes"))
        assert pub.status == states.RETRY_WAIT and pub.error_code == "upload_interrupted", pub.error_message
        session = Publication.get_by_id(pub.id).remote_id
        assert session.startswith(harness.fake.url) and "upload_id=" in session
        pub = harness.run(pub)
        assert pub.status == states.PUBLISHED, pub.error_message
        assert harness.fake.count("POST", INSERT) == 1  # one session: 1,600 units spent once
        assert harness.fake.bytes_received == len(VIDEO) and harness.fake.posts[0]["data"] == VIDEO
        assert quotas.used(harness.account.id, utcnow().date()) == {"units": 1600}

    def test_an_expired_session_is_started_again(self, harness):
        harness.fake.fail_upload("ok", "drop", "drop")
        pub = harness.run(harness.schedule("YouTube: session expired"))
        assert pub.status == states.RETRY_WAIT
        harness.fake.sessions.clear()  # Google forgets a session after about a week
        pub = harness.run(pub)
        assert pub.status == states.PUBLISHED, pub.error_message
        assert harness.fake.count("POST", INSERT) == 2 and len(harness.fake.posts) == 1

    def test_a_lost_last_answer_is_reconciled_through_the_session(self, harness):
        # The last chunk makes the video but its answer is lost, and so is the question after it.
        harness.fake.fail_next("drop_after_post")
        harness.fake.fail_upload("ok", "ok", "ok", "drop")
        pub = harness.run(harness.schedule("YouTube: lost answer"))
        assert pub.status == states.PUBLISHED, (pub.status, pub.error_message)
        assert pub.remote_id == harness.fake.videos[0]["id"]
        assert any("outcome unknown" in m for m in harness.events_about("publication", pub.id))
        assert len(harness.fake.posts) == 1 and harness.fake.count("POST", INSERT) == 1

    def test_a_worker_that_died_mid_upload_is_reconciled_then_resumed(self, harness):
        pub = harness.schedule("YouTube: worker died")
        claimed = dict(engine.claim_due(harness.rt.config, now=utcnow() + timedelta(seconds=1)))
        pub, _attempt = engine.start(harness.rt.config, pub.id, claimed[pub.id])
        ctx = build_context(harness.rt.config, harness.rt.pm, pub)
        ctx.note_remote_id = lambda rid: engine._note_remote_id(pub, rid)
        harness.fake.fail_upload("ok", "drop", "drop")
        with pytest.raises(Exception):  # the worker goes away here, reporting nothing
            YouTubePublisher(harness.rt.config).publish(ctx)
        assert engine.reap_expired(now=utcnow() + timedelta(hours=2)) == [pub.id]
        # The session says the video is incomplete: no video exists, a retry is safe.
        assert engine.reconcile(harness.rt.pm, harness.rt.config, pub.id) == states.RETRY_WAIT
        pub = harness.run(Publication.get_by_id(pub.id))
        assert pub.status == states.PUBLISHED, pub.error_message
        assert harness.fake.count("POST", INSERT) == 1 and harness.fake.posts[0]["data"] == VIDEO

    def test_nothing_uploaded_before_a_session_means_nothing_to_find(self, harness):
        pub = harness.schedule("YouTube: no session")
        ctx = build_context(harness.rt.config, harness.rt.pm, pub)
        assert ctx.remote_id is None
        assert YouTubePublisher(harness.rt.config).reconcile(ctx) is False

    # --- limits ---------------------------------------------------------------------------

    def test_a_post_past_the_daily_quota_is_flagged_when_scheduled(self, harness):
        for n in range(6):  # 6 × 1,600 = 9,600 of 10,000 units
            harness.schedule(f"YouTube: upload {n}")
        with pytest.raises(ValidationError) as info:
            harness.schedule("YouTube: one too many")
        assert info.value.status == 422
        assert "YouTube allows 10000 API units a day" in str(info.value.errors)
        _settings(harness, daily_quota_units=20_000)  # this account's share of a bigger project quota
        harness.schedule("YouTube: fits now")
        assert harness.fake.posts == []

    def test_quota_exceeded_at_google_waits_for_midnight_pacific(self, harness):
        harness.fake.quota_units_left = 1000  # other accounts of the API project used it up
        pub = harness.run(harness.schedule("YouTube: no quota left"))
        assert (pub.status, pub.error_code) == (states.RETRY_WAIT, "quota_exceeded"), pub.error_message
        assert "Pacific" in pub.error_message and "exceeded your" in pub.error_message
        tomorrow = datetime.now(QUOTA_ZONE).date() + timedelta(days=1)
        reset = datetime.combine(tomorrow, datetime.min.time(), tzinfo=QUOTA_ZONE)
        assert pub.next_attempt_at >= reset.astimezone(timezone.utc).replace(tzinfo=None) - timedelta(seconds=2)
        assert harness.fake.posts == []

    def test_the_channel_upload_cap_waits_a_day(self, harness):
        harness.fake.uploads_left = 0
        before = utcnow()
        pub = harness.run(harness.schedule("YouTube: too many uploads today"))
        assert (pub.status, pub.error_code) == (states.RETRY_WAIT, "upload_limit"), pub.error_message
        assert "exceeded the number of videos" in pub.error_message
        assert pub.next_attempt_at >= before + timedelta(hours=24) - timedelta(seconds=1)

    # --- metrics ---------------------------------------------------------------------------

    def test_metrics_are_views_likes_and_comments(self, harness):
        pub = harness.run(harness.schedule("YouTube: numbers"))
        row = metrics.collect(harness.rt.config, harness.rt.pm, pub)
        assert (row.views, row.likes, row.comments, row.shares) == (120, 9, 2, None)
