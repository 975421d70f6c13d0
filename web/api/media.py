"""The media library: upload, list, read, tag, delete, and serve the bytes (with Range)."""
from __future__ import annotations

import marshmallow as ma
from flask import Response, g, send_file, stream_with_context
from flask.views import MethodView
from flask_smorest import Blueprint
from flask_smorest.fields import Upload

from schedulerx import media

from ..app import runtime
from ..pagination import PageArgs, page_schema, paginate
from .schemas import ErrorSchema, UTCDateTime, WhenField, stored_time

blp = Blueprint("media", __name__, description="The media library")
blp.url_prefix_name = "media"

BINARY = {"content": {"*/*": {"schema": {"type": "string", "format": "binary"}}}}


class MediaSchema(ma.Schema):
    id = ma.fields.Integer()
    filename = ma.fields.String()
    mime = ma.fields.String()
    type = ma.fields.Function(lambda a: a.mime.split("/", 1)[0],
                              metadata={"description": "image, video or audio"})
    size = ma.fields.Integer(metadata={"description": "bytes"})
    sha256 = ma.fields.String()
    width = ma.fields.Integer(allow_none=True)
    height = ma.fields.Integer(allow_none=True)
    duration = ma.fields.Float(allow_none=True, metadata={"description": "seconds"})
    tags = ma.fields.List(ma.fields.String())
    meta = ma.fields.Dict()
    status = ma.fields.String(metadata={"description": "ingesting, ready or failed"})
    created_at = UTCDateTime()
    content_url = ma.fields.Function(lambda a: f"/api/v1/media/{a.id}/content")


class UploadFileSchema(ma.Schema):
    file = Upload(required=True, metadata={"description": "an image, video or audio file"})


class UploadFormSchema(ma.Schema):
    tags = ma.fields.String(load_default="", metadata={"description": "comma-separated tags"})


class UploadSchema(UploadFileSchema, UploadFormSchema):
    """The whole multipart body, for the docs: webargs reads files and form fields apart."""


class MediaListArgs(PageArgs):
    type = ma.fields.String(validate=ma.validate.OneOf(("image", "video", "audio")))
    tag = ma.fields.String(validate=ma.validate.Length(min=1, max=64))
    q = ma.fields.String(validate=ma.validate.Length(min=1, max=255),
                         metadata={"description": "text in the filename"})
    since = WhenField(metadata={"description": "uploaded at or after (ISO 8601)"})
    until = WhenField(metadata={"description": "uploaded before (ISO 8601)"})


class MediaPatchSchema(ma.Schema):
    tags = ma.fields.List(ma.fields.String())
    meta = ma.fields.Dict()
    filename = ma.fields.String(validate=ma.validate.Length(min=1, max=255))


@blp.route("")
class MediaCollection(MethodView):
    @blp.arguments(MediaListArgs, location="query")
    @blp.response(200, page_schema(MediaSchema))
    def get(self, args):
        """List media, newest first, filtered by type, tag, filename text and upload time."""
        query = media.listing(g.workspace.id, kind=args.get("type"), tag=args.get("tag"),
                              q=args.get("q"), since=stored_time(args.get("since"), "since"),
                              until=stored_time(args.get("until"), "until"))
        return paginate(query, args["page"], args["page_size"])

    @blp.arguments(UploadFileSchema, location="files")
    @blp.arguments(UploadFormSchema, location="form", content_type="multipart/form-data")
    @blp.doc(requestBody={"content": {"multipart/form-data": {"schema": UploadSchema}}})
    @blp.response(201, MediaSchema)
    @blp.alt_response(413, schema=ErrorSchema, description="larger than MAX_UPLOAD_MB")
    def post(self, files, form):
        """Upload a file (multipart field ``file``); its type is sniffed from the bytes."""
        rt = runtime()
        upload = files["file"]
        tags = [t for t in (part.strip() for part in form["tags"].split(",")) if t]
        return media.ingest(rt.config, rt.pm, g.workspace.id, upload.stream, upload.filename,
                            tags=tags)


@blp.route("/<int:media_id>")
class MediaFile(MethodView):
    @blp.response(200, MediaSchema)
    def get(self, media_id):
        """One media file's metadata."""
        return media.get(g.workspace.id, media_id)

    @blp.arguments(MediaPatchSchema)
    @blp.response(200, MediaSchema)
    def patch(self, data, media_id):
        """Change tags, free metadata or the display filename."""
        return media.update(media.get(g.workspace.id, media_id), **data)

    @blp.response(204)
    def delete(self, media_id):
        """Delete a media file; refused (409) while a post uses it."""
        rt = runtime()
        media.delete(rt.config, rt.pm, media.get(g.workspace.id, media_id))


@blp.route("/<int:media_id>/content")
class MediaContent(MethodView):
    @blp.doc(responses={
        "200": {"description": "the whole file", **BINARY},
        "206": {"description": "the byte range asked for with Range", **BINARY},
        "304": {"description": "not modified (If-None-Match / If-Modified-Since)"},
        "416": {"description": "the range lies outside the file"}})
    def get(self, media_id):
        """Download or stream the file itself."""
        return send_asset(media.get(g.workspace.id, media_id))


def send_asset(asset):
    """The file's bytes (also behind the signed public links, ``schedulerx_web.public_media``)."""
    rt = runtime()
    storage = media.storage_for(rt.config, rt.pm, asset.storage)
    path = storage.local_path(asset.storage_key)
    if path:
        # send_file answers Range, If-Range and If-None-Match: video players seek.
        return send_file(path, mimetype=asset.mime, conditional=True,
                         download_name=asset.filename)
    fh = storage.open(asset.storage_key)

    def chunks():
        with fh:
            while chunk := fh.read(media.CHUNK):
                yield chunk
    return Response(stream_with_context(chunks()), mimetype=asset.mime,
                    headers={"Content-Length": str(asset.size)})
