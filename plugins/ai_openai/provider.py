"""``POST {base_url}/chat/completions`` with structured (JSON) output, retries and backoff.

The request: ``Authorization: Bearer <api key>`` (left out when no key is set, as
Ollama and LM Studio need none), ``model``, ``messages`` (system, user, and on a
second try the rejected answer and the correction), ``response_format`` — a JSON
Schema (``json_schema``, the default), ``{"type": "json_object"}`` for servers
without schema support, or nothing — and ``temperature``/``max_tokens`` when set.

Retried with exponential backoff: connection errors, timeouts, 429 (no sooner than
``Retry-After``), 5xx. Not retried: 401/403 (the key) and other 4xx (the request).
Token usage is read from ``usage`` (``prompt_tokens``, ``completion_tokens``).
"""
from __future__ import annotations

import time

import httpx
import marshmallow
from marshmallow import fields, validate

from schedulerx.ai.providers import (AIProvider, AIRequest, Completion, ProviderAuthError,
                                     ProviderError, ProviderRateLimited, ProviderTimeout)

RETRY_AFTER_MAX = 30.0  # seconds: never sleep longer on one Retry-After


class OpenAISettings(marshmallow.Schema):
    base_url = fields.Url(load_default="https://api.openai.com/v1", schemes={"http", "https"},
                          require_tld=False, metadata={
        "label": "Base URL", "description": "e.g. https://api.openai.com/v1, "
        "http://127.0.0.1:11434/v1 (Ollama), http://127.0.0.1:1234/v1 (LM Studio), "
        "https://openrouter.ai/api/v1"})
    model = fields.String(required=True, validate=validate.Length(min=1, max=200),
                          metadata={"label": "Model", "description": "e.g. gpt-4o-mini, llama3.1"})
    api_key = fields.String(load_default="", validate=validate.Length(max=500),
                            metadata={"label": "API key", "description": "empty for servers without keys"})
    timeout = fields.Float(load_default=60.0, validate=validate.Range(min=1, max=600),
                           metadata={"label": "Timeout (seconds)", "description": "per request"})
    max_retries = fields.Integer(load_default=2, validate=validate.Range(min=0, max=5),
                                 metadata={"label": "Retries"})
    backoff = fields.Float(load_default=1.0, validate=validate.Range(min=0, max=60), metadata={
        "label": "Backoff (seconds)", "description": "wait before the first retry; doubles each time"})
    structured_output = fields.String(load_default="json_schema", validate=validate.OneOf(
        ["json_schema", "json_object", "none"]), metadata={
        "label": "Structured output", "description": "json_schema where the server supports it"})
    temperature = fields.Float(load_default=None, allow_none=True, validate=validate.Range(min=0, max=2))

    @marshmallow.validates("base_url")
    def no_credentials_in_url(self, value, **kwargs):
        if "@" in httpx.URL(value).netloc.decode():
            raise marshmallow.ValidationError("put the key in API key, not in the URL")


def _retry_after(response: httpx.Response) -> float | None:
    try:
        return min(max(float(response.headers.get("Retry-After", "")), 0.0), RETRY_AFTER_MAX)
    except ValueError:
        return None


def _error_text(response: httpx.Response) -> str:
    try:
        err = response.json().get("error")
        if isinstance(err, dict):
            return str(err.get("message") or err)
        if err:
            return str(err)
    except (ValueError, AttributeError):
        pass
    return response.text[:300] or response.reason_phrase


class OpenAICompatibleProvider(AIProvider):
    name = "openai"
    label = "OpenAI-compatible API"
    settings_schema = OpenAISettings
    secret_fields = ("api_key",)

    def body(self, request: AIRequest) -> dict:
        s = self.settings
        body = {"model": request.model or s["model"], "messages": request.messages}
        if s["structured_output"] == "json_schema":
            body["response_format"] = {"type": "json_schema", "json_schema": {
                "name": f"schedulerx_{request.purpose}", "schema": request.output_schema,
                "strict": True}}
        elif s["structured_output"] == "json_object":
            body["response_format"] = {"type": "json_object"}
        temperature = request.params.get("temperature", s.get("temperature"))
        if temperature is not None:
            body["temperature"] = temperature
        if request.params.get("max_tokens") is not None:
            body["max_tokens"] = request.params["max_tokens"]
        return body

    def complete(self, request: AIRequest) -> Completion:
        s = self.settings
        url = s["base_url"].rstrip("/") + "/chat/completions"
        headers = {"Authorization": f"Bearer {s['api_key']}"} if s["api_key"] else {}
        # A request's own timeout (test-prompt) bounds the whole call, retries included.
        budget = request.timeout
        deadline = time.monotonic() + budget if budget else None
        body = self.body(request)
        attempts = s["max_retries"] + 1
        with httpx.Client(trust_env=False) as client:
            for attempt in range(attempts):
                per_try = s["timeout"] if deadline is None else max(0.1, deadline - time.monotonic())
                wait = s["backoff"] * 2 ** attempt
                try:
                    response = client.post(url, json=body, headers=headers,
                                           timeout=httpx.Timeout(per_try, connect=min(per_try, 10.0)))
                except httpx.TimeoutException as exc:
                    error = ProviderTimeout(f"{url} did not answer within {per_try:.0f} s ({type(exc).__name__})")
                except httpx.TransportError as exc:
                    error = ProviderError(f"cannot reach {url}: {exc}")
                else:
                    if response.status_code == 200:
                        return self._completion(response)
                    text = _error_text(response)
                    if response.status_code in (401, 403):
                        raise ProviderAuthError(f"{url} refused the API key ({response.status_code}): {text}",
                                                raw=response.text)
                    if response.status_code == 429:
                        error = ProviderRateLimited(f"rate limited by {url}: {text}", raw=response.text)
                        wait = max(wait, _retry_after(response) or 0)
                    elif response.status_code >= 500:
                        error = ProviderError(f"{url} answered {response.status_code}: {text}",
                                              raw=response.text)
                    else:
                        raise ProviderError(f"{url} refused the request ({response.status_code}): {text}",
                                            raw=response.text)
                last = attempt == attempts - 1
                if last or (deadline is not None and time.monotonic() + wait >= deadline):
                    raise error
                time.sleep(wait)
        raise AssertionError("unreachable")

    def _completion(self, response: httpx.Response) -> Completion:
        try:
            data = response.json()
            message = data["choices"][0]["message"]
        except (ValueError, KeyError, IndexError, TypeError):
            raise ProviderError("the answer is not a chat completion", raw=response.text)
        content = message.get("content")
        if not isinstance(content, str):
            refusal = message.get("refusal")
            raise ProviderError(f"the model refused: {refusal}" if refusal else
                                "the answer has no text content", raw=data)
        usage = data.get("usage") or {}
        return Completion(text=content, model=data.get("model") or self.settings["model"],
                          input_tokens=usage.get("prompt_tokens"),
                          output_tokens=usage.get("completion_tokens"), raw=data)
