"""The offline AI provider: no network, no model, deterministic. The default everywhere.

Titles come from the topic or the file name, descriptions from the template's
blocks, hashtags from YAKE keyword extraction (see ``provider.py``).
"""
from __future__ import annotations

from schedulerx import hookimpl

from .provider import OfflineProvider


@hookimpl
def register_ai_providers():
    return [OfflineProvider]
