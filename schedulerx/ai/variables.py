"""The variables every prompt template gets, documented once (docs, API, AI page)."""
from __future__ import annotations

import os
import re

from ..models import MediaAsset, Persona, Post

#: name → what it holds. Every template is rendered with all of them (None or "" when
#: not applicable), so ``{% if media %}`` is how a template asks whether there is one.
VARIABLES: dict[str, str] = {
    "purpose": "what is generated: metadata, caption, hashtags or script",
    "topic": "the topic given with the request; else words from the media file name "
             "(\"python functions tutorial\"); else the post's title",
    "title_hint": "the topic in title case (\"Python Functions Tutorial\")",
    "file_name": "the media file's name, or \"\"",
    "media": "the media asset or none: id, file_name, type (image/video/audio), mime, size, "
             "duration, width, height, tags, meta",
    "post": "the post being written for, or none: title, body, tags",
    "platforms": "the target platforms, each with name, label and limits (text_max, title_max, "
                 "hashtags_max, media_max_count, count_graphemes)",
    "platform": "the first target platform (same fields), or none",
    "persona": "the voice, or none: name, instructions, tone",
    "tone": "the tone asked for (the persona's when not given), or \"\"",
    "language": "the language to write in, e.g. \"en\"",
}

_SMALL_WORDS = {"a", "an", "and", "as", "at", "but", "by", "for", "in", "of", "on", "or",
                "the", "to", "vs", "with"}


def words_from_filename(filename: str) -> str:
    """``python-functions-tutorial.mp4`` → ``python functions tutorial``."""
    stem = os.path.splitext(os.path.basename(filename or ""))[0]
    stem = re.sub(r"(?<=[a-z])(?=[A-Z])", " ", stem)  # camelCase
    return " ".join(w for w in re.split(r"[\s_\-.+]+", stem) if w)


def title_case(text: str) -> str:
    """Title case that leaves words with capitals of their own (API, iPhone) alone."""
    out = []
    for i, word in enumerate(text.split()):
        if word != word.lower():
            out.append(word)
        elif i and word in _SMALL_WORDS:
            out.append(word)
        else:
            out.append(word[:1].upper() + word[1:])
    return " ".join(out)


def media_dict(asset: MediaAsset | None) -> dict | None:
    if asset is None:
        return None
    return {"id": asset.id, "file_name": asset.filename, "type": asset.mime.split("/", 1)[0],
            "mime": asset.mime, "size": asset.size, "duration": asset.duration,
            "width": asset.width, "height": asset.height, "tags": list(asset.tags or []),
            "meta": {k: v for k, v in (asset.meta or {}).items() if k != "ai"}}


def persona_dict(persona: Persona | None) -> dict | None:
    if persona is None:
        return None
    return {"name": persona.name, "instructions": persona.instructions, "tone": persona.tone}


def platform_dict(publisher_cls) -> dict:
    d = publisher_cls.descriptor
    return {"name": d.name, "label": d.label, "limits": d.limits.as_dict()}


def build(*, purpose: str, topic: str | None = None, media: MediaAsset | None = None,
          post: Post | None = None, platforms: list | tuple = (), persona: Persona | None = None,
          tone: str | None = None, language: str | None = None) -> dict:
    """The template context. ``platforms`` are publisher classes."""
    topic = (topic or "").strip()
    if not topic and media is not None:
        topic = words_from_filename(media.filename)
    if not topic and post is not None:
        topic = (post.title or post.body or "").strip()[:200]
    plats = [platform_dict(p) for p in platforms]
    pers = persona_dict(persona)
    return {
        "purpose": purpose,
        "topic": topic,
        "title_hint": title_case(topic),
        "file_name": media.filename if media is not None else "",
        "media": media_dict(media),
        "post": ({"title": post.title, "body": post.body, "tags": list(post.tags or [])}
                 if post is not None else None),
        "platforms": plats,
        "platform": plats[0] if plats else None,
        "persona": pers,
        "tone": (tone or (pers or {}).get("tone") or "").strip(),
        "language": (language or "en").strip(),
    }


def sample(purpose: str = "metadata") -> dict:
    """Variables for trying a template without a real media file (test-prompt's defaults)."""
    topic = "python functions tutorial"
    return {
        "purpose": purpose, "topic": topic, "title_hint": title_case(topic),
        "file_name": "python-functions-tutorial.mp4",
        "media": {"id": 0, "file_name": "python-functions-tutorial.mp4", "type": "video",
                  "mime": "video/mp4", "size": 48_000_000, "duration": 312.0, "width": 1920,
                  "height": 1080, "tags": ["python"], "meta": {}},
        "post": None, "platforms": [], "platform": None, "persona": None, "tone": "",
        "language": "en",
    }
