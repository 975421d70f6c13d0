"""Facebook Pages against their fake (Graph API and Facebook Login): the contract, plus Facebook's own rules."""
from __future__ import annotations

import threading
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from schedulerx import metrics, oauth, states
from schedulerx.crypto import decrypt_json
from schedulerx.db import database
from schedulerx.errors import ValidationError
from schedulerx.models import Account
from schedulerx.testing.publisher_contract import PublisherContract, PublisherHarness
from schedulerx_plugins.facebook.publisher import FacebookPublisher

from .fakes_platforms.facebook import OTHER_PAGE, PAGE, FacebookFake


def reconnect(harness, account_id: int | None = None):
    """Run Facebook Login again (for ``account_id``, or as a new account); the account or the error."""
    rt, ws, user = harness.rt, harness.workspace, harness.user
    url, _ = oauth.begin(rt.config, rt.pm, workspace_id=ws.id, user_id=user.id, platform="facebook",
                         account_id=account_id)
    back = parse_qs(urlsplit(httpx.get(url).headers["Location"]).query)
    return oauth.complete(rt.config, rt.pm, workspace_id=ws.id, user_id=user.id, platform="facebook",
                          state=back["state"][0], code=back["code"][0])


class FacebookSetup:
    publisher = FacebookPublisher
    media_kinds = ("image", "video")

    @pytest.fixture
    def fake(self):
        with FacebookFake(pages=(PAGE, OTHER_PAGE)) as fake:
            yield fake

    def platform_config(self, fake):
        return {"client_id": fake.client_id, "client_secret": fake.client_secret,
                "authorize_url": f"{fake.url}/dialog/oauth",
                "token_url": f"{fake.url}/oauth/access_token",
                "api_url": fake.url, "video_url": f"{fake.url}/video"}


class TestFacebookContract(FacebookSetup, PublisherContract):
    """The kit's refresh checks assume tokens that expire. A Page token got from a
    long-lived user token does not: those four checks are replaced by what holds
    for Facebook instead (nothing to refresh; a rejected token needs the user)."""

    def test_connects_and_keeps_secrets_encrypted(self, harness):
        acc = harness.fresh_account()
        assert acc.health == "connected" and acc.display_name == PAGE["name"]
        secrets = decrypt_json(harness.rt.config.secret_key, acc.credentials)
        assert secrets["access_token"] in harness.fake.page_tokens  # a Page token, not the user's
        assert secrets["access_token"] not in acc.credentials
        assert acc.platform_info == {"page_id": PAGE["id"], "page_name": PAGE["name"]}
        assert acc.token_expires_at is None and harness.fake.exchanges == 1

    def test_expired_token_is_refreshed_before_publishing(self, harness):
        # Sixty days on, every user token has run out: the Page token still posts.
        harness.fake.expire_user_tokens()
        requests = len(harness.fake.requests)
        pub = harness.run(harness.schedule("Facebook: two months later"))
        assert pub.status == states.PUBLISHED, pub.error_message
        assert harness.fake.refresh_count == 0 and harness.fake.exchanges == 1
        assert harness.fake.requests[requests:] == [("POST", f"/{PAGE['id']}/feed")]

    def test_token_rejected_mid_publish_is_refreshed_once(self, harness):
        # Meta rejects the Page token (code 190): only the user can mend that.
        harness.fake.revoke_page_tokens()
        pub = harness.run(harness.schedule("Facebook: token revoked"))
        assert pub.status == states.FAILED and "Error validating access token" in pub.error_message
        acc = harness.fresh_account()
        assert acc.health == "needs_reconnect"
        assert harness.fake.posts == [] and harness.fake.exchanges == 1

    def test_two_workers_refresh_with_one_single_use_token(self, harness):
        before, results = len(harness.fake.requests), []

        def fresh():
            try:
                results.append(oauth.ensure_fresh(harness.rt.config, harness.rt.pm, harness.account.id))
            finally:
                database.close()
        threads = [threading.Thread(target=fresh) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert len(results) == 2 and results[0] == results[1]
        assert len(harness.fake.requests) == before  # nothing expires, nothing is asked


class TestFacebookOwnRules(FacebookSetup, PublisherHarness):

    def test_the_code_token_is_traded_before_the_pages_are_listed(self, harness):
        assert harness.fake.count("GET", r"/oauth/access_token") == 1
        # The fake lists Pages only for a long-lived user token: the trade really came first.
        assert harness.fake.count("GET", r"/me/accounts") == 1 and harness.fake.exchanges == 1

    def test_page_id_chooses_the_page_on_reconnect(self, harness):
        Account.update(settings={"page_id": OTHER_PAGE["id"]}).where(
            Account.id == harness.account.id).execute()
        acc = reconnect(harness, harness.account.id)
        assert acc.id == harness.account.id
        assert acc.platform_info["page_id"] == OTHER_PAGE["id"] and acc.display_name == PAGE["name"]
        pub = harness.run(harness.schedule("Facebook: on the other page"))
        assert pub.status == states.PUBLISHED and pub.remote_id.startswith(OTHER_PAGE["id"] + "_")

    def test_a_page_not_granted_is_refused_naming_the_granted_ones(self, harness):
        Account.update(settings={"page_id": "999"}).where(Account.id == harness.account.id).execute()
        with pytest.raises(ValidationError) as info:
            reconnect(harness, harness.account.id)
        assert "Page 999 was not granted" in info.value.message
        assert f"{PAGE['name']} ({PAGE['id']})" in info.value.message

    def test_no_page_to_post_to_is_refused(self, harness):
        for page in harness.fake.pages:
            page["tasks"] = ["ANALYZE"]
        with pytest.raises(ValidationError) as info:
            reconnect(harness)
        assert "no Facebook Page you can post to" in info.value.message

    def test_several_photos_become_one_post(self, harness):
        pub = harness.run(harness.schedule("Facebook: album", media_kinds=("image", "image", "image")))
        assert pub.status == states.PUBLISHED, pub.error_message
        [post] = harness.fake.posts
        assert post["kind"] == "status" and len(post["media"]) == 3
        assert harness.fake.count("POST", r"/\d+/photos") == 3

    def test_a_video_goes_to_the_video_host_with_its_title(self, harness):
        pub = harness.run(harness.schedule("Facebook: clip", media_kinds=("video",), title="Our clip"))
        assert pub.status == states.PUBLISHED, pub.error_message
        [post] = harness.fake.posts
        assert post["kind"] == "video" and post["title"] == "Our clip"
        assert pub.remote_url == f"https://www.facebook.com/{PAGE['id']}/videos/{pub.remote_id}/"
        assert harness.fake.count("POST", r"/video/\d+/videos") == 1

    def test_eleven_photos_are_refused_when_scheduling(self, harness):
        with pytest.raises(ValidationError) as info:
            harness.schedule("Facebook: too many", media_kinds=("image",) * 11)
        assert "11 images" in str(info.value.errors)

    def test_metrics_of_a_post_and_of_a_video(self, harness):
        post = harness.run(harness.schedule("Facebook: counted"))
        row = metrics.collect(harness.rt.config, harness.rt.pm, post)
        assert (row.views, row.likes, row.comments, row.shares) == (None, 7, 3, 2)
        video = harness.run(harness.schedule("Facebook: counted clip", media_kinds=("video",)))
        row = metrics.collect(harness.rt.config, harness.rt.pm, video)
        assert (row.views, row.likes, row.comments, row.shares) == (None, 5, 3, None)
