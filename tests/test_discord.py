"""Discord against its fake webhook endpoints: the publisher contract, plus Discord's own rules."""
from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta, timezone

import pytest

from schedulerx import accounts, metrics
from schedulerx.errors import ValidationError
from schedulerx.plugins import make_plugin_manager
from schedulerx.publishers import MediaItem, PermanentError
from schedulerx.testing.publisher_contract import PublisherContract, PublisherHarness
from schedulerx_plugins.discord.publisher import DiscordPublisher

from .api_support import assert_error, png_bytes, upload
from .conftest import make_config
from .fakes_platforms.discord import CHANNEL_ID, GUILD_ID, WEBHOOK_ID, WEBHOOK_TOKEN, DiscordFake

MIB = 1024 * 1024


class DiscordSetup:
    publisher = DiscordPublisher
    media_kinds = ("image", "video")

    @pytest.fixture
    def fake(self):
        with DiscordFake() as fake:
            yield fake

    def account_settings(self, fake):
        return {"webhook_url": fake.webhook_url}

    def platform_config(self, fake):
        return {"api_url": fake.url}


class TestDiscordContract(DiscordSetup, PublisherContract):
    pass


class TestDiscordWebhookUrl(DiscordSetup, PublisherHarness):
    def test_connect_reads_the_webhook(self, harness):
        acc = harness.fresh_account()
        assert acc.display_name == f"Studio Announcements → #{CHANNEL_ID}"
        assert acc.platform_info == {"webhook_id": WEBHOOK_ID, "name": "Studio Announcements",
                                     "channel_id": CHANNEL_ID, "guild_id": GUILD_ID}
        assert harness.fake.requests == [("GET", f"/api/v10/webhooks/{WEBHOOK_ID}/{WEBHOOK_TOKEN}")]

    def connect_with(self, harness, url: str):
        return accounts.create(harness.rt.config, harness.rt.pm, harness.workspace.id,
                               platform="discord", settings={"webhook_url": url})

    def test_a_discord_url_is_executed_at_the_configured_base(self, harness):
        # The URL names the webhook; the request goes to SCHEDULERX_DISCORD_API_URL (here the fake).
        for host in ("discord.com", "discordapp.com", "canary.discord.com"):
            acc = self.connect_with(harness, f"https://{host}/api/webhooks/{WEBHOOK_ID}/{WEBHOOK_TOKEN}")
            assert acc.platform_info["webhook_id"] == WEBHOOK_ID
        assert len(harness.fake.requests) == 4

    def test_any_other_host_is_refused_without_a_request(self, harness):
        for url in (f"https://evil.example/api/webhooks/{WEBHOOK_ID}/{WEBHOOK_TOKEN}",
                    f"http://discord.com/api/webhooks/{WEBHOOK_ID}/{WEBHOOK_TOKEN}",
                    f"https://discord.com.evil.example/api/webhooks/{WEBHOOK_ID}/{WEBHOOK_TOKEN}"):
            with pytest.raises(ValidationError) as info:
                self.connect_with(harness, url)
            assert "not a Discord webhook URL" in str(info.value), url
        for url in ("https://discord.com/channels/1/2",  # not even shaped like one
                    f"https://discord.com/api/webhooks/{WEBHOOK_ID}/{WEBHOOK_TOKEN}?x=1"):
            with pytest.raises(ValidationError) as info:
                self.connect_with(harness, url)
            assert "webhooks/<id>/<token>" in str(info.value.errors), url
        assert len(harness.fake.requests) == 1  # the harness's own connect

    def test_without_an_override_only_discord_is_reached(self, harness):
        bare = DiscordPublisher(dataclasses.replace(harness.rt.config, platforms={}))
        with pytest.raises(PermanentError):
            bare._endpoint({"webhook_url": harness.fake.webhook_url})
        assert bare._endpoint({"webhook_url": f"https://discordapp.com/api/v9/webhooks/{WEBHOOK_ID}/{WEBHOOK_TOKEN}"}) \
            == f"https://discord.com/api/v10/webhooks/{WEBHOOK_ID}/{WEBHOOK_TOKEN}"

    def test_a_wrong_token_is_refused_with_discords_words(self, harness):
        with pytest.raises(ValidationError) as info:
            self.connect_with(harness, f"{harness.fake.url}/api/webhooks/{WEBHOOK_ID}/{'x' * 68}")
        assert "Invalid Webhook Token" in info.value.message


