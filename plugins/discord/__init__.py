"""Discord: a channel webhook URL; messages with attachments.

See ``publisher.py`` and docs/platforms/discord.md.
"""
from __future__ import annotations

from schedulerx import hookimpl

from .publisher import DiscordPublisher


@hookimpl
def register_publishers():
    return [DiscordPublisher]
