"""Helpers for the API tests: real media headers, a tiny publisher plugin, row counts.

The publisher is registered by the ``testpub`` fixture, so these tests do not
depend on the first-party publishers.
"""
from __future__ import annotations

import io
import struct
import zlib

import marshmallow as ma
import pytest

from schedulerx import hookimpl
from schedulerx.publishers import PlatformDescriptor, PlatformLimits, Publisher, PublishResult

TEXT_MAX = 40


def png_bytes(padding: int = 0) -> bytes:
    """A valid 1x1 PNG (plus ``padding`` trailing bytes, which viewers ignore)."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    return (b"\x89PNG\r\n\x1a\n"
            + chunk(b"IHDR", struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(b"\x00\xff\x00\x00"))
            + chunk(b"IEND", b"") + b"\x00" * padding)


def mp4_bytes() -> bytes:
    """An MP4 ``ftyp`` box and an empty ``mdat``: what sniffers look at."""
    return (struct.pack(">I", 24) + b"ftypisom" + b"\x00\x00\x02\x00" + b"isommp41"
            + struct.pack(">I", 8) + b"mdat")


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
