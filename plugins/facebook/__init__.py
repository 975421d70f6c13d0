"""Facebook Pages: Facebook Login, a Page's non-expiring token, posts through the Graph API.

See ``publisher.py``, ``graph.py`` (shared with the Instagram publisher) and
docs/platforms/facebook.md.
"""
from __future__ import annotations

from schedulerx import hookimpl

from .publisher import FacebookPublisher


@hookimpl
def register_publishers():
    return [FacebookPublisher]
