"""Anthropic's Messages API through the official SDK: the optional extra ``anthropic``.

Without the SDK (``pip install 'schedulerx[anthropic]'``) the provider is listed
but not enabled, and choosing it is refused with that advice.
"""
from __future__ import annotations

from schedulerx import hookimpl

from .provider import AnthropicProvider


@hookimpl
def register_ai_providers():
    return [AnthropicProvider]
