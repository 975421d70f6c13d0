"""The offline provider's answers, built from the request's variables and template blocks.

* title: the template's ``title`` block, else the topic in title case (the file
  name ``python-functions-tutorial.mp4`` gives "Python Functions Tutorial");
* description / caption / script: the template's block of that name, else a
  sentence from the title;
* hashtags: the media's tags, then YAKE keywords of the topic and the post's text.

The answer goes through the same schema check as a model's.
"""
from __future__ import annotations

import json

from schedulerx.ai.providers import AIProvider, AIRequest, Completion

from .keywords import hashtags

MODEL = "offline-yake"


class OfflineProvider(AIProvider):
    name = "offline"
    label = "Offline (no network, no model)"
    offline = True

    def complete(self, request: AIRequest) -> Completion:
        v, blocks = request.variables, request.blocks
        title = blocks.get("title") or v.get("title_hint") or "Untitled"
        description = blocks.get("description") or blocks.get("caption") or f"{title}."
        media, post = v.get("media") or {}, v.get("post") or {}
        source = ". ".join(t for t in (v.get("topic", ""), post.get("body", "")) if t)
        tags = hashtags(source, v.get("language") or "en", first=media.get("tags", ()))
        answer = {
            "metadata": {"title": title, "description": description, "hashtags": tags},
            "caption": {"caption": blocks.get("caption") or description, "hashtags": tags},
            "hashtags": {"hashtags": tags or ["post"]},
            "script": {"title": title, "script": blocks.get("script") or
                       f"Hook: {title}.\nMain point: {v.get('topic', '')}.\nCall to action: follow for more."},
        }[request.purpose]
        text = json.dumps(answer, ensure_ascii=False)
        return Completion(text=text, model=MODEL, raw=answer)
