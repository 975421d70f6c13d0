"""Mastodon against its fake: the publisher contract, plus what is Mastodon's own."""
from __future__ import annotations

import pytest

from schedulerx import accounts
from schedulerx.errors import ValidationError
from schedulerx.testing.publisher_contract import PublisherContract
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
