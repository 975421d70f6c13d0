"""TikTok: OAuth v2 (client key), Content Posting API Direct Post with chunked FILE_UPLOAD.

See ``publisher.py`` and docs/platforms/tiktok.md.
"""
from __future__ import annotations

from schedulerx import hookimpl

from .publisher import TikTokPublisher


@hookimpl
def register_publishers():
    return [TikTokPublisher]
