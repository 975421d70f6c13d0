"""X (Twitter): OAuth 2.0 with PKCE, posts through API v2, chunked media upload.

See ``publisher.py`` and docs/platforms/x.md.
"""
from __future__ import annotations

from schedulerx import hookimpl

from .publisher import XPublisher


@hookimpl
def register_publishers():
    return [XPublisher]
