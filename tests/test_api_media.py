"""/api/v1/media: upload, list, read, tag, delete, and serve with Range."""
from __future__ import annotations

import hashlib
import io
from datetime import datetime, timedelta, timezone

import pytest

from schedulerx.models import MediaAsset

from .api_support import assert_error, counts, mp4_bytes, png_bytes, upload
from .conftest import make_config

MB = 1024 * 1024


@pytest.fixture
def config(tmp_path, database_url):
    # A 1 MB limit keeps the oversize tests small; Flask's own cap is 1 MB above it.
    return make_config(tmp_path, database_url, max_upload_mb=1)


def media_files(rt) -> list:
    root = rt.config.data_dir / "media"
    return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []


def test_upload_png_sniffs_type_and_stores(api, rt):
    data = png_bytes()
    r = upload(api, data, "holiday.png", tags="summer, beach ,summer,")
    assert r.status_code == 201, r.json
    m = r.json
    assert m["mime"] == "image/png" and m["type"] == "image"
    assert m["filename"] == "holiday.png"
    assert m["size"] == len(data)
    assert m["sha256"] == hashlib.sha256(data).hexdigest()
    assert m["tags"] == ["summer", "beach"]
    assert m["status"] == "ready"
    assert m["created_at"].endswith("+00:00")
    assert m["content_url"] == f"/api/v1/media/{m['id']}/content"
    assert len(media_files(rt)) == 1
    assert api.get(f"/media/{m['id']}").json == m


def test_type_comes_from_the_bytes_not_the_name(api):
    r = upload(api, mp4_bytes(), "looks-like-an-image.png")
    assert r.status_code == 201
    assert r.json["mime"] == "video/mp4" and r.json["type"] == "video"


