"""Bluesky: a handle and an app password; posts written under a record key of our own, exactly once.

See ``publisher.py`` and docs/platforms/bluesky.md.
"""
from __future__ import annotations

from schedulerx import hookimpl

from .publisher import BlueskyPublisher


@hookimpl
def register_publishers():
    return [BlueskyPublisher]
