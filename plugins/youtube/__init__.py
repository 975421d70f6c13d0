"""YouTube: Google OAuth 2.0, videos.insert through the resumable upload protocol.

See ``publisher.py`` and docs/platforms/youtube.md.
"""
from __future__ import annotations

from schedulerx import hookimpl

from .publisher import YouTubePublisher


@hookimpl
def register_publishers():
    return [YouTubePublisher]
