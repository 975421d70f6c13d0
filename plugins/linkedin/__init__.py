"""LinkedIn: OAuth 2.0 (three-legged), member posts through the versioned Posts API, image and video uploads.

See ``publisher.py`` and docs/platforms/linkedin.md.
"""
from __future__ import annotations

from schedulerx import hookimpl

from .publisher import LinkedInPublisher


@hookimpl
def register_publishers():
    return [LinkedInPublisher]
