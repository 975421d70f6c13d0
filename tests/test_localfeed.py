"""The local feed publisher, through the real engine, database, files and web app."""
from __future__ import annotations

import io
import struct
import threading
import uuid
import xml.etree.ElementTree as ET
import zlib
from dataclasses import replace
from datetime import datetime, timedelta, timezone

import pytest

from schedulerx import accounts, engine, media, posts, publications, states
from schedulerx.errors import ValidationError
from schedulerx.models import Publication
from schedulerx.publish_context import build_context
from schedulerx.publishers import PublishResult
from schedulerx.timeutil import utcnow
from schedulerx_plugins.localfeed.feed import FeedFolder
from schedulerx_plugins.localfeed.publisher import LocalFeedPublisher

A = "{http://www.w3.org/2005/Atom}"


def png_bytes() -> bytes:
    """A real 1×1 PNG (the media library sniffs types from the bytes)."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(b"\x00\xff\x00\x00")) + chunk(b"IEND", b""))


@pytest.fixture
def ws(owner):
    return owner[1]


@pytest.fixture
def feed_account(rt, ws):
    return accounts.create(rt.config, rt.pm, ws.id, platform="localfeed", display_name="My feed",
                           settings={"feed_title": "Studio news"})


def schedule_and_publish(rt, ws, account, **post_fields):
    """Create a post, schedule it, claim it as the tick would and publish it."""
    post = posts.create(ws.id, **post_fields)
    [pub] = publications.schedule(rt.config, rt.pm, ws.id, post, [account.id],
                                  datetime.now(timezone.utc) + timedelta(minutes=1), "UTC")
    [(pub_id, claim)] = engine.claim_due(rt.config, now=utcnow() + timedelta(minutes=5))
    assert pub_id == pub.id
    status = engine.publish(rt.pm, rt.config, pub_id, claim)
    return Publication.get_by_id(pub_id), status


def folder_of(rt, account) -> FeedFolder:
    return FeedFolder(rt.config.data_dir, account.settings["feed_id"])


def parse_feed(folder: FeedFolder):
    return ET.parse(folder.atom_path).getroot()


def test_publish_writes_a_valid_atom_feed_with_the_entry_and_its_media(rt, ws, feed_account):
    image = png_bytes()
    asset = media.ingest(rt.config, rt.pm, ws.id, io.BytesIO(image), "photo.png")
    pub, status = schedule_and_publish(rt, ws, feed_account, title="Hello <world>",
                                       body="First post\nwith two lines & an ampersand",
                                       tags=["news", "launch"], media=[asset.id])
    assert status == states.PUBLISHED
    feed_id = feed_account.settings["feed_id"]
    base = rt.config.public_base_url
    entry_uuid = str(uuid.UUID(pub.idempotency_key))
    assert pub.remote_id == f"urn:uuid:{entry_uuid}"
    assert pub.remote_url == f"{base}/feeds/{feed_id}/entries/{entry_uuid}"

    root = parse_feed(folder_of(rt, feed_account))
    assert root.tag == A + "feed"
    assert root.findtext(A + "title") == "Studio news"
    assert root.findtext(A + "id").startswith("urn:uuid:")
    assert root.findtext(A + "updated")
    assert root.find(A + "author/" + A + "name").text == "Studio news"
    [self_link] = [lk for lk in root.findall(A + "link") if lk.get("rel") == "self"]
    assert self_link.get("href") == f"{base}/feeds/{feed_id}/feed.atom"

    [entry] = root.findall(A + "entry")
    assert entry.findtext(A + "id") == f"urn:uuid:{entry_uuid}"
    assert entry.findtext(A + "title") == "Hello <world>"
    assert entry.findtext(A + "content") == "First post\nwith two lines & an ampersand"
    assert datetime.strptime(entry.findtext(A + "updated"), "%Y-%m-%dT%H:%M:%SZ")
    assert [c.get("term") for c in entry.findall(A + "category")] == ["news", "launch"]
    [enclosure] = [lk for lk in entry.findall(A + "link") if lk.get("rel") == "enclosure"]
    assert enclosure.get("type") == "image/png"
    assert enclosure.get("length") == str(len(image))
    name = enclosure.get("href").rsplit("/", 1)[1]
    assert enclosure.get("href") == f"{base}/feeds/{feed_id}/media/{name}"
    assert (folder_of(rt, feed_account).media_dir / name).read_bytes() == image


def test_the_same_idempotency_key_twice_leaves_one_entry(rt, ws, feed_account):
    pub, status = schedule_and_publish(rt, ws, feed_account, title="Once", body="only once")
    assert status == states.PUBLISHED
    ctx = build_context(rt.config, rt.pm, pub)
    again = LocalFeedPublisher(rt.config).publish(ctx)
    assert again.remote_id == pub.remote_id and again.url == pub.remote_url
    entries = parse_feed(folder_of(rt, feed_account)).findall(A + "entry")
    assert len(entries) == 1
    assert len(folder_of(rt, feed_account).read_index()["entries"]) == 1


def test_concurrent_writers_to_one_feed_lose_no_entry_and_duplicate_none(rt, ws, feed_account):
    """Many threads at once, each with its own key, plus all of them repeating one key."""
    pub, _ = schedule_and_publish(rt, ws, feed_account, title="Seed", body="seed")
    base_ctx = build_context(rt.config, rt.pm, pub)
    shared_key = uuid.uuid4().hex
    keys = [uuid.uuid4().hex for _ in range(24)]
    errors = []

    def write(key):
        try:
            for k in (key, shared_key):
                LocalFeedPublisher(rt.config).publish(replace(base_ctx, idempotency_key=k,
                                                              title=f"post {k[:6]}"))
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(k,)) for k in keys]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    index = folder_of(rt, feed_account).read_index()
    got = [e["key"] for e in index["entries"]]
    assert sorted(got) == sorted(keys + [shared_key, pub.idempotency_key])
    assert len(parse_feed(folder_of(rt, feed_account)).findall(A + "entry")) == len(got)


def test_reconcile_finds_the_entry_by_idempotency_key_or_says_not_posted(rt, ws, feed_account):
    pub, _ = schedule_and_publish(rt, ws, feed_account, title="Findable", body="x")
    publisher = LocalFeedPublisher(rt.config)
    ctx = build_context(rt.config, rt.pm, pub)
    found = publisher.reconcile(ctx)
    assert isinstance(found, PublishResult)
    assert (found.remote_id, found.url) == (pub.remote_id, pub.remote_url)
    assert publisher.reconcile(replace(ctx, idempotency_key=uuid.uuid4().hex)) is False


def test_an_unknown_outcome_is_reconciled_to_published_by_the_engine(rt, ws, feed_account,
                                                                     monkeypatch):
    """The entry was written but the worker lost the answer: the engine finds it, no repost."""
    real_publish = LocalFeedPublisher.publish

    def publish_then_lose_the_answer(self, ctx):
        real_publish(self, ctx)
        raise ConnectionResetError("answer lost")

    monkeypatch.setattr(LocalFeedPublisher, "publish", publish_then_lose_the_answer)
    pub, status = schedule_and_publish(rt, ws, feed_account, title="Lost answer", body="x")
    assert status == states.PUBLISHED
    assert pub.remote_id == f"urn:uuid:{uuid.UUID(pub.idempotency_key)}"
    assert len(parse_feed(folder_of(rt, feed_account)).findall(A + "entry")) == 1


def test_an_unknown_outcome_before_writing_is_retried(rt, ws, feed_account, monkeypatch):
    def crash(self, ctx):
        raise OSError("disk full")

    monkeypatch.setattr(LocalFeedPublisher, "publish", crash)
    pub, status = schedule_and_publish(rt, ws, feed_account, title="Crashed", body="x")
    assert status == states.RETRY_WAIT
    assert pub.error_code == "reconciled_retry"


def test_feed_media_and_entry_are_served_publicly(rt, ws, feed_account, client):
    image = png_bytes()
    asset = media.ingest(rt.config, rt.pm, ws.id, io.BytesIO(image), "photo.png")
    pub, _ = schedule_and_publish(rt, ws, feed_account, title="<b>Served</b>", body="body",
                                  media=[asset.id])
    base = rt.config.public_base_url
    feed_id = feed_account.settings["feed_id"]

    feed = client.get(f"/feeds/{feed_id}/feed.atom")  # no session, no token
    assert feed.status_code == 200
    assert feed.mimetype == "application/atom+xml"
    root = ET.fromstring(feed.data)
    [entry] = root.findall(A + "entry")
    [enclosure] = [lk for lk in entry.findall(A + "link") if lk.get("rel") == "enclosure"]
    got = client.get(enclosure.get("href").removeprefix(base))
    assert got.status_code == 200 and got.data == image and got.mimetype == "image/png"
    assert "sandbox" in got.headers["Content-Security-Policy"]

    page = client.get(pub.remote_url.removeprefix(base))
    assert page.status_code == 200
    assert b"&lt;b&gt;Served&lt;/b&gt;" in page.data and b"<b>Served" not in page.data


@pytest.mark.parametrize("path", [
    "/feeds/{fid}/media/..%2Fentries.json",
    "/feeds/{fid}/media/..%2F..%2F..%2Fsecret_key",
    "/feeds/{fid}/media/.lock",
    "/feeds/{fid}/media/%2E%2E",
    "/feeds/{fid}/media/entries.json",
    "/feeds/..%2F..%2Fmedia/feed.atom",
    "/feeds/..%2F{fid}/feed.atom",
    "/feeds/{fid}%2F..%2F..%2F/feed.atom",
    "/feeds/..%2F..%2Fsecret_key/media/x",
    "/feeds/{fid}/entries/..%2F..%2Fsecret_key",
    "/feeds/nosuchfeed0000/feed.atom",
    "/feeds/{fid}/entries/00000000-0000-0000-0000-000000000000",
])
def test_paths_that_try_to_leave_the_feed_folder_are_not_found(rt, ws, feed_account, client, path):
    schedule_and_publish(rt, ws, feed_account, title="t", body="b")
    (rt.config.data_dir / "feeds" / "secret_key").write_text("do not serve")
    response = client.get(path.format(fid=feed_account.settings["feed_id"]))
    assert response.status_code == 404
    assert b"do not serve" not in response.data


def test_a_feed_id_taken_by_another_account_is_refused(rt, ws, feed_account):
    schedule_and_publish(rt, ws, feed_account, title="mine", body="mine")
    intruder = accounts.create(rt.config, rt.pm, ws.id, platform="localfeed", display_name="Other",
                               settings={"feed_id": feed_account.settings["feed_id"]})
    pub, status = schedule_and_publish(rt, ws, intruder, title="theirs", body="theirs")
    assert status == states.FAILED
    assert "belongs to another account" in pub.error_message
    assert len(parse_feed(folder_of(rt, feed_account)).findall(A + "entry")) == 1


def test_settings_generate_a_stable_feed_id_and_refuse_unsafe_ones(rt, ws):
    acc = accounts.create(rt.config, rt.pm, ws.id, platform="localfeed", display_name="Gen")
    feed_id = acc.settings["feed_id"]
    assert FeedFolder(rt.config.data_dir, feed_id)
    acc = accounts.update(rt.config, rt.pm, acc, settings={"feed_title": "Renamed"})
    assert acc.settings == {"feed_id": feed_id, "feed_title": "Renamed"}
    with pytest.raises(ValidationError) as err:
        accounts.create(rt.config, rt.pm, ws.id, platform="localfeed", display_name="Bad",
                        settings={"feed_id": "../../etc"})
    assert "feed_id" in err.value.errors["settings"]


def test_limits_refuse_a_post_that_does_not_fit(rt, ws, feed_account):
    post = posts.create(ws.id, title="long", body="x" * 100_001)
    with pytest.raises(ValidationError) as err:
        publications.schedule(rt.config, rt.pm, ws.id, post, [feed_account.id],
                              datetime.now(timezone.utc) + timedelta(minutes=1), "UTC")
    assert "100000" in str(err.value.errors)
