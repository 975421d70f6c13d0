"""Posts and their per-platform variants."""
from __future__ import annotations

from .db import database
from .errors import Conflict, NotFound, ValidationError
from .models import Account, MediaAsset, Post, Publication, Variant
from . import states
from .timeutil import utcnow

TITLE_MAX = 500


def get(workspace_id: int, post_id: int) -> Post:
    post = Post.get_or_none(Post.id == post_id, Post.workspace == workspace_id)
    if post is None:
        raise NotFound(f"post {post_id} not found")
    return post


def listing(workspace_id: int, *, q: str | None = None):
    """A query of the workspace's posts, newest first, to paginate; ``q`` searches title and body."""
    query = Post.select().where(Post.workspace == workspace_id)
    if q:
        query = query.where(Post.title.contains(q) | Post.body.contains(q))
    return query.order_by(Post.created_at.desc(), Post.id.desc())


def check_media(workspace_id: int, media: list[int]) -> list[int]:
    if len(set(media)) != len(media):
        raise ValidationError("a media id is listed twice", field="media")
    found = {a.id: a.status for a in MediaAsset.select(MediaAsset.id, MediaAsset.status)
             .where(MediaAsset.id.in_(media or [0]), MediaAsset.workspace == workspace_id)}
    missing = [m for m in media if m not in found]
    if missing:
        raise ValidationError(f"unknown media ids: {missing}", field="media")
    not_ready = [m for m in media if found[m] != "ready"]
    if not_ready:
        raise ValidationError(f"media not ready yet: {not_ready}", field="media")
    return list(media)


def _check_variants(workspace_id: int, variants: list[dict]) -> None:
    seen = set()
    for i, v in enumerate(variants):
        key = (v.get("platform"), v.get("account_id"))
        if key == (None, None):
            raise ValidationError("a variant needs a platform or an account_id",
                                  errors={"variants": {str(i): ["platform or account_id required"]}})
        if key in seen:
            raise ValidationError("two variants for the same platform/account",
                                  errors={"variants": {str(i): ["duplicate"]}})
        seen.add(key)
        if v.get("account_id") is not None and not Account.select().where(
                Account.id == v["account_id"], Account.workspace == workspace_id).exists():
            raise ValidationError(f"unknown account {v['account_id']}",
                                  errors={"variants": {str(i): ["unknown account_id"]}})


def _write_variants(post: Post, variants: list[dict]) -> None:
    Variant.delete().where(Variant.post == post).execute()
    for v in variants:
        Variant.create(post=post, platform=v.get("platform"), account=v.get("account_id"),
                       title=v.get("title"), body=v.get("body"), options=v.get("options") or {})


def create(workspace_id: int, *, title: str = "", body: str = "", tags=(), media=(),
           variants=(), ai_metadata=None) -> Post:
    if not (title or body or media):
        raise ValidationError("a post needs a title, a body or media")
    media = check_media(workspace_id, list(media))
    _check_variants(workspace_id, list(variants))
    with database.atomic():
        post = Post.create(workspace=workspace_id, title=title, body=body, tags=list(tags),
                           media=media, ai_metadata=ai_metadata or {})
        _write_variants(post, list(variants))
    return post


def update(post: Post, **changes) -> Post:
    if Publication.select().where(Publication.post == post,
                                  Publication.status.in_((states.QUEUED, states.PUBLISHING))).exists():
        raise Conflict("the post is being published right now; try again in a moment")
    variants = changes.pop("variants", None)
    if "media" in changes:
        changes["media"] = check_media(post.workspace_id, list(changes["media"]))
    if variants is not None:
        _check_variants(post.workspace_id, list(variants))
    after = {k: changes.get(k, getattr(post, k)) for k in ("title", "body", "media")}
    if not (after["title"] or after["body"] or after["media"]):
        raise ValidationError("a post needs a title, a body or media")
    with database.atomic():
        for k, v in changes.items():
            setattr(post, k, list(v) if k == "tags" else v)
        post.updated_at = utcnow()
        post.save()
        if variants is not None:
            _write_variants(post, list(variants))
    return post


def delete(post: Post) -> None:
    busy = (Publication.select().where(Publication.post == post,
                                       Publication.status.not_in(states.FINISHED + (states.DRAFT,)))
            .exists())
    if busy:
        raise Conflict("the post has publications that are not finished; cancel them first")
    post.delete_instance(recursive=True)
