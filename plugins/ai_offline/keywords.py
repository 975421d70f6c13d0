"""Keyword extraction with YAKE (statistical, unsupervised; its stopword lists ship with it)."""
from __future__ import annotations

from functools import lru_cache

import yake

from schedulerx.ai.output import hashtag


@lru_cache(maxsize=16)
def _extractor(language: str, top: int) -> yake.KeywordExtractor:
    # Languages without a stopword list fall back to YAKE's language-neutral one.
    return yake.KeywordExtractor(lan=language[:2].lower(), n=2, top=top, dedupLim=0.9)


def keywords(text: str, language: str = "en", top: int = 10) -> list[str]:
    """Key words and two-word phrases of ``text``, most relevant first."""
    if not text.strip():
        return []
    return [kw for kw, _score in _extractor(language, top).extract_keywords(text)]


def hashtags(text: str, language: str = "en", limit: int = 6, first=()) -> list[str]:
    """Hashtags (no #): ``first`` (e.g. the media's own tags), then keywords by relevance."""
    out, seen = [], set()
    for item in (*first, *keywords(text, language, top=limit * 2)):
        tag = hashtag(item)
        if tag and tag.casefold() not in seen:
            seen.add(tag.casefold())
            out.append(tag)
    return out[:limit]
