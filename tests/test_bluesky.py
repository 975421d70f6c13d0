"""Bluesky against its fake PDS: the publisher contract, plus Bluesky's own rules."""
from __future__ import annotations

import dataclasses
import io
from datetime import datetime, timedelta, timezone

import httpx
import pytest

from schedulerx import accounts, media, metrics, posts, publications
from schedulerx.errors import ValidationError
from schedulerx.plugins import make_plugin_manager
from schedulerx.publish_context import build_context
from schedulerx.testing.publisher_contract import PublisherContract, PublisherHarness
from schedulerx.testing.samples import png_bytes
from schedulerx.timeutil import from_storage, utcnow
from schedulerx_plugins.bluesky import richtext
from schedulerx_plugins.bluesky.publisher import BlueskyPublisher
from schedulerx_plugins.bluesky.record_key import is_tid, record_key

from .api_support import assert_error
from .conftest import make_config
from .fakes_platforms.bluesky import DID, HANDLE, KNOWN, BlueskyFake

FAMILY = "\U0001F469\u200d\U0001F469\u200d\U0001F467\u200d\U0001F466"  # one grapheme, 7 code points, 25 bytes


class BlueskySetup:
    publisher = BlueskyPublisher
    media_kinds = ("image", "video")

    @pytest.fixture
    def fake(self):
        with BlueskyFake() as fake:
            yield fake

    def account_settings(self, fake):
        return {"handle": HANDLE, "app_password": fake.app_password, "language": "en"}

    def platform_config(self, fake):
        return {"api_url": fake.url}


class TestBlueskyContract(BlueskySetup, PublisherContract):
    pass


class TestBlueskySessions(BlueskySetup, PublisherHarness):
    """Handle + app password: one sign-in, then the refresh JWT; never a sign-in per post."""

    def test_connect_signs_in_once_and_posts_reuse_the_session(self, harness):
        acc = harness.fresh_account()
        assert acc.display_name == f"@{HANDLE}"
        assert acc.platform_info == {"did": DID, "handle": HANDLE, "email_confirmed": True}
        for n in range(3):
            assert harness.run(harness.schedule(f"Bluesky: post {n}")).status == "published"
        assert harness.fake.session_count == 1 and harness.fake.refresh_count == 0

    def test_expired_access_token_is_refreshed_then_the_post_succeeds(self, harness):
        harness.fake.expire_access_tokens()
        pub = harness.run(harness.schedule("Bluesky: after refresh"))
        assert pub.status == "published", pub.error_message
        assert harness.fake.refused == 1 and harness.fake.refresh_count == 1
        assert harness.fake.session_count == 1  # the refresh JWT did it, not the app password
        assert len(harness.fake.posts) == 1

    def test_an_access_token_about_to_expire_is_refreshed_before_the_call(self, harness):
        harness.fake.access_ttl = 10  # inside the publisher's 60 s margin however slow the run
        harness.fake.expire_access_tokens()
        assert harness.run(harness.schedule("Bluesky: first")).status == "published"
        assert (harness.fake.refused, harness.fake.refresh_count) == (1, 1)
        assert harness.run(harness.schedule("Bluesky: second")).status == "published"
        # Read from the JWT's exp: refreshed up front, nothing refused this time.
        assert (harness.fake.refused, harness.fake.refresh_count) == (1, 2)

    def test_a_spent_refresh_token_signs_in_again_with_the_app_password(self, harness):
        harness.fake.revoke_sessions()
        pub = harness.run(harness.schedule("Bluesky: new session"))
        assert pub.status == "published", pub.error_message
        assert harness.fake.session_count == 2 and len(harness.fake.posts) == 1

    def test_a_wrong_app_password_is_refused_when_connecting(self, harness):
        with pytest.raises(ValidationError) as info:
            accounts.create(harness.rt.config, harness.rt.pm, harness.workspace.id, platform="bluesky",
                            settings={"handle": HANDLE, "app_password": "zzzz-zzzz-zzzz-zzzz"})
        assert "Invalid identifier or password" in info.value.message
        with pytest.raises(ValidationError) as info:  # a main password is not even sent
            accounts.create(harness.rt.config, harness.rt.pm, harness.workspace.id, platform="bluesky",
                            settings={"handle": HANDLE, "app_password": "my main password"})
        assert "app password" in str(info.value.errors)
        # Sent: the harness's connect and the wrong app password; the main password never.
        assert harness.fake.count("POST", r"/xrpc/com\.atproto\.server\.createSession") == 2

    def test_an_account_on_its_own_pds_connects_there(self, harness):
        bare = dataclasses.replace(harness.rt.config, platforms={})
        conn = BlueskyPublisher(bare).check_connection(
            {"handle": HANDLE, "pds_url": harness.fake.url}, {"app_password": harness.fake.app_password})
        assert conn.info["did"] == DID


