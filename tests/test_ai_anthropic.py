"""The Anthropic provider (the official SDK, the ``anthropic`` extra) against a fake Messages
API on 127.0.0.1. This checks the request shape and our handling of answers and errors as
documented; it is not a test against Anthropic's service."""
from __future__ import annotations

import pytest

from schedulerx.ai import generation, provider_settings
from schedulerx.ai.providers import ProviderAuthError, ProviderError, ProviderRateLimited
from schedulerx.models import AICall

from .ai_fakes import FakeAnthropic


@pytest.fixture
def fake():
    with FakeAnthropic() as f:
        yield f


def configure(rt, ws, fake, **settings):
    provider_settings.save(rt.config, rt.pm, ws.id, "anthropic", {
        "base_url": fake.url, "model": fake.model, "api_key": fake.key, "max_retries": 0,
        **settings})


def test_messages_request_shape_and_tool_answer(rt, owner, fake):
    ws = owner[1]
    configure(rt, ws, fake, max_tokens=500)
    g = generation.generate(rt.config, rt.pm, ws.id, topic="python functions tutorial",
                            provider="anthropic", platforms=["localfeed"])
    [req] = fake.requests
    h, body = req["headers"], req["body"]
    assert "sk-ant-test" in (h.get("x-api-key"), h.get("Authorization", "")[7:])
    assert h["anthropic-version"]
    assert body["model"] == "claude-test" and body["max_tokens"] == 500
    assert body["system"].startswith("You write social media content")
    assert body["messages"][0]["role"] == "user" and "Topic: python functions tutorial" in body["messages"][0]["content"]
    assert body["tools"][0]["input_schema"]["required"] == ["title", "description", "hashtags"]
    assert body["tool_choice"] == {"type": "tool", "name": body["tools"][0]["name"]}
    assert (g.title, g.provider, g.model) == ("PYTHON FUNCTIONS TUTORIAL", "anthropic", "claude-test")
    [call] = AICall.select()
    assert call.output_tokens == 21 and call.input_tokens > 0 and '"tool_use"' in call.raw_answer


def test_a_text_answer_that_is_not_json_is_asked_again(rt, owner, fake):
    configure(rt, owner[1], fake)
    fake.script = [("content", "I cannot use tools today")]
    g = generation.generate(rt.config, rt.pm, owner[1].id, topic="knots", provider="anthropic")
    assert g.title == "KNOTS" and len(fake.requests) == 2
    assert [m["role"] for m in fake.requests[1]["body"]["messages"]] == ["user", "assistant", "user"]


def test_errors_map_to_provider_errors(rt, owner, fake):
    ws = owner[1]
    configure(rt, ws, fake)
    fake.script = [("status", 429)]
    with pytest.raises(ProviderRateLimited):
        generation.generate(rt.config, rt.pm, ws.id, topic="x", provider="anthropic")
    fake.script = [("status", 529)]
    with pytest.raises(ProviderError, match="529"):
        generation.generate(rt.config, rt.pm, ws.id, topic="x", provider="anthropic")
    provider_settings.save(rt.config, rt.pm, ws.id, "anthropic", {"api_key": "wrong"})
    with pytest.raises(ProviderAuthError):
        generation.generate(rt.config, rt.pm, ws.id, topic="x", provider="anthropic")


def test_without_the_sdk_the_provider_is_listed_but_refused(api, rt, monkeypatch):
    from schedulerx_plugins.ai_anthropic.provider import AnthropicProvider
    monkeypatch.setattr(AnthropicProvider, "enabled", classmethod(lambda cls: False))
    listed = {p["name"]: p for p in api.get("/ai/providers").json}
    assert listed["anthropic"]["enabled"] is False
    r = api.put("/ai/providers/anthropic", json={"settings": {"api_key": "k", "model": "m"}})
    assert r.status_code == 422 and "optional dependency" in r.json["error_message"]
