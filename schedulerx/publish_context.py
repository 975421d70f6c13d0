"""Resolve a publication's ids into what a publisher is called with."""
from __future__ import annotations

from . import media_links
from .crypto import decrypt_json
from .models import Account, MediaAsset, Post, Publication, Variant
from .publishers import MediaItem, PublishContext


def publisher_for(config, pm, pub: Publication, account: Account | None = None):
    account = account or Account.get_by_id(pub.account_id)
    return pm.publisher(account.platform)(config)


def pick_variant(post: Post, account: Account) -> Variant | None:
    """The account's own variant, else the platform's, else none."""
    best = None
    for v in Variant.select().where(Variant.post == post):
        if v.account_id == account.id:
            return v
        if v.account_id is None and v.platform == account.platform:
            best = v
    return best


def media_items(config, pm, asset_ids: list[int], workspace_id: int) -> list[MediaItem]:
    if not asset_ids:
        return []
    assets = {a.id: a for a in MediaAsset.select().where(
        MediaAsset.id.in_(asset_ids or [0]), MediaAsset.workspace == workspace_id)}
    backends = pm.storage_backends()
    items = []
    for asset_id in asset_ids:
        asset = assets.get(asset_id)
        if asset is None:
            raise LookupError(f"media asset {asset_id} is gone")
        storage = backends[asset.storage](config)
        items.append(MediaItem(
            id=asset.id, filename=asset.filename, mime=asset.mime, size=asset.size,
            path=storage.local_path(asset.storage_key),
            url=f"{config.public_base_url}/api/v1/media/{asset.id}/content",
            open=lambda s=storage, k=asset.storage_key: s.open(k),
            width=asset.width, height=asset.height, duration=asset.duration,
            public_url=media_links.public_url(config.public_base_url, config.secret_key,
                                              asset.id, asset.storage_key)))
    return items


def build_context(config, pm, pub: Publication, account: Account | None = None) -> PublishContext:
    """``account``: the publication's account when the caller has it already."""
    post = Post.get_by_id(pub.post_id)
    account = account or Account.get_by_id(pub.account_id)
    variant = pick_variant(post, account)
    return PublishContext(
        publication_id=pub.id, idempotency_key=pub.idempotency_key, attempt=pub.attempts,
        account_id=account.id, account_settings=dict(account.settings or {}),
        credentials=decrypt_json(config.secret_key, account.credentials),
        title=(variant.title if variant and variant.title is not None else post.title),
        body=(variant.body if variant and variant.body is not None else post.body),
        tags=list(post.tags or []),
        media=media_items(config, pm, list(post.media or []), pub.workspace_id),
        options=dict(variant.options if variant else {}),
        scheduled_at=pub.scheduled_at, base_url=config.public_base_url,
        data_dir=str(config.data_dir), remote_id=pub.remote_id,
        account_info=dict(account.platform_info or {}),
    )
