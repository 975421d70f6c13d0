"""The answer's schema per purpose, and reading a provider's answer: parse, repair, validate.

Repairs are the harmless, common slips of models: a Markdown code fence or prose
around the JSON, ``tags`` for ``hashtags``, hashtags as one string, ``#`` signs,
duplicates. Anything else is a problem; the caller retries once, then fails.
"""
from __future__ import annotations

import json
import re

HASHTAGS_MAX = 30
HASHTAG_LEN_MAX = 100

_STR = {"type": "string"}
_TAGS = {"type": "array", "items": {"type": "string"}}
_FIELDS = {
    "metadata": {"title": _STR, "description": _STR, "hashtags": _TAGS},
    "caption": {"caption": _STR, "hashtags": _TAGS},
    "hashtags": {"hashtags": _TAGS},
    "script": {"title": _STR, "script": _STR},
}
_ALIASES = {"tags": "hashtags", "body": "description", "text": "description",
            "summary": "description"}


def schema(purpose: str) -> dict:
    """JSON Schema of the answer for ``purpose`` (sent to providers that take one)."""
    props = _FIELDS[purpose]
    return {"type": "object", "properties": props, "required": list(props),
            "additionalProperties": False}


def system_prompt(purpose: str) -> str:
    keys = ", ".join(f'"{k}"' for k in _FIELDS[purpose])
    return ("You write social media content. Answer with one JSON object with exactly the keys "
            f"{keys} and nothing else: no Markdown, no comments.")


def hashtag(text: str) -> str:
    """``#Python functions`` → ``PythonFunctions``: letters, digits and _ only."""
    words = [w for w in re.split(r"[\W]+", str(text)) if w]
    if len(words) > 1:
        words = [w if w != w.lower() else w[:1].upper() + w[1:] for w in words]
    return "".join(words)[:HASHTAG_LEN_MAX]


def clean_hashtags(value) -> list[str]:
    if isinstance(value, str):
        value = re.split(r"[\s,]+", value)
    out, seen = [], set()
    for item in value or ():
        tag = hashtag(item) if isinstance(item, str) else ""
        if tag and tag.casefold() not in seen:
            seen.add(tag.casefold())
            out.append(tag)
    return out[:HASHTAGS_MAX]


def _json_object(text: str):
    text = (text or "").strip()
    fenced = re.search(r"```(?:json)?\s*(.*?)```", text, flags=re.S)
    if fenced:
        text = fenced.group(1).strip()
    if not text.startswith("{"):
        start, end = text.find("{"), text.rfind("}")
        if start == -1 or end < start:
            return None
        text = text[start:end + 1]
    try:
        return json.loads(text)
    except ValueError:
        return None


def read(purpose: str, text: str | dict) -> tuple[dict | None, list[str]]:
    """The answer as a clean dict, or None with the problems found."""
    data = text if isinstance(text, dict) else _json_object(text)
    if not isinstance(data, dict):
        return None, ["the answer is not a JSON object"]
    fields = _FIELDS[purpose]
    for alias, name in _ALIASES.items():
        if name in fields and name not in data and alias in data:
            data[name] = data[alias]
    out, problems = {}, []
    for name, spec in fields.items():
        value = data.get(name)
        if spec is _TAGS:
            if not isinstance(value, (list, str)):
                problems.append(f"'{name}' must be a list of strings")
                continue
            out[name] = clean_hashtags(value)
            if purpose == "hashtags" and not out[name]:
                problems.append("'hashtags' is empty")
        elif not isinstance(value, str) or not value.strip():
            problems.append(f"'{name}' must be a non-empty string")
        else:
            out[name] = value.strip()
    return (None, problems) if problems else (out, [])
