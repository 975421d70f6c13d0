"""The local feed publisher: a post becomes an entry of the account's Atom feed."""
from __future__ import annotations

import mimetypes
from datetime import datetime, timezone

import marshmallow
from marshmallow import fields, validate

from schedulerx.publishers import (PermanentError, PlatformDescriptor, PlatformLimits,
                                   PublishContext, Publisher, PublishResult)

from .feed import (FEED_ID_RE, FeedFolder, copy_atomically, entry_path, entry_uuid, feed_path,
                   new_feed_id, rfc3339)

DEFAULT_TITLE = "SchedulerX feed"


class LocalFeedSettings(marshmallow.Schema):
    feed_title = fields.String(load_default="", validate=validate.Length(max=200),
                               metadata={"label": "Feed title", "description": "Title of the Atom feed"})
    feed_id = fields.String(load_default=new_feed_id, validate=validate.Regexp(FEED_ID_RE),
                            metadata={"label": "Feed id", "description":
                                      "Folder and URL segment of the feed: 8-64 letters, digits, "
                                      "- or _ (left empty: generated). Changing it starts a new feed."})

    @marshmallow.pre_load
    def generate_blank_feed_id(self, data, **kwargs):
        if isinstance(data, dict) and not data.get("feed_id"):
            data = {k: v for k, v in data.items() if k != "feed_id"}
        return data


class LocalFeedPublisher(Publisher):
    """Writes posts into ``DATA_DIR/feeds/<feed id>/`` and keeps ``feed.atom`` current.

    Publishing is idempotent on the publication's idempotency key (the entry's
    UUID), so a retry never adds a second entry, and ``reconcile`` can tell.
    """

    descriptor = PlatformDescriptor(
        name="localfeed", label="Local feed",
        limits=PlatformLimits(text_max=100_000, title_max=500, media_max_count=20,
                              media_types=("image/", "video/", "audio/")))
    settings_schema = LocalFeedSettings
    idempotent = True
    can_look_up = True  # the feed file is ours to read

    def _folder(self, ctx: PublishContext) -> FeedFolder:
        try:
            return FeedFolder(ctx.data_dir, ctx.account_settings.get("feed_id"))
        except ValueError as exc:
            raise PermanentError(f"the account's feed settings are invalid: {exc}", code="settings")

    def publish(self, ctx: PublishContext) -> PublishResult:
        folder = self._folder(ctx)
        entry_id = entry_uuid(ctx.idempotency_key)
        folder.media_dir.mkdir(parents=True, exist_ok=True)
        # Media first, outside the lock: names are fixed by the entry id and each copy
        # lands atomically, so two workers copying the same post write the same files.
        media = [self._copy_media(folder, entry_id, n, item) for n, item in enumerate(ctx.media)]
        with folder.locked():
            index = folder.read_index()
            owner = index.get("account_id")
            if owner is not None and owner != ctx.account_id:
                raise PermanentError(f"feed {folder.feed_id} belongs to another account; "
                                     "choose another feed id", code="feed_taken")
            index.update(account_id=ctx.account_id,
                         title=ctx.account_settings.get("feed_title") or DEFAULT_TITLE)
            index.setdefault("created", rfc3339(datetime.now(timezone.utc)))
            entry = folder.find(entry_id, index)
            if entry is None:
                entry = {"id": entry_id, "key": ctx.idempotency_key,
                         "publication_id": ctx.publication_id,
                         "title": _entry_title(ctx.title, ctx.body), "content": ctx.body,
                         "tags": list(ctx.tags), "media": media,
                         "published": rfc3339(datetime.now(timezone.utc))}
                index["entries"].append(entry)
            folder.write_index(index)
            # Always re-render: a crash between the two writes leaves no stale feed behind.
            folder.write_atom(index, ctx.base_url)
        return self._result(ctx, folder, entry)

    def reconcile(self, ctx: PublishContext) -> PublishResult | bool:
        folder = self._folder(ctx)
        entry = folder.find(entry_uuid(ctx.idempotency_key))
        return False if entry is None else self._result(ctx, folder, entry)

    @staticmethod
    def _result(ctx, folder: FeedFolder, entry: dict) -> PublishResult:
        return PublishResult(remote_id=f"urn:uuid:{entry['id']}",
                             url=ctx.base_url + entry_path(folder.feed_id, entry["id"]),
                             raw={"feed": ctx.base_url + feed_path(folder.feed_id)})

    @staticmethod
    def _copy_media(folder: FeedFolder, entry_id: str, n: int, item) -> dict:
        # The extension follows the MIME type the core sniffed, never the uploaded name.
        ext = mimetypes.guess_extension(item.mime or "") or ".bin"
        name = f"{entry_id}-{n}{ext}"
        target = folder.media_file(name)
        if not (target.exists() and target.stat().st_size == item.size):
            if item.path:
                with open(item.path, "rb") as src:
                    copy_atomically(src, target)
            else:
                with item.open() as src:
                    copy_atomically(src, target)
        return {"name": name, "mime": item.mime, "size": target.stat().st_size,
                "filename": item.filename}


def _entry_title(title: str, body: str) -> str:
    if title and title.strip():
        return title.strip()
    first = (body or "").strip().splitlines()[0] if (body or "").strip() else ""
    return first[:80] or "Untitled"
