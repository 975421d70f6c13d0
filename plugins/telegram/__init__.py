"""Telegram: a bot token and a chat; messages, photos, videos and albums through the Bot API.

See ``publisher.py`` and docs/platforms/telegram.md.
"""
from __future__ import annotations

from schedulerx import hookimpl

from .publisher import TelegramPublisher


@hookimpl
def register_publishers():
    return [TelegramPublisher]
