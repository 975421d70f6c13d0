"""Webhook: publish a post by POSTing it, signed, as JSON to the account's URL.

See ``publisher.py`` for the receiver's contract (signature, Idempotency-Key,
answers) and ``targets.py`` for which addresses a webhook may reach.
"""
from __future__ import annotations

from schedulerx import hookimpl

from .publisher import WebhookPublisher


@hookimpl
def register_publishers():
    return [WebhookPublisher]
