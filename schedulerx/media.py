"""The media library: ingest uploads into a storage backend, query, delete."""
from __future__ import annotations

import hashlib
import json
import os
import tempfile
import uuid
from typing import BinaryIO

import filetype
from peewee import OP, SQL, Expression, NodeList, Value

from .ai import jobs as ai_jobs
from .db import database
from .errors import Conflict, NotFound, TooLarge, ValidationError
from .models import MediaAsset, Post

#: Families a post can carry. The type is sniffed from the bytes, never trusted from the client.
ALLOWED_FAMILIES = ("image/", "video/", "audio/")
CHUNK = 1024 * 1024
DEFAULT_STORAGE = "local"


def get(workspace_id: int, asset_id: int) -> MediaAsset:
    asset = MediaAsset.get_or_none(MediaAsset.id == asset_id, MediaAsset.workspace == workspace_id)
    if asset is None:
        raise NotFound(f"media {asset_id} not found")
    return asset


def storage_for(config, pm, name: str):
    backends = pm.storage_backends()
    if name not in backends:
        raise ValidationError(f"no storage backend {name!r} is loaded")
    return backends[name](config)


def _clean_tags(tags) -> list[str]:
    out = []
    for t in tags or ():
        t = str(t).strip()
        if t and t not in out:
            if len(t) > 64:
                raise ValidationError("a tag has at most 64 characters", field="tags")
            out.append(t)
    return out


def ingest(config, pm, workspace_id: int, stream: BinaryIO, filename: str, *, tags=(),
           storage: str = DEFAULT_STORAGE) -> MediaAsset:
    """Stream an upload to a temporary file (hashing, counting, limiting), then store it."""
    filename = os.path.basename((filename or "").replace("\\", "/")).strip()[:255]
    if not filename:
        raise ValidationError("the file needs a name", field="file")
    limit = config.max_upload_mb * 1024 * 1024
    backend = storage_for(config, pm, storage)
    digest, size = hashlib.sha256(), 0
    tmp_dir = config.data_dir / "tmp"
    tmp_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryFile(dir=tmp_dir) as tmp:
        head = b""
        while chunk := stream.read(CHUNK):
            size += len(chunk)
            if size > limit:
                raise TooLarge(f"the file is larger than {config.max_upload_mb} MB", field="file")
            if len(head) < 8192:
                head += chunk[:8192 - len(head)]
            digest.update(chunk)
            tmp.write(chunk)
        if size == 0:
            raise ValidationError("the file is empty", field="file")
        kind = filetype.guess(head)
        if kind is None or not kind.mime.startswith(ALLOWED_FAMILIES):
            raise ValidationError("only image, video and audio files are accepted "
                                  f"(this looks like {kind.mime if kind else 'unknown data'})",
                                  field="file")
        ext = "." + kind.extension
        key = f"ws{workspace_id}/{uuid.uuid4().hex}{ext}"
        tmp.seek(0)
        backend.save(key, tmp)
    try:
        asset = MediaAsset.create(workspace=workspace_id, storage=storage, storage_key=key,
                                  filename=filename, sha256=digest.hexdigest(), mime=kind.mime,
                                  size=size, tags=_clean_tags(tags), status="ready")
    except Exception:
        backend.delete(key)  # nothing half-written: no orphan file
        raise
    ai_jobs.on_media_ingested(pm, asset)  # when the workspace turned automatic AI on
    return asset


def listing(workspace_id: int, *, kind: str | None = None, tag: str | None = None,
            q: str | None = None, since=None, until=None):
    query = MediaAsset.select().where(MediaAsset.workspace == workspace_id)
    if kind:
        if kind not in ("image", "video", "audio"):
            raise ValidationError("type must be image, video or audio", field="type")
        query = query.where(MediaAsset.mime.startswith(kind + "/"))
    if tag:
        # Tags are a JSON list in a text column: match the element as JSONField writes it
        # (json.dumps escaping). The pattern is passed unconverted: through JSONField's
        # db_value it would be JSON-quoted again and match nothing.
        needle = json.dumps(tag).replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        query = query.where(Expression(MediaAsset.tags, OP.ILIKE, NodeList((
            Value(f"%{needle}%", converter=False), SQL("ESCAPE"), Value("\\", converter=False)))))
    if q:
        query = query.where(MediaAsset.filename.contains(q))
    if since is not None:
        query = query.where(MediaAsset.created_at >= since)
    if until is not None:
        query = query.where(MediaAsset.created_at < until)
    return query.order_by(MediaAsset.created_at.desc(), MediaAsset.id.desc())


def update(asset: MediaAsset, *, tags=None, meta=None, filename=None) -> MediaAsset:
    if tags is not None:
        asset.tags = _clean_tags(tags)
    if meta is not None:
        asset.meta = meta
    if filename is not None:
        if not filename.strip():
            raise ValidationError("filename cannot be empty", field="filename")
        asset.filename = filename.strip()[:255]
    asset.save()
    return asset


def delete(config, pm, asset: MediaAsset) -> None:
    used = [p.id for p in Post.select(Post.id, Post.media).where(Post.workspace == asset.workspace_id)
            if asset.id in (p.media or [])]
    if used:
        raise Conflict(f"media {asset.id} is used by posts {used}")
    with database.atomic():
        asset.delete_instance()
    storage_for(config, pm, asset.storage).delete(asset.storage_key)


