"""Rich text facets of a Bluesky post: links, mentions and hashtags at UTF-8 byte offsets.

Bluesky has no markup: a post's links, mentions and tags are ``facets`` that
point at byte ranges of the UTF-8 encoded text (start inclusive, end exclusive),
https://docs.bsky.app/docs/advanced-guides/post-richtext. Without them a link
is shown as plain text. The rules follow the reference parser of the official
client, narrowed to what is unambiguous:

* links: ``http://`` and ``https://`` URLs; a trailing ``.,;!?`` and an
  unbalanced ``)`` are not part of the link. Bare domains ("example.com") are not
  linked (the official client needs a list of every TLD for that).
* mentions: ``@handle.domain``; the handle is resolved to a DID by the caller,
  an unknown handle stays plain text.
* hashtags: ``#`` after a space or the start, not followed by a digit, trailing
  punctuation dropped, at most 64 graphemes.
"""
from __future__ import annotations

from typing import Callable

import regex

from schedulerx.publishers import grapheme_count

LINK = regex.compile(r"(?:^|(?<=[\s(]))(https?://\S+)")
MENTION = regex.compile(
    r"(?:^|(?<=[\s(]))(@((?:[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?\.)+"
    r"[a-zA-Z](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?))(?![\w.-]*\w)")
HASHTAG = regex.compile(r"(?:^|(?<=\s))(#[^\d\s]\S*)")
TRAILING_PUNCTUATION = regex.compile(r"\p{P}+\Z")
TAG_MAX_GRAPHEMES = 64

FACET = "app.bsky.richtext.facet"


def _byte_index(text: str, i: int) -> int:
    return len(text[:i].encode("utf-8"))


def _span(text: str, start: int, end: int) -> dict:
    return {"byteStart": _byte_index(text, start), "byteEnd": _byte_index(text, end)}


def links(text: str) -> list[tuple[int, int, str]]:
    """(start, end, uri) of each link, in characters."""
    found = []
    for m in LINK.finditer(text):
        uri, start = m.group(1), m.start(1)
        if uri[-1] in ".,;!?":
            uri = uri[:-1]
        if uri.endswith(")") and "(" not in uri:
            uri = uri[:-1]
        found.append((start, start + len(uri), uri))
    return found


def mentions(text: str) -> list[tuple[int, int, str]]:
    """(start, end, handle) of each mention, the ``@`` included in the span."""
    return [(m.start(1), m.end(1), m.group(2).lower()) for m in MENTION.finditer(text)]


def hashtags(text: str) -> list[tuple[int, int, str]]:
    """(start, end, tag) of each hashtag; the tag without its ``#``."""
    found = []
    for m in HASHTAG.finditer(text):
        tag = TRAILING_PUNCTUATION.sub("", m.group(1))
        if len(tag) < 2 or grapheme_count(tag[1:]) > TAG_MAX_GRAPHEMES:
            continue
        found.append((m.start(1), m.start(1) + len(tag), tag[1:]))
    return found


def facets(text: str, resolve_handle: Callable[[str], str | None]) -> list[dict]:
    """The facets of ``text``, sorted, never overlapping. ``resolve_handle(handle)`` → DID or None."""
    spans = []
    for start, end, uri in links(text):
        spans.append((start, end, {"$type": f"{FACET}#link", "uri": uri}))
    for start, end, handle in mentions(text):
        did = resolve_handle(handle)
        if did:
            spans.append((start, end, {"$type": f"{FACET}#mention", "did": did}))
    for start, end, tag in hashtags(text):
        spans.append((start, end, {"$type": f"{FACET}#tag", "tag": tag}))
    out, taken_until = [], 0
    for start, end, feature in sorted(spans, key=lambda s: s[0]):
        if start < taken_until:  # renderers drop overlapping facets: never send one
            continue
        out.append({"index": _span(text, start, end), "features": [feature]})
        taken_until = end
    return out
