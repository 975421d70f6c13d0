"""The platforms the loaded publisher plugins provide, with a settings form for each."""
from __future__ import annotations

from functools import cache

import marshmallow as ma
from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin
from flask.views import MethodView
from flask_smorest import Blueprint

from ..app import runtime

blp = Blueprint("platforms", __name__, description="Platforms of the loaded publisher plugins")
blp.url_prefix_name = "platforms"


class SettingFieldSchema(ma.Schema):
    name = ma.fields.String()
    label = ma.fields.String()
    type = ma.fields.String(metadata={"description": "JSON Schema type: string, integer, ..."})
    format = ma.fields.String(allow_none=True)
    required = ma.fields.Boolean()
    secret = ma.fields.Boolean(metadata={"description": "stored encrypted, never shown again"})
    description = ma.fields.String()
    default = ma.fields.Raw(allow_none=True)
    enum = ma.fields.List(ma.fields.Raw(), allow_none=True)


class PlatformSchema(ma.Schema):
    name = ma.fields.String()
    label = ma.fields.String()
    limits = ma.fields.Dict(metadata={"description": "text_max, title_max, media_max_count, ..."})
    best_times = ma.fields.List(ma.fields.Dict())
    idempotent = ma.fields.Boolean(metadata={
        "description": "a retry after an unknown outcome cannot double-post"})
    can_look_up = ma.fields.Boolean(metadata={
        "description": "after an unknown outcome the post can be looked up on the platform"})
    connect = ma.fields.String(metadata={
        "enum": ["oauth", "settings"],
        "description": "oauth: POST /accounts/connect/{name}; settings: POST /accounts"})
    quotas = ma.fields.List(ma.fields.Dict(), metadata={
        "description": "daily quotas: unit, limit, per_publish, the setting that overrides it"})
    metrics = ma.fields.Boolean(metadata={"description": "post metrics can be read"})
    settings = ma.fields.List(ma.fields.Nested(SettingFieldSchema))


@cache
def _field_converter():
    # apispec already knows how every marshmallow field maps to JSON Schema; use a
    # private spec so plugin schemas never leak into the API's own document.
    plugin = MarshmallowPlugin()
    APISpec("platform settings", "1", "3.0.3", plugins=[plugin])
    return plugin.converter


def settings_form(publisher_cls) -> list[dict]:
    """The publisher's settings schema as a list of form fields."""
    out = []
    for name, field in publisher_cls.settings_schema().fields.items():
        if field.dump_only:
            continue
        prop = _field_converter().field2property(field)
        out.append({
            "name": field.data_key or name,
            "label": field.metadata.get("label") or name.replace("_", " ").capitalize(),
            "type": prop.get("type", "string"),
            "format": prop.get("format"),
            "required": field.required,
            "secret": name in publisher_cls.secret_fields,
            "description": field.metadata.get("description", ""),
            "default": prop.get("default"),
            "enum": prop.get("enum"),
        })
    return out


def describe(publisher_cls) -> dict:
    d = publisher_cls.descriptor
    return {"name": d.name, "label": d.label, "limits": d.limits.as_dict(),
            "best_times": list(d.best_times), "idempotent": publisher_cls.idempotent,
            "can_look_up": publisher_cls.can_look_up,
            "connect": "oauth" if publisher_cls.oauth is not None else "settings",
            "quotas": [{"unit": q.unit, "label": q.label or q.unit, "limit": q.limit,
                        "per_publish": q.per_publish, "setting": q.setting}
                       for q in publisher_cls.quotas],
            "metrics": publisher_cls.offers_metrics(),
            "settings": settings_form(publisher_cls)}


@blp.route("")
class Platforms(MethodView):
    @blp.response(200, PlatformSchema(many=True))
    def get(self):
        """Every platform you can connect an account to: limits, best times, settings form."""
        publishers = runtime().pm.publishers()
        return [describe(publishers[name]) for name in sorted(publishers)]
