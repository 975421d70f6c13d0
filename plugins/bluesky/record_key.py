"""The record key of a publication's post: a TID made from its idempotency key.

``app.bsky.feed.post`` records are keyed by TIDs (https://atproto.com/specs/tid):
13 characters of base32-sortable, a 64-bit number whose top bit is 0. Deriving
the key from the publication's idempotency key makes every try of one
publication write the same record (``putRecord`` on an existing key updates it,
it never adds a second post), and lets ``reconcile`` ask for exactly that record.

The 63 bits come from SHA-256, so the "timestamp" part of this TID is not a
time; atproto says record keys may be anything the writer chose and must not be
trusted as times.
"""
from __future__ import annotations

import hashlib
import re

ALPHABET = "234567abcdefghijklmnopqrstuvwxyz"  # base32-sortable
TID = re.compile(r"[234567abcdefghij][234567abcdefghijklmnopqrstuvwxyz]{12}\Z")


def record_key(idempotency_key: str) -> str:
    """The TID-syntax record key of the publication with this idempotency key."""
    digest = hashlib.sha256(b"schedulerx/bluesky/rkey\0" + idempotency_key.encode()).digest()
    n = int.from_bytes(digest[:8], "big") & ((1 << 63) - 1)
    return "".join(ALPHABET[(n >> (5 * i)) & 31] for i in reversed(range(13)))


def is_tid(value: str) -> bool:
    return bool(TID.match(value or ""))
