"""Instagram: Business Login for Instagram, containers fetched from signed public links, then published.

See ``publisher.py`` and docs/platforms/instagram.md. Graph API errors are read by
``schedulerx_plugins.facebook.graph`` (Meta's shared error codes).
"""
from __future__ import annotations

from schedulerx import hookimpl

from .publisher import InstagramPublisher


@hookimpl
def register_publishers():
    return [InstagramPublisher]
