"""Schemas shared by several resources. Resource-specific ones live in their module."""
from __future__ import annotations

import marshmallow as ma
from flask import g

from schedulerx.timeutil import isoformat, parse_datetime, to_storage


class ErrorSchema(ma.Schema):
    """The error body of every 4xx and 5xx."""
    error_code = ma.fields.String(metadata={"description": "stable machine-readable code"})
    error_message = ma.fields.String(metadata={"description": "what went wrong, for people"})
    error_class = ma.fields.String(metadata={"description": "the kind of error"})
    errors = ma.fields.Dict(metadata={"description": "per-field problems"})


#: Ids are PostgreSQL SERIALs; a larger number cannot name a row (and overflows SQLite's
#: and PostgreSQL's integers: it must be a 422, not a 500).
MAX_ID = 2**31 - 1


def row_id(**kwargs) -> ma.fields.Integer:
    """An id given by the client (body or query): a positive integer in the ids' range."""
    return ma.fields.Integer(validate=ma.validate.Range(min=1, max=MAX_ID), **kwargs)


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


def workspace_time(text: str | None, field: str):
    """ISO text from a request → aware datetime; no offset means the workspace's timezone."""
    if text is None:
        return None
    return parse_datetime(text, g.workspace.timezone, field=field)


def stored_time(text: str | None, field: str):
    """Like ``workspace_time``, but naive UTC, to compare with stored columns."""
    when = workspace_time(text, field)
    return None if when is None else to_storage(when)


class RetryPolicySchema(ma.Schema):
    strategy = ma.fields.String(validate=ma.validate.OneOf(("none", "fixed", "linear", "exponential")))
    base_delay = ma.fields.Float(validate=ma.validate.Range(min=0, max=86400 * 7))
    max_delay = ma.fields.Float(validate=ma.validate.Range(min=0, max=86400 * 30))
    max_attempts = ma.fields.Integer(validate=ma.validate.Range(min=1, max=100))
