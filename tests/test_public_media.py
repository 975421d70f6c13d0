"""Signed, expiring public media links (``/m/<token>``): what platforms that pull media fetch."""
from __future__ import annotations

import time
from urllib.parse import urlsplit

import pytest

from schedulerx import media_links, posts, publications
from schedulerx.models import MediaAsset
from schedulerx.publish_context import build_context, media_items
from schedulerx.testing.samples import mp4_bytes, png_bytes
from schedulerx.timeutil import from_storage, utcnow

from .api_support import account, testpub, upload  # noqa: F401 (fixtures)
from .conftest import make_config

BASE = "https://sx.example.org"


@pytest.fixture
def config(tmp_path, database_url):
    return make_config(tmp_path, database_url, base_url=BASE)


@pytest.fixture
def video(api):
    r = upload(api, mp4_bytes(5000), "clip.mp4")
    assert r.status_code == 201, r.json
    return MediaAsset.get_by_id(r.json["id"])


def link_path(url: str) -> str:
    assert url.startswith(f"{BASE}/m/"), url
    return urlsplit(url).path


def refused(r) -> bool:
    """Every refusal looks the same: a bare 404 that names nothing."""
    return (r.status_code == 404 and r.get_data() == b"not found\n"
            and "Content-Disposition" not in r.headers)


def test_a_publication_gets_a_signed_link_under_base_url(rt, api, account, video):  # noqa: F811
    post = posts.create(video.workspace_id, body="with a clip", media=[video.id])
    [pub] = publications.schedule(rt.config, rt.pm, video.workspace_id, post, [account["id"]],
                                  from_storage(utcnow()), "UTC")
    [item] = build_context(rt.config, rt.pm, pub).media
    assert item.url == f"{BASE}/api/v1/media/{video.id}/content"  # the API's: needs auth
    assert media_links.verify(rt.config.secret_key, link_path(item.public_url)[3:], video.storage_key)


def test_the_link_serves_the_bytes_without_login_and_with_range(rt, client, video):
    [item] = media_items(rt.config, rt.pm, [video.id], video.workspace_id)
    path = link_path(item.public_url)
    whole = client.get(path)  # no token, no session
    assert whole.status_code == 200 and whole.get_data() == mp4_bytes(5000)
    assert whole.mimetype == "video/mp4"
    assert whole.headers["X-Robots-Tag"] == "noindex"
    part = client.get(path, headers={"Range": "bytes=4-11"})
    assert part.status_code == 206 and part.get_data() == b"ftypisom"
    assert part.headers["Content-Range"] == f"bytes 4-11/{video.size}"
    assert client.head(path).status_code == 200
    # The API's own content URL still needs credentials.
    assert client.get(f"/api/v1/media/{video.id}/content").status_code == 401


def test_expired_tampered_and_malformed_links_are_the_same_404(rt, client, video, api):
    key = rt.config.secret_key
    good = media_links.sign(key, video.id, video.storage_key)
    media_id, expires, sig = good.split(".")
    other = upload(api, png_bytes(), "other.png").json["id"]
    bad = {
        "expired": media_links.sign(key, video.id, video.storage_key, ttl=-1),
        "expiry pushed back": f"{media_id}.{int(expires) + 3600}.{sig}",
        "another file's id": f"{other}.{expires}.{sig}",
        "signature changed": f"{media_id}.{expires}.{sig[:-2]}AA",
        "signed with another key": media_links.sign("not the app's secret", video.id, video.storage_key),
        "unknown id": media_links.sign(key, 987654, video.storage_key),
        "malformed": "not-a-token",
        "no signature": f"{media_id}.{expires}",
        "huge id": f"{'9' * 40}.{expires}.{sig}",
    }
    assert client.get(f"/m/{good}").status_code == 200
    for why, token in bad.items():
        assert refused(client.get(f"/m/{token}")), why


def test_a_link_dies_with_its_file(rt, client, api, video):
    token = media_links.sign(rt.config.secret_key, video.id, video.storage_key)
    assert api.delete(f"/media/{video.id}").status_code == 204
    assert refused(client.get(f"/m/{token}"))
    # Even if a new file took the same id, the old link was signed for the old file's storage key.
    assert not media_links.verify(rt.config.secret_key, token, "ws1/some-other-file.mp4")


def test_a_file_not_ready_is_not_served(rt, client, video):
    MediaAsset.update(status="ingesting").where(MediaAsset.id == video.id).execute()
    assert refused(client.get(f"/m/{media_links.sign(rt.config.secret_key, video.id, video.storage_key)}"))


def test_expiry_is_checked_against_the_clock():
    key, now = "k" * 40, time.time()
    token = media_links.sign(key, 7, "ws1/a.png", ttl=60, now=now)
    assert media_links.verify(key, token, "ws1/a.png", now=now + 59)
    assert not media_links.verify(key, token, "ws1/a.png", now=now + 61)


def test_the_route_is_public_but_outside_the_api(app):
    view = app.view_functions["public_media.media_link"]
    assert view.schedulerx_public
    [rule] = [r for r in app.url_map.iter_rules() if r.endpoint == "public_media.media_link"]
    assert rule.rule == "/m/<token>" and not rule.rule.startswith("/api/")
