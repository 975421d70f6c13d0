"""Schemas shared by several resources. Resource-specific ones live in their module."""
from __future__ import annotations

import marshmallow as ma

from schedulerx.timeutil import isoformat


class ErrorSchema(ma.Schema):
    """The error body of every 4xx and 5xx."""
    error_code = ma.fields.String(metadata={"description": "stable machine-readable code"})
    error_message = ma.fields.String(metadata={"description": "what went wrong, for people"})
    error_class = ma.fields.String(metadata={"description": "the kind of error"})
    errors = ma.fields.Dict(metadata={"description": "per-field problems"})


class UTCDateTime(ma.fields.Field):
    """Dumps a stored naive-UTC or aware datetime as ISO 8601 with offset."""

    def _serialize(self, value, attr, obj, **kwargs):
        return isoformat(value)


class WhenField(ma.fields.String):
    """An ISO 8601 datetime as text: parsed later in the workspace's timezone."""

    def _deserialize(self, value, attr, data, **kwargs):
        from datetime import datetime
        text = super()._deserialize(value, attr, data, **kwargs)
        try:
            datetime.fromisoformat(text[:-1] + "+00:00" if text.endswith("Z") else text)
        except ValueError:
            raise ma.ValidationError("not an ISO 8601 datetime")
        return text


class RetryPolicySchema(ma.Schema):
    strategy = ma.fields.String(validate=ma.validate.OneOf(("none", "fixed", "linear", "exponential")))
    base_delay = ma.fields.Float(validate=ma.validate.Range(min=0, max=86400 * 7))
    max_delay = ma.fields.Float(validate=ma.validate.Range(min=0, max=86400 * 30))
    max_attempts = ma.fields.Integer(validate=ma.validate.Range(min=1, max=100))