class TestBlueskyExactlyOnce(BlueskySetup, PublisherHarness):
    def test_the_record_key_comes_from_the_idempotency_key(self, harness):
        pub = harness.run(harness.schedule("Bluesky: keyed"))
        rkey = record_key(pub.idempotency_key)
        assert is_tid(rkey) and record_key(pub.idempotency_key) == rkey
        assert record_key("another key") != rkey
        assert pub.remote_id == f"at://{DID}/app.bsky.feed.post/{rkey}"
        assert pub.remote_url == f"https://bsky.app/profile/{HANDLE}/post/{rkey}"
        assert harness.fake.posts[0]["rkey"] == rkey

    def test_writing_again_under_the_key_updates_the_one_post(self, harness):
        pub = harness.schedule("Bluesky: written twice")
        publisher = BlueskyPublisher(harness.rt.config)
        ctx = build_context(harness.rt.config, harness.rt.pm, pub)
        ctx.attempt = 1  # as if the first answer was lost and the write went out again
        first, second = publisher.publish(ctx), publisher.publish(ctx)
        assert first.remote_id == second.remote_id
        assert len(harness.fake.posts) == 1 and harness.fake.updates == 1

    def test_a_later_try_finds_the_record_an_earlier_one_wrote(self, harness):
        pub = harness.schedule("Bluesky: 5xx after the write")
        publisher = BlueskyPublisher(harness.rt.config)
        ctx = build_context(harness.rt.config, harness.rt.pm, pub)
        ctx.attempt = 1
        publisher.publish(ctx)
        ctx.attempt = 2
        again = publisher.publish(ctx)
        assert again.remote_id.endswith(record_key(pub.idempotency_key))
        assert harness.fake.count("POST", r"/xrpc/com\.atproto\.repo\.putRecord") == 1
        assert len(harness.fake.posts) == 1 and harness.fake.updates == 0

    def test_a_lost_answer_is_reconciled_by_record_key(self, harness):
        harness.fake.fail_next("drop_after_post")
        pub = harness.run(harness.schedule("Bluesky: answer lost"))
        assert pub.status == "published"
        assert harness.fake.count("GET", r"/xrpc/com\.atproto\.repo\.getRecord") == 1
        assert len(harness.fake.posts) == 1 and harness.fake.updates == 0


class TestBlueskyText(BlueskySetup, PublisherHarness):
    def test_graphemes_and_bytes_are_counted_as_bluesky_counts(self, harness):
        # 120 families: 120 graphemes but 840 code points and exactly 3,000 bytes.
        assert harness.schedule(FAMILY * 120).status == "scheduled"
        accented = "e\u0301" * 300  # 300 graphemes of two code points each
        assert harness.schedule(accented).status == "scheduled"
        with pytest.raises(ValidationError) as info:
            harness.schedule(accented + "e\u0301")
        assert "text is 301 characters; Bluesky allows 300" in str(info.value.errors)
        with pytest.raises(ValidationError) as info:
            harness.schedule(FAMILY * 121)
        assert "text is 3025 bytes; Bluesky allows 3000" in str(info.value.errors)
        with pytest.raises(ValidationError) as info:
            harness.schedule("", title="A title is not sent")
        assert "Bluesky needs text or media" in str(info.value.errors)

    def test_facets_point_at_utf8_bytes(self):
        text = f"Café ☕ with @{list(KNOWN)[0]}: https://example.com/a?b=(1). #Café #2go #tag! @nobody.example"
        found = richtext.facets(text, lambda handle: KNOWN.get(handle))
        data = text.encode("utf-8")
        covered = [(data[f["index"]["byteStart"]:f["index"]["byteEnd"]].decode(), f["features"][0])
                   for f in found]
        assert covered == [
            ("@alice.bsky.social", {"$type": "app.bsky.richtext.facet#mention", "did": KNOWN["alice.bsky.social"]}),
            ("https://example.com/a?b=(1)", {"$type": "app.bsky.richtext.facet#link",
                                             "uri": "https://example.com/a?b=(1)"}),
            ("#Café", {"$type": "app.bsky.richtext.facet#tag", "tag": "Café"}),
            ("#tag", {"$type": "app.bsky.richtext.facet#tag", "tag": "tag"}),
        ]
        # "Café ☕ with " is 12 characters but 15 bytes: é is 2 bytes, ☕ 3.
        assert found[0]["index"] == {"byteStart": 15, "byteEnd": 33}

    def test_published_facets_pass_the_pds_checks(self, harness):
        body = f"{FAMILY} Ünïcode first, then @alice.bsky.social and https://example.com/ü #Straße."
        pub = harness.run(harness.schedule(body))
        assert pub.status == "published", pub.error_message
        kinds = [f["features"][0]["$type"].rsplit("#", 1)[1] for f in harness.fake.posts[0]["facets"]]
        assert kinds == ["mention", "link", "tag"]
        assert harness.fake.records[harness.fake.posts[0]["rkey"]]["value"]["langs"] == ["en"]

    def test_the_pds_refuses_facets_at_character_offsets(self, harness):
        # What a publisher that counted characters instead of bytes would send.
        text = "Café https://example.com"
        session = httpx.post(f"{harness.fake.url}/xrpc/com.atproto.server.createSession",
                             json={"identifier": HANDLE, "password": harness.fake.app_password}).json()
        answer = httpx.post(f"{harness.fake.url}/xrpc/com.atproto.repo.putRecord",
                            headers={"Authorization": f"Bearer {session['accessJwt']}"},
                            json={"repo": DID, "collection": "app.bsky.feed.post", "rkey": record_key("x"),
                                  "record": {"$type": "app.bsky.feed.post", "text": text,
                                             "createdAt": "2026-01-01T00:00:00.000Z",
                                             "facets": [{"index": {"byteStart": 5, "byteEnd": 24},
                                                         "features": [{"$type": "app.bsky.richtext.facet#link",
                                                                       "uri": "https://example.com"}]}]}})
        assert answer.status_code == 400 and "not its uri" in answer.json()["message"]
        assert harness.fake.posts == []


