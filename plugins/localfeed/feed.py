"""One feed folder on disk, and its Atom rendering.

    DATA_DIR/feeds/<feed id>/
        entries.json   the index: every entry ever published (the source of truth)
        feed.atom      rendered from the index after every change
        media/         copies of the posts' media, named <entry uuid>-<n><ext>
        .lock          flock'd around every read-modify-write of the index

Writers hold an exclusive ``fcntl.flock`` on ``.lock`` (it works across threads
and processes, each ``open`` being its own lock holder). Every file is written
under a temporary name and moved into place with ``os.replace``, so readers (the
web app, ``reconcile``) never see half a file and need no lock.
"""
from __future__ import annotations

import fcntl
import io
import json
import os
import shutil
import re
import tempfile
import uuid
import xml.etree.ElementTree as ET
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path

ATOM_NS = "http://www.w3.org/2005/Atom"
#: Feed ids are URL segments and folder names: nothing that could climb out.
FEED_ID_RE = re.compile(r"^[A-Za-z0-9_-]{8,64}$")
MEDIA_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,200}$")
#: The Atom file shows the newest entries; the index keeps them all (for reconcile).
FEED_MAX_ENTRIES = 100
# Characters XML 1.0 cannot carry at all; ElementTree would write them and break the file.
_NOT_XML = re.compile("[^\x09\x0a\x0d\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def new_feed_id() -> str:
    """A fresh, unguessable feed id."""
    return uuid.uuid4().hex


def entry_uuid(idempotency_key: str) -> str:
    """The entry's UUID: the publication's idempotency key, so a retry finds its entry."""
    try:
        return str(uuid.UUID(idempotency_key))
    except ValueError:
        return str(uuid.uuid5(uuid.NAMESPACE_URL, f"schedulerx-localfeed:{idempotency_key}"))


def rfc3339(dt: datetime) -> str:
    return dt.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def feed_path(feed_id: str) -> str:
    return f"/feeds/{feed_id}/feed.atom"


def media_path(feed_id: str, name: str) -> str:
    return f"/feeds/{feed_id}/media/{name}"


def entry_path(feed_id: str, entry_id: str) -> str:
    return f"/feeds/{feed_id}/entries/{entry_id}"


def write_atomically(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` so that a reader sees the old file or the new one."""
    copy_atomically(io.BytesIO(data), path)


def copy_atomically(src, path: Path) -> None:
    """Copy the binary file object ``src`` to ``path`` (temporary name, then rename)."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
    try:
        with os.fdopen(fd, "wb") as out:
            shutil.copyfileobj(src, out, 1024 * 1024)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


class FeedFolder:
    """The files of one feed. Raises ValueError for a feed id that is not safe."""

    def __init__(self, data_dir, feed_id: str):
        if not isinstance(feed_id, str) or not FEED_ID_RE.match(feed_id):
            raise ValueError(f"invalid feed id {feed_id!r}")
        self.feed_id = feed_id
        self.root = Path(data_dir).resolve() / "feeds" / feed_id
        self.index_path = self.root / "entries.json"
        self.atom_path = self.root / "feed.atom"
        self.media_dir = self.root / "media"

    def media_file(self, name: str) -> Path:
        """The path of a media file; ValueError when ``name`` could leave the folder."""
        if not MEDIA_NAME_RE.match(name or "") or ".." in name:
            raise ValueError(f"invalid media name {name!r}")
        return self.media_dir / name

    @contextmanager
    def locked(self):
        """Hold the feed's exclusive lock: one writer at a time, across processes."""
        self.media_dir.mkdir(parents=True, exist_ok=True)
        with open(self.root / ".lock", "a+b") as fh:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fh.fileno(), fcntl.LOCK_UN)

    def read_index(self) -> dict:
        try:
            return json.loads(self.index_path.read_text("utf-8"))
        except FileNotFoundError:
            return {"version": 1, "feed_id": self.feed_id, "entries": []}

    def write_index(self, index: dict) -> None:
        write_atomically(self.index_path, json.dumps(index, indent=1, ensure_ascii=False).encode())

    def find(self, entry_id: str, index: dict | None = None) -> dict | None:
        index = index if index is not None else self.read_index()
        return next((e for e in index["entries"] if e["id"] == entry_id), None)

    def write_atom(self, index: dict, base_url: str) -> None:
        write_atomically(self.atom_path, render_atom(index, base_url))


def _text(value) -> str:
    return _NOT_XML.sub("", str(value or ""))


def _sub(parent, tag: str, text=None, **attrs):
    el = ET.SubElement(parent, tag, {k: _text(v) for k, v in attrs.items() if v is not None})
    if text is not None:
        el.text = _text(text)
    return el


def render_atom(index: dict, base_url: str) -> bytes:
    """The Atom 1.0 document (RFC 4287) of a feed index, newest entry first."""
    feed_id = index["feed_id"]
    entries = sorted(index["entries"], key=lambda e: e["published"], reverse=True)[:FEED_MAX_ENTRIES]
    title = index.get("title") or "SchedulerX feed"
    # Unqualified children of a root carrying xmlns are in the Atom namespace.
    feed = ET.Element("feed", {"xmlns": ATOM_NS})
    _sub(feed, "id", "urn:uuid:" + str(uuid.uuid5(uuid.NAMESPACE_URL, f"schedulerx-localfeed:{feed_id}")))
    _sub(feed, "title", title)
    _sub(feed, "updated", entries[0]["published"] if entries else index.get("created")
         or rfc3339(datetime.now(timezone.utc)))
    _sub(feed, "link", rel="self", type="application/atom+xml", href=base_url + feed_path(feed_id))
    _sub(_sub(feed, "author"), "name", title)
    _sub(feed, "generator", "SchedulerX local feed")
    for e in entries:
        entry = _sub(feed, "entry")
        _sub(entry, "id", "urn:uuid:" + e["id"])
        _sub(entry, "title", e["title"])
        _sub(entry, "updated", e["published"])
        _sub(entry, "published", e["published"])
        _sub(entry, "link", rel="alternate", type="text/html",
             href=base_url + entry_path(feed_id, e["id"]))
        for tag in e.get("tags", ()):
            _sub(entry, "category", term=tag)
        for m in e.get("media", ()):
            _sub(entry, "link", rel="enclosure", type=m["mime"], length=str(m["size"]),
                 title=m.get("filename"), href=base_url + media_path(feed_id, m["name"]))
        _sub(entry, "content", e["content"], type="text")
    ET.indent(feed)
    return ET.tostring(feed, encoding="utf-8", xml_declaration=True) + b"\n"
