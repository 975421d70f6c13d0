"""Fitting generated text into a platform's limits (``PlatformLimits``).

Text is cut at a word boundary when there is one in the second half of the room,
else at a grapheme boundary (``regex``'s ``\\X``): never inside a character, an
emoji sequence or a letter with its accents. A cut text ends with "…". Lengths
are counted in code points, or in graphemes where the platform counts those
(``count_graphemes``, e.g. Bluesky).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import regex

ELLIPSIS = "…"  # one code point, one grapheme
TITLE_MAX_DEFAULT = 500  # posts.TITLE_MAX: where a platform sets no title limit
_TRAILING = " \t\r\n,;:-–—"


def graphemes(text: str) -> list[str]:
    return regex.findall(r"\X", text)


def measure(text: str, count_graphemes: bool = False) -> int:
    return len(graphemes(text)) if count_graphemes else len(text)


def fit(text: str, limit: int | None, *, count_graphemes: bool = False) -> str:
    """``text`` when it fits ``limit``, else its longest clean cut plus "…"."""
    text = (text or "").strip()
    if limit is None or measure(text, count_graphemes) <= limit:
        return text
    if limit <= 0:
        return ""
    room, size, taken = limit - 1, 0, []
    clusters = graphemes(text)
    for cluster in clusters:
        width = 1 if count_graphemes else len(cluster)
        if size + width > room:
            break
        taken.append(cluster)
        size += width
    at_word_end = len(taken) < len(clusters) and clusters[len(taken)].isspace()
    if not at_word_end:
        spaces = [i for i, c in enumerate(taken) if c.isspace()]
        if spaces and spaces[-1] >= len(taken) // 2:
            taken = taken[:spaces[-1]]
    return "".join(taken).rstrip(_TRAILING) + ELLIPSIS


@dataclass
class PlatformVariant:
    platform: str
    title: str
    body: str
    hashtags: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {"platform": self.platform, "title": self.title, "body": self.body,
                "hashtags": list(self.hashtags)}


def variant(platform: str, limits, title: str, description: str,
            hashtags: list[str]) -> PlatformVariant:
    """Title, text and hashtags for one platform, within its ``PlatformLimits``.

    Hashtags go at the end of the text, as many as the platform allows and as fit
    in a third of the text's room; the description takes the rest.
    """
    g = limits.count_graphemes
    tags = list(hashtags)
    if limits.hashtags_max is not None:
        tags = tags[:limits.hashtags_max]
    sep = "\n\n"
    if limits.text_max is not None:
        budget, line, kept = limits.text_max // 3, "", []
        for tag in tags:
            candidate = f"{line} #{tag}".strip()
            if measure(sep + candidate, g) > budget:
                break
            line, kept = candidate, kept + [tag]
        tags = kept
    line = " ".join(f"#{t}" for t in tags)
    room = None if limits.text_max is None else limits.text_max - (measure(sep + line, g) if line else 0)
    text = fit(description, room, count_graphemes=g)
    body = f"{text}{sep}{line}" if text and line else (text or line)
    return PlatformVariant(platform, fit(title, limits.title_max or TITLE_MAX_DEFAULT,
                                         count_graphemes=g), body, tags)