class TestBlueskyMedia(BlueskySetup, PublisherHarness):
    def test_up_to_four_images_with_alt_and_nothing_mixed(self, harness):
        pub = harness.run(harness.schedule("Bluesky: four", media_kinds=("image",) * 4))
        assert pub.status == "published", pub.error_message
        embed = harness.fake.records[harness.fake.posts[0]["rkey"]]["value"]["embed"]
        assert embed["$type"] == "app.bsky.embed.images" and len(embed["images"]) == 4
        with pytest.raises(ValidationError) as info:
            harness.schedule("five", media_kinds=("image",) * 5)
        assert "5 images; Bluesky allows 4" in str(info.value.errors)
        with pytest.raises(ValidationError) as info:
            harness.schedule("mixed", media_kinds=("image", "video"))
        assert "not both" in str(info.value.errors)

    def test_an_image_over_a_million_bytes_is_refused_when_scheduling(self, harness):
        big = media.ingest(harness.rt.config, harness.rt.pm, harness.workspace.id,
                           io.BytesIO(png_bytes(1_000_001)), "big.png")
        post = posts.create(harness.workspace.id, body="too big", media=[big.id])
        with pytest.raises(ValidationError) as info:
            publications.schedule(harness.rt.config, harness.rt.pm, harness.workspace.id, post,
                                  [harness.account.id], from_storage(utcnow()), "UTC")
        assert "Bluesky allows 1000000" in str(info.value.errors)
        assert harness.fake.blobs == {}

    def test_video_needs_a_verified_email(self, harness):
        harness.fake.email_confirmed = False
        acc = accounts.create(harness.rt.config, harness.rt.pm, harness.workspace.id, platform="bluesky",
                              settings=self.account_settings(harness.fake))
        assert acc.platform_info["email_confirmed"] is False
        harness.account = acc
        with pytest.raises(ValidationError) as info:
            harness.schedule("a clip", media_kinds=("video",))
        assert "verified email" in str(info.value.errors)

    def test_metrics_have_no_views(self, harness):
        pub = harness.run(harness.schedule("Bluesky: numbers"))
        harness.fake.likes = 7
        row = metrics.collect(harness.rt.config, harness.rt.pm, pub)
        assert (row.views, row.likes, row.comments, row.shares) == (None, 7, 2, 4)



# --- through the API: the answer a client sees ----------------------------------------

@pytest.fixture
def bsky():
    with BlueskyFake() as fake:
        yield fake


@pytest.fixture
def config(tmp_path, database_url, bsky):
    return make_config(tmp_path, database_url, platforms={"bluesky": {"api_url": bsky.url}})


@pytest.fixture
def pm():
    return make_plugin_manager(only="localstorage,bluesky")


def test_scheduling_answers_422_counted_in_graphemes_and_bytes(api, bsky):
    r = api.post("/accounts", json={"platform": "bluesky", "settings": {
        "handle": HANDLE, "app_password": bsky.app_password}})
    assert r.status_code == 201, r.json
    acc = r.json["id"]
    assert "app_password" not in r.json["settings"]
    at = (datetime.now(timezone.utc) + timedelta(minutes=5)).isoformat()
    for body, problem in ((FAMILY * 120, None),
                          ("e\u0301" * 301, "text is 301 characters; Bluesky allows 300"),
                          (FAMILY * 121, "text is 3025 bytes; Bluesky allows 3000")):
        post = api.post("/posts", json={"body": body}).json["id"]
        answer = api.post(f"/posts/{post}/schedule", json={"account_ids": [acc], "scheduled_at": at})
        if problem is None:
            assert answer.status_code == 201, answer.json
        else:
            assert assert_error(answer, 422)["errors"]["accounts"][str(acc)] == [problem]
