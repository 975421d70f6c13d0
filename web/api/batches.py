"""Batches: many posts scheduled in one call, from JSON or an uploaded CSV. All or nothing."""
from __future__ import annotations

import marshmallow as ma
from flask import g
from flask.views import MethodView
from flask_smorest import Blueprint
from flask_smorest.fields import Upload

from schedulerx import batches
from schedulerx.errors import TooLarge

from ..app import runtime
from .posts import VariantSchema
from .publications import PublicationSchema
from .schemas import ErrorSchema, RetryPolicySchema, WhenField

blp = Blueprint("batches", __name__, description="Schedule many posts at once")
blp.url_prefix_name = "batches"

#: A CSV upload larger than this is refused before it is parsed.
MAX_CSV_BYTES = 2 * 1024 * 1024


class BatchItemSchema(ma.Schema):
    title = ma.fields.String(load_default="", validate=ma.validate.Length(max=500))
    body = ma.fields.String(load_default="", validate=ma.validate.Length(max=100_000))
    tags = ma.fields.List(ma.fields.String(validate=ma.validate.Length(min=1, max=100)),
                          load_default=list, validate=ma.validate.Length(max=100))
    media = ma.fields.List(ma.fields.Integer(strict=True), load_default=list,
                           validate=ma.validate.Length(max=50))
    variants = ma.fields.List(ma.fields.Nested(VariantSchema), load_default=list)
    account_ids = ma.fields.List(ma.fields.Integer(strict=True), required=True,
                                 validate=ma.validate.Length(min=1, max=100))
    scheduled_at = WhenField(allow_none=True, metadata={
        "description": "ISO 8601; null or left out: each account's next free slot"})
    timezone = ma.fields.String(allow_none=True, validate=ma.validate.Length(max=64), metadata={
        "description": "zone for a scheduled_at without offset; default the workspace's"})
    retry = ma.fields.Nested(RetryPolicySchema)


class BatchSchema(ma.Schema):
    items = ma.fields.List(ma.fields.Nested(BatchItemSchema), required=True,
                           validate=ma.validate.Length(min=1, max=batches.MAX_ROWS))


class CsvFileSchema(ma.Schema):
    file = Upload(required=True, metadata={"description": "UTF-8 CSV; see docs/scheduling.md for columns"})


class BatchResultSchema(ma.Schema):
    created = ma.fields.Integer(metadata={"description": "publications created"})
    publications = ma.fields.List(ma.fields.Nested(PublicationSchema))


def _result(pubs):
    return {"created": len(pubs), "publications": pubs}


@blp.route("")
class Batch(MethodView):
    @blp.arguments(BatchSchema)
    @blp.response(201, BatchResultSchema)
    def post(self, data):
        """Create and schedule every item, or none: a 422 names each bad item by index."""
        rt = runtime()
        return _result(batches.run(rt.config, rt.pm, g.workspace.id, data["items"]))


@blp.route("/csv")
class CsvBatch(MethodView):
    @blp.arguments(CsvFileSchema, location="files")
    @blp.response(201, BatchResultSchema)
    @blp.alt_response(413, schema=ErrorSchema, description="larger than 2 MiB")
    def post(self, files):
        """Upload a CSV (multipart field ``file``); all rows or none, errors by line number."""
        data = files["file"].stream.read(MAX_CSV_BYTES + 1)
        if len(data) > MAX_CSV_BYTES:
            raise TooLarge("the CSV file is larger than 2 MiB; split it", field="file")
        rt = runtime()
        items = batches.parse_csv(g.workspace.id, data)
        return _result(batches.run(rt.config, rt.pm, g.workspace.id, items, row_base=2))
