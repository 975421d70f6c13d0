"""OpenAI-compatible chat completions over HTTP: OpenAI, Ollama, vLLM, LM Studio, OpenRouter."""
from __future__ import annotations

from schedulerx import hookimpl

from .provider import OpenAICompatibleProvider


@hookimpl
def register_ai_providers():
    return [OpenAICompatibleProvider]
