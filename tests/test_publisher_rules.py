"""The base publisher's validation rules and the HTTP answer mapping, without a platform."""
from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone

import httpx
import pytest

from schedulerx.publisher_http import raise_for_answer, reset_at_seconds, wait_of
from schedulerx.publishers import (AuthError, MediaItem, PermanentError, PlatformDescriptor,
                                   PlatformLimits, Publisher, RateLimited, TemporaryError,
                                   grapheme_count, hashtags)


class Graphemes(Publisher):
    descriptor = PlatformDescriptor("g", "Graphemes", PlatformLimits(
        text_max=5, count_graphemes=True, text_max_bytes=130, hashtags_max=2,
        image_max_count=2, video_max_count=1, mixed_media=False, media_types=("image/", "video/"),
        image_max_bytes=100, video_max_seconds=60))


def item(kind="image", size=10, duration=None, mime=None):
    return MediaItem(id=1, filename=f"f.{kind}", mime=mime or f"{kind}/x", size=size, path=None,
                     url=None, duration=duration)


def test_graphemes_count_what_people_see():
    family = "👩\u200d👩\u200d👧\u200d👦"  # one emoji of seven code points
    assert grapheme_count(family) == 1 and len(family) == 7
    assert grapheme_count("e\u0301") == 1
    assert Graphemes(None).validate("", family * 5, [], {}) == []
    assert Graphemes(None).validate("", family * 6, [], {}) == [
        "text is 6 characters; Graphemes allows 5", "text is 150 bytes; Graphemes allows 130"]


def test_hashtags_in_text_and_tags_count_once_each():
    assert hashtags("Launch #News #news and a#notone", ["news", "#Extra"]) == {"news", "extra"}
    assert Graphemes(None).validate("", "#a #b", [], {}, tags=["c"]) == ["3 hashtags; Graphemes allows 2"]


def test_media_rules():
    p = Graphemes(None)
    assert p.validate("", "", [item(), item(), item()], {}) == ["3 images; Graphemes allows 2"]
    assert p.validate("", "", [item(), item("video")], {}) == [
        "Graphemes takes images or a video in one post, not both"]
    assert p.validate("", "", [item(size=101)], {}) == ["f.image: 101 bytes; Graphemes allows 100"]
    assert p.validate("", "", [item("video", duration=61.5)], {}) == ["f.video: 61.5 s; Graphemes allows 60 s"]
    assert p.validate("", "", [item("video")], {}) == []  # duration not probed: not held against it
    assert p.validate("", "", [item("audio")], {}) == ["f.audio: audio/x is not accepted by Graphemes"]


def _answer(status, headers=None, json=None):
    return httpx.Response(status, headers=headers or {}, json=json if json is not None else {})


def test_answers_map_to_outcomes():
    with pytest.raises(RateLimited) as info:
        raise_for_answer(_answer(429, {"Retry-After": "42"}), "P")
    assert info.value.retry_after == 42
    with pytest.raises(TemporaryError):
        raise_for_answer(_answer(502), "P")
    with pytest.raises(AuthError):
        raise_for_answer(_answer(401, json={"error": "bad token"}), "P")
    with pytest.raises(PermanentError) as info:
        raise_for_answer(_answer(403, json={"detail": "duplicate content"}), "P")
    assert str(info.value) == "P answered 403: duplicate content" and not isinstance(info.value, AuthError)
    raise_for_answer(_answer(201), "P")  # no error


def test_rate_limit_resets_as_unix_time_or_iso():
    in_a_minute = time.time() + 60
    assert 58 <= wait_of(_answer(429, {"x-rate-limit-reset": str(int(in_a_minute))})) <= 60
    iso = (datetime.now(timezone.utc) + timedelta(seconds=60)).isoformat().replace("+00:00", "Z")
    assert 58 <= reset_at_seconds(iso) <= 60
    assert reset_at_seconds("garbage") is None and wait_of(_answer(429)) is None
