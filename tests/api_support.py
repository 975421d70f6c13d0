"""Helpers for the API tests: real media headers, a tiny publisher plugin, row counts.

The publisher is registered by the ``testpub`` fixture, so these tests do not
depend on the first-party publishers.
"""
from __future__ import annotations

import io

import marshmallow as ma
import pytest

from schedulerx import hookimpl
from schedulerx.publishers import PlatformDescriptor, PlatformLimits, Publisher, PublishResult
from schedulerx.testing.samples import mp4_bytes, png_bytes  # noqa: F401 (re-exported for the tests)

TEXT_MAX = 40


def upload(api, data: bytes, filename: str = "pic.png", **form):
    return api.post("/media", data={"file": (io.BytesIO(data), filename), **form},
                    content_type="multipart/form-data")


class TestPubSettings(ma.Schema):
    feed_name = ma.fields.String(required=True, metadata={"description": "where posts go"})
    api_key = ma.fields.String(metadata={"description": "the platform's API key"})


class TestPublisher(Publisher):
    __test__ = False  # not a pytest test class
    descriptor = PlatformDescriptor(
        name="testpub", label="Test Pub",
        limits=PlatformLimits(text_max=TEXT_MAX, media_types=("image/", "video/")),
        best_times=({"weekday": 0, "time": "09:00"},))
    settings_schema = TestPubSettings
    secret_fields = ("api_key",)
    idempotent = True

    def publish(self, ctx):
        return PublishResult(remote_id=f"remote-{ctx.publication_id}")


class _TestPubPlugin:
    @hookimpl
    def register_publishers(self):
        return [TestPublisher]


class TickRecorder:
    """Answers ``dispatch_tick`` first (pluggy calls the latest registered first)."""

    def __init__(self):
        self.calls = 0

    @hookimpl
    def dispatch_tick(self):
        self.calls += 1
        return True


@pytest.fixture
def testpub(rt):
    rt.pm.register(_TestPubPlugin(), name="testpub")
    yield TestPublisher
    rt.pm.unregister(name="testpub")


@pytest.fixture
def account(api, testpub):
    """An account on the test platform, as the API answers it."""
    r = api.post("/accounts", json={"platform": "testpub", "display_name": "Feed A",
                                    "settings": {"feed_name": "a", "api_key": "s3cret"}})
    assert r.status_code == 201, r.json
    return r.json


def counts(*models) -> tuple[int, ...]:
    return tuple(m.select().count() for m in models)


def assert_error(r, status: int, code: str | None = None):
    """The response is the API error body with ``status`` (and ``code``)."""
    assert r.status_code == status, (r.status_code, r.get_data(as_text=True))
    assert r.is_json, r.get_data(as_text=True)
    body = r.json
    assert set(body) == {"error_code", "error_message", "error_class", "errors"}, body
    if code:
        assert body["error_code"] == code, body
    return body