@pytest.mark.parametrize("data,name", [
    (b"just some text, not media at all", "notes.png"),
    (b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<<>>\nendobj\n", "doc.pdf"),
    (b"", "empty.png"),
])
def test_non_media_upload_is_422_and_writes_nothing(api, rt, data, name):
    before = counts(MediaAsset)
    body = assert_error(upload(api, data, name), 422, "validation_error")
    assert "file" in body["errors"]
    assert counts(MediaAsset) == before
    assert media_files(rt) == []


def test_upload_over_the_configured_limit_is_413(api, rt):
    body = assert_error(upload(api, png_bytes(padding=MB)), 413, "too_large")
    assert "1 MB" in body["error_message"]
    assert counts(MediaAsset) == (0,)
    assert media_files(rt) == []
    assert not any((rt.config.data_dir / "tmp").iterdir())


def test_request_over_flasks_max_content_length_is_413_json(api, rt):
    # Past MAX_CONTENT_LENGTH Flask refuses before the core sees a byte: still the API body.
    body = assert_error(upload(api, png_bytes(padding=2 * MB + 1)), 413, "too_large")
    assert body["error_class"] == "RequestEntityTooLarge"
    assert counts(MediaAsset) == (0,)


@pytest.mark.parametrize("kwargs", [
    {"data": {}, "content_type": "multipart/form-data"},
    {"data": {"file": "not a file"}, "content_type": "multipart/form-data"},
    {"json": {"file": "aGVsbG8="}},
])
def test_upload_without_a_file_part_is_422(api, kwargs):
    body = assert_error(api.post("/media", **kwargs), 422)
    assert "file" in body["errors"]
    assert counts(MediaAsset) == (0,)


def test_upload_with_an_overlong_tag_is_422_and_writes_nothing(api, rt):
    assert_error(upload(api, png_bytes(), tags="x" * 65), 422)
    assert counts(MediaAsset) == (0,)
    assert media_files(rt) == []


def test_list_paginates_in_the_database(api):
    ids = [upload(api, png_bytes(padding=i), f"p{i}.png").json["id"] for i in range(5)]
    r = api.get("/media?page_size=2")
    assert r.status_code == 200
    assert r.json["total"] == 5 and r.json["pages"] == 3 and r.json["page_size"] == 2
    assert r.headers["X-Total-Count"] == "5"
    assert [m["id"] for m in r.json["items"]] == ids[::-1][:2]  # newest first
    last = api.get("/media?page=3&page_size=2").json
    assert [m["id"] for m in last["items"]] == [ids[0]]
    assert api.get("/media?page=9&page_size=2").json["items"] == []


@pytest.mark.parametrize("query", ["page=0", "page_size=0", "page_size=201", "page=x",
                                   "type=document", "since=yesterday", "until=2024-13-01"])
def test_list_rejects_bad_query_args(api, query):
    assert_error(api.get(f"/media?{query}"), 422)


def test_list_filters_by_type_tag_and_filename(api):
    upload(api, png_bytes(), "cat.png", tags="pets,cute")
    upload(api, png_bytes(padding=1), "dog.png", tags="pets")
    upload(api, mp4_bytes(), "cat-video.mp4", tags="cute")

    def names(query):
        return sorted(m["filename"] for m in api.get(f"/media?{query}").json["items"])

    assert names("type=image") == ["cat.png", "dog.png"]
    assert names("type=video") == ["cat-video.mp4"]
    assert names("type=audio") == []
    assert names("tag=pets") == ["cat.png", "dog.png"]
    assert names("tag=cute&type=video") == ["cat-video.mp4"]
    assert names("q=cat") == ["cat-video.mp4", "cat.png"]
    assert names("tag=pet") == []  # whole tags only


def test_tag_filter_matches_non_ascii_and_like_wildcards_literally(api):
    upload(api, png_bytes(), "a.png", tags="café,100%_real")
    upload(api, png_bytes(padding=1), "b.png", tags="cafe,100xxreal")

    def names(tag):
        return [m["filename"] for m in api.get("/media", query_string={"tag": tag}).json["items"]]

    assert names("café") == ["a.png"]
    assert names("100%_real") == ["a.png"]
    assert names("100%") == []


def test_since_and_until_read_naive_times_in_the_workspace_zone(api):
    upload(api, png_bytes())
    now_utc = datetime.now(timezone.utc).replace(tzinfo=None, microsecond=0)
    # The workspace is in Europe/Berlin (UTC+1/+2): a naive "UTC now + 30 min"
    # read there is 30-90 minutes in the past, so the upload is after it.
    naive = (now_utc + timedelta(minutes=30)).isoformat()
    assert api.get(f"/media?since={naive}").json["total"] == 1
    assert api.get(f"/media?until={naive}").json["total"] == 0
    # The same wall time with an explicit UTC offset is in the future.
    explicit = naive + "%2B00:00"
    assert api.get(f"/media?since={explicit}").json["total"] == 0
    assert api.get(f"/media?until={explicit}").json["total"] == 1


def test_patch_changes_tags_meta_and_filename(api):
    mid = upload(api, png_bytes()).json["id"]
    r = api.patch(f"/media/{mid}", json={"tags": ["a", " b ", "a"], "meta": {"alt": "a cat"},
                                          "filename": "renamed.png"})
    assert r.status_code == 200, r.json
    assert r.json["tags"] == ["a", "b"]
    assert r.json["meta"] == {"alt": "a cat"}
    assert r.json["filename"] == "renamed.png"
    assert api.get(f"/media/{mid}").json["filename"] == "renamed.png"


@pytest.mark.parametrize("payload", [
    {"tags": "a,b"}, {"tags": [1, 2]}, {"meta": ["x"]}, {"filename": ""}, {"filename": "   "},
    {"size": 1}, {"tags": ["x" * 65]},
])
def test_patch_rejects_bad_fields_and_changes_nothing(api, payload):
    mid = upload(api, png_bytes(), tags="keep").json["id"]
    assert_error(api.patch(f"/media/{mid}", json=payload), 422)
    after = api.get(f"/media/{mid}").json
    assert after["tags"] == ["keep"] and after["filename"] == "pic.png" and after["meta"] == {}


def test_malformed_json_is_400(api):
    mid = upload(api, png_bytes()).json["id"]
    body = assert_error(api.patch(f"/media/{mid}", data="{not json",
                                  content_type="application/json"), 400)
    assert body["error_code"] == "bad_request"


def test_delete_removes_row_and_file(api, rt):
    mid = upload(api, png_bytes()).json["id"]
    r = api.delete(f"/media/{mid}")
    assert r.status_code == 204 and r.data == b""
    assert_error(api.get(f"/media/{mid}"), 404, "not_found")
    assert media_files(rt) == []


def test_delete_of_media_used_by_a_post_is_409(api, rt):
    mid = upload(api, png_bytes()).json["id"]
    post = api.post("/posts", json={"title": "with picture", "media": [mid]})
    assert post.status_code == 201, post.json
    assert_error(api.delete(f"/media/{mid}"), 409, "conflict")
    assert api.get(f"/media/{mid}").status_code == 200
    assert len(media_files(rt)) == 1


def test_content_streams_with_range_support(api):
    data = png_bytes(padding=1000)
    mid = upload(api, data, "big.png").json["id"]
    full = api.get(f"/media/{mid}/content")
    assert full.status_code == 200
    assert full.data == data
    assert full.headers["Content-Type"] == "image/png"
    assert full.headers["Accept-Ranges"] == "bytes"
    assert "big.png" in full.headers["Content-Disposition"]
    part = api.get(f"/media/{mid}/content", headers={"Range": "bytes=8-15"})
    assert part.status_code == 206
    assert part.data == data[8:16]
    assert part.headers["Content-Range"] == f"bytes 8-15/{len(data)}"
    tail = api.get(f"/media/{mid}/content", headers={"Range": "bytes=-4"})
    assert tail.status_code == 206 and tail.data == data[-4:]
    bad = api.get(f"/media/{mid}/content", headers={"Range": f"bytes={len(data) + 10}-"})
    assert bad.status_code == 416
    etag = full.headers["ETag"]
    assert api.get(f"/media/{mid}/content", headers={"If-None-Match": etag}).status_code == 304


@pytest.mark.parametrize("method,path,kw", [
    ("get", "/media/{id}", {}),
    ("get", "/media/{id}/content", {}),
    ("patch", "/media/{id}", {"json": {"tags": ["stolen"]}}),
    ("delete", "/media/{id}", {}),
])
def test_another_workspaces_media_is_404(api, other_api, method, path, kw):
    mid = upload(api, png_bytes()).json["id"]
    assert_error(getattr(other_api, method)(path.format(id=mid), **kw), 404, "not_found")
    assert api.get(f"/media/{mid}").json["tags"] == []
    assert other_api.get("/media").json["total"] == 0


@pytest.mark.parametrize("path", ["/media/999", "/media/999/content"])
def test_unknown_media_is_404(api, path):
    assert_error(api.get(path), 404, "not_found")


def test_without_a_token_is_401(client):
    assert_error(client.get("/api/v1/media"), 401, "unauthorized")


def test_content_streams_from_a_backend_without_local_files(api, rt, owner):
    from schedulerx import hookimpl, media
    from schedulerx_plugins.localstorage import LocalStorage

    class StreamOnly(LocalStorage):
        name = "streamonly"

        def local_path(self, key):
            return None  # like an object store: bytes only through open()

    class Plugin:
        @hookimpl
        def register_storage_backends(self):
            return [StreamOnly]

    rt.pm.register(Plugin(), name="streamonly")
    data = mp4_bytes() * 100
    asset = media.ingest(rt.config, rt.pm, owner[1].id, io.BytesIO(data), "clip.mp4",
                         storage="streamonly")
    r = api.get(f"/media/{asset.id}/content")
    assert r.status_code == 200
    assert r.data == data
    assert r.headers["Content-Type"] == "video/mp4"
    assert r.headers["Content-Length"] == str(len(data))
