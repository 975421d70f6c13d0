"""Posts with their per-platform variants, and scheduling a post onto accounts."""
from __future__ import annotations

import marshmallow as ma
from flask import g
from flask.views import MethodView
from flask_smorest import Blueprint

from schedulerx import posts, publications
from schedulerx.models import Variant

from ..app import runtime
from ..pagination import PageArgs, page_schema, paginate
from .publications import PublicationSchema
from .schemas import RetryPolicySchema, UTCDateTime, WhenField, row_id, workspace_time

blp = Blueprint("posts", __name__, description="Posts and their variants")
blp.url_prefix_name = "posts"


class VariantSchema(ma.Schema):
    platform = ma.fields.String(allow_none=True, validate=ma.validate.Length(min=1, max=64))
    account_id = row_id(strict=True, allow_none=True)
    title = ma.fields.String(allow_none=True, validate=ma.validate.Length(max=posts.TITLE_MAX))
    body = ma.fields.String(allow_none=True)
    options = ma.fields.Dict(load_default=dict)


class PostSchema(ma.Schema):
    """Nothing is required field by field: the core wants a title, a body or media."""
    id = ma.fields.Integer(dump_only=True)
    title = ma.fields.String(validate=ma.validate.Length(max=posts.TITLE_MAX))
    body = ma.fields.String()
    tags = ma.fields.List(ma.fields.String(validate=ma.validate.Length(min=1, max=64)))
    media = ma.fields.List(row_id(strict=True),
                           metadata={"description": "media ids, in order"})
    variants = ma.fields.List(ma.fields.Nested(VariantSchema),
                              metadata={"description": "per platform or account; replaced as a whole"})
    ai_metadata = ma.fields.Dict()
    created_at = UTCDateTime(dump_only=True)
    updated_at = UTCDateTime(dump_only=True)


class PostListArgs(PageArgs):
    q = ma.fields.String(validate=ma.validate.Length(min=1, max=200),
                         metadata={"description": "text in the title or body"})


class ScheduleSchema(ma.Schema):
    account_ids = ma.fields.List(row_id(strict=True), required=True,
                                 validate=ma.validate.Length(min=1, max=100))
    scheduled_at = WhenField(required=True, metadata={
        "description": "ISO 8601; without an offset it is read in the workspace's timezone"})
    retry = ma.fields.Nested(RetryPolicySchema, metadata={
        "description": "overrides the account's default retry policy"})


class PostCheckSchema(ma.Schema):
    account_ids = ma.fields.List(ma.fields.Integer(strict=True), required=True,
                                 validate=ma.validate.Length(min=1, max=100))
    scheduled_at = WhenField(metadata={"description": "with a time, daily quotas are checked too"})


class PostCheckResultSchema(ma.Schema):
    ok = ma.fields.Boolean()
    accounts = ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.List(ma.fields.String()),
                              metadata={"description": "account id → problems; accounts that fit are absent"})


def _with_variants(rows: list) -> list:
    """Attach each post's variants, fetched for the whole page in one query."""
    by_post: dict[int, list] = {p.id: [] for p in rows}
    if by_post:
        for v in Variant.select().where(Variant.post.in_(list(by_post))).order_by(Variant.id):
            by_post[v.post_id].append(v)
    for p in rows:
        # Shadows the backref query on this instance only: no query per post.
        p.variants = by_post[p.id]
    return rows


def _dump(post):
    return _with_variants([post])[0]


@blp.route("")
class Posts(MethodView):
    @blp.arguments(PostListArgs, location="query")
    @blp.response(200, page_schema(PostSchema))
    def get(self, args):
        """List posts, newest first; ``q`` searches title and body."""
        envelope, headers = paginate(posts.listing(g.workspace.id, q=args.get("q")),
                                     args["page"], args["page_size"])
        envelope["items"] = _with_variants(envelope["items"])
        return envelope, headers

    @blp.arguments(PostSchema)
    @blp.response(201, PostSchema)
    def post(self, data):
        """Create a post (title, body and/or media) with optional variants."""
        return _dump(posts.create(g.workspace.id, **data))


@blp.route("/<int:post_id>")
class Post(MethodView):
    @blp.response(200, PostSchema)
    def get(self, post_id):
        """One post with its variants."""
        return _dump(posts.get(g.workspace.id, post_id))

    @blp.arguments(PostSchema)
    @blp.response(200, PostSchema)
    def patch(self, data, post_id):
        """Change the given fields; ``variants``, when given, replaces all variants."""
        return _dump(posts.update(posts.get(g.workspace.id, post_id), **data))

    @blp.response(204)
    def delete(self, post_id):
        """Delete a post; refused (409) while it has unfinished publications."""
        posts.delete(posts.get(g.workspace.id, post_id))


@blp.route("/<int:post_id>/schedule")
class SchedulePost(MethodView):
    @blp.arguments(ScheduleSchema)
    @blp.response(201, PublicationSchema(many=True))
    def post(self, data, post_id):
        """Schedule the post on accounts at one time: one publication each, all or none.

        Refused (422) when the time is past or the post does not fit an account's
        platform; the error lists the problems per account.
        """
        rt = runtime()
        post = posts.get(g.workspace.id, post_id)
        at = workspace_time(data["scheduled_at"], "scheduled_at")
        return publications.schedule(rt.config, rt.pm, g.workspace.id, post, data["account_ids"],
                                     at, g.workspace.timezone, retry=data.get("retry"))


@blp.route("/<int:post_id>/check")
class CheckPost(MethodView):
    @blp.arguments(PostCheckSchema)
    @blp.response(200, PostCheckResultSchema)
    def post(self, data, post_id):
        """What would stop the post on these accounts (text length as each platform counts it,
        media, hashtags, daily quotas), without scheduling anything. Scheduling answers 422
        with the same problems.
        """
        rt = runtime()
        post = posts.get(g.workspace.id, post_id)
        at = workspace_time(data.get("scheduled_at"), "scheduled_at")
        found = publications.check_ids(rt.config, rt.pm, g.workspace.id, post, data["account_ids"], at)
        return {"ok": not found, "accounts": found}
