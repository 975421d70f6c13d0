"""Mastodon: an instance URL and an access token; statuses with media, exactly once.

See ``publisher.py`` and docs/platforms/mastodon.md.
"""
from __future__ import annotations

from schedulerx import hookimpl

from .publisher import MastodonPublisher


@hookimpl
def register_publishers():
    return [MastodonPublisher]
