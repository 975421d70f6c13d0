"""Telegram against its fake Bot API: the publisher contract, plus Telegram's own rules."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from schedulerx import accounts
from schedulerx.errors import ValidationError
from schedulerx.plugins import make_plugin_manager
from schedulerx.testing.publisher_contract import PublisherContract, PublisherHarness
from schedulerx_plugins.telegram.publisher import TelegramPublisher, message_url

from .api_support import assert_error, png_bytes, upload
from .conftest import make_config
from .fakes_platforms.telegram import BOT, CHANNEL, GROUP, TelegramFake


class TelegramSetup:
    publisher = TelegramPublisher
    media_kinds = ("image", "video")

    @pytest.fixture
    def fake(self):
        with TelegramFake() as fake:
            yield fake

    def account_settings(self, fake):
        return {"bot_token": fake.token, "chat_id": "@studionews"}

    def platform_config(self, fake):
        return {"api_url": fake.url}


class TestTelegramContract(TelegramSetup, PublisherContract):
    pass


class TestTelegramConnect(TelegramSetup, PublisherHarness):
    def test_connect_checks_the_bot_the_chat_and_the_right_to_post(self, harness):
        acc = harness.fresh_account()
        assert acc.display_name == "Studio News"
        assert acc.platform_info == {"chat_id": CHANNEL["id"], "chat_type": "channel",
                                     "chat_username": "studionews", "bot_id": BOT["id"],
                                     "bot_username": "studio_bot"}
        assert [p for _, p in harness.fake.requests] == [
            f"/bot{harness.fake.token}/getMe", f"/bot{harness.fake.token}/getChat",
            f"/bot{harness.fake.token}/getChatMember"]

    def connect_with(self, harness, **settings):
        return accounts.create(harness.rt.config, harness.rt.pm, harness.workspace.id, platform="telegram",
                               settings={**self.account_settings(harness.fake), **settings})

    def test_refusals_when_connecting_are_422_with_telegrams_words(self, harness):
        with pytest.raises(ValidationError) as info:
            self.connect_with(harness, bot_token="7000000001:AAHk3v9Qx2LmN8pR4sT6uW0yZ1bC3dE5fXX")
        assert "Unauthorized" in info.value.message
        with pytest.raises(ValidationError) as info:
            self.connect_with(harness, chat_id="@nosuchchannel")
        assert "chat not found" in info.value.message
        harness.fake.members[CHANNEL["id"]] = {"status": "member"}  # not an administrator
        with pytest.raises(ValidationError) as info:
            self.connect_with(harness)
        assert "administrator" in info.value.message
        with pytest.raises(ValidationError) as info:  # the shape is checked before Telegram is asked
            self.connect_with(harness, bot_token="not a token")
        assert "BotFather" in str(info.value.errors)

    def test_a_group_by_numeric_id_without_a_public_link(self, harness):
        acc = self.connect_with(harness, chat_id=str(GROUP["id"]), silent=True, topic_id=7)
        harness.account = acc
        pub = harness.run(harness.schedule("Telegram: to the team"))
        assert pub.status == "published"
        assert pub.remote_url == f"https://t.me/c/{str(GROUP['id'])[4:]}/{pub.remote_id}"
        sent = harness.fake.posts[-1]
        assert (sent["chat_id"], sent["silent"], sent["topic"]) == (GROUP["id"], True, 7)


class TestTelegramPublishing(TelegramSetup, PublisherHarness):
    def test_each_kind_goes_through_its_own_method(self, harness):
        for body, kinds in (("text only", ()), ("a photo", ("image",)), ("a clip", ("video",)),
                            ("an album", ("image", "video", "image"))):
            pub = harness.run(harness.schedule(f"Telegram: {body}", media_kinds=kinds))
            assert pub.status == "published", pub.error_message
        assert harness.fake.methods == ["sendMessage", "sendPhoto", "sendVideo", "sendMediaGroup"]
        album = harness.fake.posts[-1]
        assert album["text"] == "Telegram: an album" and album["media"] == ["photo", "video", "photo"]
        assert pub.remote_url == f"https://t.me/studionews/{pub.remote_id}"

    def test_rate_limit_waits_as_long_as_the_body_says(self, harness):
        harness.fake.rate_limit_wait = 1234
        harness.fake.fail_next("rate_limit")
        pub = harness.run(harness.schedule("Telegram: flood"))
        assert pub.status == "retry_wait" and "retry after 1234" in pub.error_message
        assert (pub.next_attempt_at - pub.updated_at).total_seconds() >= 1233

    def test_an_interrupted_send_is_left_for_the_user_not_retried(self, harness):
        harness.fake.fail_next("drop_after_post")
        pub = harness.run(harness.schedule("Telegram: lost"))
        assert pub.status == "unknown"
        assert any("mark it published" in m for m in harness.events_about("publication", pub.id))
        assert len(harness.fake.posts) == 1 and harness.fake.methods == ["sendMessage"]

    def test_a_bot_removed_from_the_channel_needs_reconnecting(self, harness):
        harness.fake.remove_bot(CHANNEL["id"])
        pub = harness.run(harness.schedule("Telegram: after removal"))
        assert pub.status == "failed" and "bot is not a member" in pub.error_message
        assert harness.fresh_account().health == "needs_reconnect"
        assert harness.fake.posts == []

    def test_a_group_that_became_a_supergroup_says_its_new_id(self, harness):
        acc = accounts.create(harness.rt.config, harness.rt.pm, harness.workspace.id, platform="telegram",
                              settings={**self.account_settings(harness.fake), "chat_id": str(GROUP["id"])})
        harness.fake.migrated[GROUP["id"]] = -1005555555555
        harness.account = acc
        pub = harness.run(harness.schedule("Telegram: migrated"))
        assert pub.status == "failed" and "-1005555555555" in pub.error_message
        assert harness.fresh_account().health == "needs_reconnect"


class TestTelegramValidation(TelegramSetup, PublisherHarness):
    def test_text_and_caption_limits_differ(self, harness):
        assert harness.schedule("a" * 4096).status == "scheduled"
        with pytest.raises(ValidationError) as info:
            harness.schedule("a" * 4097)
        assert "text is 4097 characters; Telegram allows 4096" in str(info.value.errors)
        assert harness.schedule("b" * 1024, media_kinds=("image",)).status == "scheduled"
        with pytest.raises(ValidationError) as info:
            harness.schedule("b" * 1025, media_kinds=("image",))
        assert "caption is 1025 characters; Telegram allows 1024 with media" in str(info.value.errors)
        with pytest.raises(ValidationError) as info:
            harness.schedule("", title="A title is not sent")
        assert "Telegram needs text or media" in str(info.value.errors)

    def test_an_album_holds_ten(self, harness):
        assert harness.schedule("ten", media_kinds=("image",) * 10).status == "scheduled"
        with pytest.raises(ValidationError) as info:
            harness.schedule("eleven", media_kinds=("image",) * 11)
        assert "11 media files; Telegram allows 10" in str(info.value.errors)
        assert harness.fake.methods == []


def test_message_links():
    assert message_url({"id": -1001, "username": "news"}, 5) == "https://t.me/news/5"
    assert message_url({"id": -1001234}, 5) == "https://t.me/c/1234/5"
    assert message_url({"id": 42, "type": "private"}, 5) is None


# --- through the API: the answer a client sees ----------------------------------------

@pytest.fixture
def tg():
    with TelegramFake() as fake:
        yield fake


@pytest.fixture
def config(tmp_path, database_url, tg):
    return make_config(tmp_path, database_url, platforms={"telegram": {"api_url": tg.url}})


@pytest.fixture
def pm():
    return make_plugin_manager(only="localstorage,telegram")


def test_scheduling_answers_422_for_a_caption_that_would_be_fine_as_text(api, tg):
    r = api.post("/accounts", json={"platform": "telegram", "settings": {
        "bot_token": tg.token, "chat_id": "@studionews"}})
    assert r.status_code == 201, r.json
    acc = r.json["id"]
    image = upload(api, png_bytes()).json["id"]
    at = (datetime.now(timezone.utc) + timedelta(minutes=5)).isoformat()
    text = api.post("/posts", json={"body": "c" * 2000}).json["id"]
    assert api.post(f"/posts/{text}/schedule", json={"account_ids": [acc], "scheduled_at": at}).status_code == 201
    captioned = api.post("/posts", json={"body": "c" * 2000, "media": [image]}).json["id"]
    body = assert_error(api.post(f"/posts/{captioned}/schedule", json={"account_ids": [acc], "scheduled_at": at}), 422)
    assert body["errors"]["accounts"][str(acc)] == [
        "caption is 2000 characters; Telegram allows 1024 with media (4096 without)"]