class TestDiscordPublishing(DiscordSetup, PublisherHarness):
    def test_text_goes_as_json_and_the_message_id_comes_back(self, harness):
        pub = harness.run(harness.schedule("Discord: hello @everyone"))
        assert pub.status == "published"
        assert harness.fake.queries == [{"wait": "true"}]
        assert harness.fake.payloads == [{"content": "Discord: hello @everyone",
                                          "allowed_mentions": {"parse": ["users", "roles"]}}]
        assert pub.remote_id == harness.fake.posts[0]["message_id"]
        assert pub.remote_url == f"https://discord.com/channels/{GUILD_ID}/{CHANNEL_ID}/{pub.remote_id}"

    def test_attachments_go_as_files_n_with_payload_json(self, harness):
        pub = harness.run(harness.schedule("Discord: ten files", media_kinds=("image",) * 9 + ("video",)))
        assert pub.status == "published", pub.error_message
        payload = harness.fake.payloads[0]
        assert [a["id"] for a in payload["attachments"]] == list(range(10))
        assert len(harness.fake.posts[0]["media"]) == 10

    def test_settings_name_the_thread_the_sender_and_everyone(self, harness):
        acc = harness.fresh_account()
        accounts.update(harness.rt.config, harness.rt.pm, acc, settings={
            "thread_id": "1300000000000000001", "username": "Release Bot", "mention_everyone": True})
        pub = harness.run(harness.schedule("Discord: in the thread"))
        assert pub.status == "published"
        assert harness.fake.queries[-1] == {"wait": "true", "thread_id": "1300000000000000001"}
        assert harness.fake.payloads[-1]["username"] == "Release Bot"
        assert harness.fake.payloads[-1]["allowed_mentions"] == {"parse": ["users", "roles", "everyone"]}

    def test_rate_limit_waits_the_float_seconds_of_the_body(self, harness):
        harness.fake.rate_limit_wait = 300.25
        harness.fake.fail_next("rate_limit")
        pub = harness.run(harness.schedule("Discord: slow down"))
        assert pub.status == "retry_wait" and "You are being rate limited" in pub.error_message
        assert (pub.next_attempt_at - pub.updated_at).total_seconds() >= 299

    def test_an_interrupted_send_is_left_for_the_user(self, harness):
        harness.fake.fail_next("drop_after_post")
        pub = harness.run(harness.schedule("Discord: lost"))
        assert pub.status == "unknown" and len(harness.fake.posts) == 1
        assert harness.fake.count("GET", r"/api/v10/webhooks/.*/messages/\d+") == 0

    def test_a_deleted_webhook_needs_reconnecting(self, harness):
        harness.fake.revoke_access_tokens()
        pub = harness.run(harness.schedule("Discord: into the void"))
        assert pub.status == "failed" and "Unknown Webhook" in pub.error_message
        assert harness.fresh_account().health == "needs_reconnect"

    def test_reactions_are_the_metrics(self, harness):
        pub = harness.run(harness.schedule("Discord: react to this"))
        harness.fake.react(pub.remote_id, "👍", 4)
        harness.fake.react(pub.remote_id, "🎉", 2)
        row = metrics.collect(harness.rt.config, harness.rt.pm, pub)
        assert (row.views, row.likes, row.comments, row.shares) == (None, 6, None, None)


class TestDiscordValidation(DiscordSetup, PublisherHarness):
    def test_two_thousand_characters_and_ten_attachments(self, harness):
        assert harness.schedule("a" * 2000).status == "scheduled"
        with pytest.raises(ValidationError) as info:
            harness.schedule("a" * 2001)
        assert "text is 2001 characters; Discord allows 2000" in str(info.value.errors)
        with pytest.raises(ValidationError) as info:
            harness.schedule("eleven", media_kinds=("image",) * 11)
        assert "11 media files; Discord allows 10" in str(info.value.errors)
        assert harness.fake.posts == []
        with pytest.raises(ValidationError) as info:
            harness.schedule("", title="A title is not sent")
        assert "Discord needs text or an attachment" in str(info.value.errors)

    def test_the_upload_limit_follows_the_servers_boost(self):
        publisher = DiscordPublisher(None)  # limits come from the settings alone
        clip = MediaItem(id=1, filename="clip.mp4", mime="video/mp4", size=20 * MIB, path=None, url=None)
        assert publisher.validate("", "clip", [clip], {"upload_limit_mb": 10}) == [
            f"clip.mp4: {20 * MIB} bytes; Discord allows {10 * MIB}"]
        assert publisher.validate("", "clip", [clip], {"upload_limit_mb": 50}) == []


# --- through the API: the answer a client sees ----------------------------------------

@pytest.fixture
def dc():
    with DiscordFake() as fake:
        yield fake


@pytest.fixture
def config(tmp_path, database_url, dc):
    return make_config(tmp_path, database_url, platforms={"discord": {"api_url": dc.url}})


@pytest.fixture
def pm():
    return make_plugin_manager(only="localstorage,discord")


def test_scheduling_answers_422_for_too_long_or_too_many(api, dc):
    r = api.post("/accounts", json={"platform": "discord", "settings": {"webhook_url": dc.webhook_url}})
    assert r.status_code == 201, r.json
    acc = r.json["id"]
    assert r.json["settings"] == {"upload_limit_mb": 10, "mention_everyone": False}  # the URL is secret
    images = [upload(api, png_bytes(i)).json["id"] for i in range(11)]
    at = (datetime.now(timezone.utc) + timedelta(minutes=5)).isoformat()
    for fields, problem in (({"body": "d" * 2000, "media": images[:10]}, None),
                            ({"body": "d" * 2001}, "text is 2001 characters; Discord allows 2000"),
                            ({"body": "d", "media": images}, "11 media files; Discord allows 10")):
        post = api.post("/posts", json=fields).json["id"]
        answer = api.post(f"/posts/{post}/schedule", json={"account_ids": [acc], "scheduled_at": at})
        if problem is None:
            assert answer.status_code == 201, answer.json
        else:
            assert assert_error(answer, 422)["errors"]["accounts"][str(acc)] == [problem]
