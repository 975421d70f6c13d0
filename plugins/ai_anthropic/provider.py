"""Anthropic Messages API (``POST /v1/messages``) with a forced tool call as structured output.

The answer's JSON Schema is offered as the one tool, ``tool_choice`` forces it,
and the tool call's ``input`` is the answer. The SDK retries connection errors,
408/409/429 and 5xx with its own backoff (``max_retries``). Usage is read from
``usage.input_tokens`` / ``usage.output_tokens``.
"""
from __future__ import annotations

import importlib.util
import json

import marshmallow
from marshmallow import fields, validate

from schedulerx.ai.providers import (AIProvider, AIRequest, Completion, ProviderAuthError,
                                     ProviderError, ProviderRateLimited, ProviderTimeout)

TOOL = "answer"


class AnthropicSettings(marshmallow.Schema):
    api_key = fields.String(required=True, validate=validate.Length(min=1, max=500),
                            metadata={"label": "API key"})
    model = fields.String(required=True, validate=validate.Length(min=1, max=200),
                          metadata={"label": "Model", "description": "e.g. claude-sonnet-4-5"})
    base_url = fields.Url(load_default=None, allow_none=True, schemes={"http", "https"},
                          require_tld=False, metadata={
        "label": "Base URL", "description": "empty for Anthropic's own API"})
    max_tokens = fields.Integer(load_default=1024, validate=validate.Range(min=1, max=64000),
                                metadata={"label": "Max output tokens"})
    timeout = fields.Float(load_default=60.0, validate=validate.Range(min=1, max=600),
                           metadata={"label": "Timeout (seconds)"})
    max_retries = fields.Integer(load_default=2, validate=validate.Range(min=0, max=5),
                                 metadata={"label": "Retries"})


class AnthropicProvider(AIProvider):
    name = "anthropic"
    label = "Anthropic (Claude)"
    settings_schema = AnthropicSettings
    secret_fields = ("api_key",)

    @classmethod
    def enabled(cls) -> bool:
        return importlib.util.find_spec("anthropic") is not None

    def complete(self, request: AIRequest) -> Completion:
        import anthropic
        s = self.settings
        client = anthropic.Anthropic(api_key=s["api_key"], base_url=s["base_url"] or None,
                                     timeout=request.timeout or s["timeout"],
                                     max_retries=0 if request.timeout else s["max_retries"])
        messages = [{"role": "user", "content": request.prompt}, *request.history]
        kwargs = {}
        if request.params.get("temperature") is not None:
            kwargs["temperature"] = min(float(request.params["temperature"]), 1.0)
        try:
            message = client.messages.create(
                model=request.model or s["model"],
                max_tokens=request.params.get("max_tokens") or s["max_tokens"],
                system=request.system, messages=messages,
                tools=[{"name": TOOL, "description": f"Record the {request.purpose}.",
                        "input_schema": request.output_schema}],
                tool_choice={"type": "tool", "name": TOOL}, **kwargs)
        except anthropic.APITimeoutError as exc:
            raise ProviderTimeout(f"Anthropic did not answer in time: {exc}")
        except anthropic.RateLimitError as exc:
            raise ProviderRateLimited(f"rate limited by Anthropic: {exc.message}", raw=exc.body)
        except (anthropic.AuthenticationError, anthropic.PermissionDeniedError) as exc:
            raise ProviderAuthError(f"Anthropic refused the API key: {exc.message}", raw=exc.body)
        except anthropic.APIStatusError as exc:
            raise ProviderError(f"Anthropic answered {exc.status_code}: {exc.message}", raw=exc.body)
        except anthropic.APIConnectionError as exc:
            raise ProviderError(f"cannot reach Anthropic: {exc}")
        raw = message.model_dump(mode="json")
        calls = [b for b in message.content if b.type == "tool_use" and b.name == TOOL]
        if calls:
            text = json.dumps(calls[0].input, ensure_ascii=False)
        else:
            text = "".join(getattr(b, "text", "") for b in message.content)
        return Completion(text=text, model=message.model, input_tokens=message.usage.input_tokens,
                          output_tokens=message.usage.output_tokens, raw=raw)
