"""The one place for pagination: ``page``/``page_size`` in, LIMIT/OFFSET in the database,
the total in the body and in ``X-Total-Count``."""
from __future__ import annotations

import marshmallow as ma

DEFAULT_PAGE_SIZE = 20
MAX_PAGE_SIZE = 200


class PageArgs(ma.Schema):
    page = ma.fields.Integer(load_default=1, validate=ma.validate.Range(min=1, max=1_000_000))
    page_size = ma.fields.Integer(load_default=DEFAULT_PAGE_SIZE,
                                  validate=ma.validate.Range(min=1, max=MAX_PAGE_SIZE))


_page_schemas: dict = {}


def page_schema(item_schema: type[ma.Schema]) -> type[ma.Schema]:
    """The envelope schema ``{items, total, page, page_size, pages}`` for ``item_schema``."""
    if item_schema not in _page_schemas:
        name = item_schema.__name__.removesuffix("Schema") + "PageSchema"
        _page_schemas[item_schema] = type(name, (ma.Schema,), {
            "items": ma.fields.List(ma.fields.Nested(item_schema)),
            "total": ma.fields.Integer(),
            "page": ma.fields.Integer(),
            "page_size": ma.fields.Integer(),
            "pages": ma.fields.Integer(),
        })
    return _page_schemas[item_schema]


def paginate(query, page: int, page_size: int, transform=None):
    """Run one COUNT and one LIMIT/OFFSET query; return (envelope, headers)."""
    total = query.count()
    rows = list(query.paginate(page, page_size))
    items = [transform(r) for r in rows] if transform else rows
    pages = (total + page_size - 1) // page_size
    return ({"items": items, "total": total, "page": page, "page_size": page_size, "pages": pages},
            {"X-Total-Count": str(total)})
