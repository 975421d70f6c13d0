"""X against its fake (API v2 and its OAuth 2.0 server): the publisher contract, plus X's own rules."""
from __future__ import annotations

import pytest

from schedulerx.testing.publisher_contract import PublisherContract
from schedulerx_plugins.x.publisher import XPublisher

from .fakes_platforms.x import XFake


class XSetup:
    publisher = XPublisher
    media_kinds = ("image", "video")

    @pytest.fixture
    def fake(self):
        with XFake() as fake:
            yield fake

    def platform_config(self, fake):
        return {"client_id": fake.client_id, "client_secret": fake.client_secret,
                "authorize_url": f"{fake.url}/i/oauth2/authorize",
                "token_url": f"{fake.url}/2/oauth2/token", "api_url": fake.url,
                "chunk_size": "32"}


class TestXContract(XSetup, PublisherContract):
    pass
