"""Domain errors. The web layer maps each to one HTTP status and the API error body."""
from __future__ import annotations


class SchedulerXError(Exception):
    status = 400
    code = "bad_request"

    def __init__(self, message: str, *, field: str | None = None, errors: dict | None = None):
        super().__init__(message)
        self.message = message
        self.errors = errors or ({field: [message]} if field else {})


class ValidationError(SchedulerXError):
    status = 422
    code = "validation_error"


class TooLarge(ValidationError):
    status = 413
    code = "too_large"


class NotFound(SchedulerXError):
    status = 404
    code = "not_found"


class Conflict(SchedulerXError):
    """The object exists but is in a state that forbids the action."""
    status = 409
    code = "conflict"


class Forbidden(SchedulerXError):
    status = 403
    code = "forbidden"


class Unauthorized(SchedulerXError):
    status = 401
    code = "unauthorized"


class UpstreamError(SchedulerXError):
    """A platform could not be reached or answered in a way we cannot use."""
    status = 502
    code = "platform_error"
