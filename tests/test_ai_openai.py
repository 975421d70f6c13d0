"""The OpenAI-compatible provider against a fake chat-completions server on 127.0.0.1."""
from __future__ import annotations

import json

import pytest

from schedulerx.ai import generation, provider_settings
from schedulerx.ai.providers import (InvalidOutput, ProviderAuthError, ProviderError,
                                     ProviderRateLimited, ProviderTimeout)
from schedulerx.models import AICall, AIProviderConfig

from .ai_fakes import FakeOpenAI
from .api_support import assert_error


@pytest.fixture
def fake():
    with FakeOpenAI() as f:
        yield f


@pytest.fixture
def ws(owner):
    return owner[1]


def configure(rt, ws, fake, **settings):
    provider_settings.save(rt.config, rt.pm, ws.id, "openai", {
        "base_url": fake.url, "model": fake.model, "api_key": fake.key or "", "backoff": 0,
        "max_retries": 2, **settings})
    provider_settings.set_preferences(rt.config, rt.pm, ws.id, {"default_provider": "openai"})


def gen(rt, ws, **kw):
    return generation.generate(rt.config, rt.pm, ws.id, topic="python functions tutorial",
                               platforms=["localfeed"], **kw)


def test_request_shape_answer_and_usage_are_recorded(rt, ws, fake):
    configure(rt, ws, fake, temperature=0.3)
    g = gen(rt, ws)
    [req] = fake.requests
    body = req["body"]
    assert req["headers"]["Authorization"] == "Bearer sk-test-key"
    assert body["model"] == "gpt-test" and body["temperature"] == 0.3
    assert [m["role"] for m in body["messages"]] == ["system", "user"]
    assert "Topic: python functions tutorial" in body["messages"][1]["content"]
    schema = body["response_format"]["json_schema"]
    assert schema["name"] == "schedulerx_metadata" and schema["strict"] is True
    assert schema["schema"]["required"] == ["title", "description", "hashtags"]
    assert g.title == "PYTHON FUNCTIONS TUTORIAL" and g.hashtags == ["fake", "ModelAnswer"]
    assert (g.provider, g.model) == ("openai", "gpt-test")
    [call] = AICall.select()
    assert call.status == "ok" and call.input_tokens == len(body["messages"][1]["content"].split())
    assert call.output_tokens == 17 and json.loads(call.raw_answer)["id"] == "chatcmpl-1"
    assert call.prompt == body["messages"][1]["content"] and call.latency_ms >= 0


def test_the_api_key_is_encrypted_at_rest(rt, ws, fake):
    configure(rt, ws, fake)
    row = AIProviderConfig.get()
    assert "sk-test-key" not in row.credentials and "api_key" not in row.settings
    assert provider_settings.settings_of(rt.config, ws.id, "openai")["api_key"] == "sk-test-key"


def test_no_key_means_no_authorization_header(rt, ws):
    with FakeOpenAI(key=None, model="llama3.1") as ollama:
        configure(rt, ws, ollama)
        assert gen(rt, ws).title == "PYTHON FUNCTIONS TUTORIAL"
        assert "Authorization" not in ollama.requests[0]["headers"]


def test_json_object_mode_for_servers_without_schemas(rt, ws):
    with FakeOpenAI(response_format="json_object") as f:
        configure(rt, ws, f, structured_output="json_object")
        gen(rt, ws)
        assert f.requests[0]["body"]["response_format"] == {"type": "json_object"}


def test_5xx_and_429_are_retried_then_succeed(rt, ws, fake):
    configure(rt, ws, fake)
    fake.script = [("status", 503), ("status", 429, {"Retry-After": "0"})]
    assert gen(rt, ws).title == "PYTHON FUNCTIONS TUTORIAL"
    assert len(fake.requests) == 3
    assert AICall.select().count() == 1  # one generation call; retries are the provider's


def test_errors_after_the_retries_are_clear(rt, ws, fake):
    configure(rt, ws, fake, max_retries=1)
    fake.script = [("status", 500), ("status", 502)]
    with pytest.raises(ProviderError, match="answered 502"):
        gen(rt, ws)
    fake.script = [("status", 429, {"Retry-After": "0"})] * 2
    with pytest.raises(ProviderRateLimited):
        gen(rt, ws)
    [*_, call] = AICall.select().order_by(AICall.id)
    assert call.status == "error" and "ai_rate_limited" in call.error and "scripted 429" in call.raw_answer


def test_a_wrong_key_is_not_retried(rt, ws, fake):
    configure(rt, ws, fake)
    provider_settings.save(rt.config, rt.pm, ws.id, "openai", {"api_key": "sk-wrong"})
    with pytest.raises(ProviderAuthError, match="refused the API key"):
        gen(rt, ws)
    assert fake.rejected == [(401, "Incorrect API key provided")] and fake.requests == []


def test_a_slow_answer_times_out(rt, ws, fake):
    configure(rt, ws, fake, timeout=1, max_retries=0)
    fake.script = [("slow", 3)]
    with pytest.raises(ProviderTimeout):
        gen(rt, ws)


def test_invalid_json_is_asked_again_once_with_the_problem(rt, ws, fake):
    configure(rt, ws, fake)
    fake.script = [("content", "Sure! Here is your title: Python rocks")]
    g = gen(rt, ws)
    assert g.title == "PYTHON FUNCTIONS TUTORIAL" and len(g.call_ids) == 2
    retry = fake.requests[1]["body"]["messages"]
    assert [m["role"] for m in retry] == ["system", "user", "assistant", "user"]
    assert "not a JSON object" in retry[3]["content"]
    assert [c.status for c in AICall.select().order_by(AICall.id)] == ["invalid", "ok"]


def test_invalid_twice_fails_with_a_clear_error(rt, ws, fake):
    configure(rt, ws, fake)
    fake.script = [("content", "no json"), ("content", json.dumps({"title": "only a title"}))]
    with pytest.raises(InvalidOutput, match="'description' must be a non-empty string"):
        gen(rt, ws)


def test_repairable_answers_are_repaired_without_a_second_call(rt, ws, fake):
    configure(rt, ws, fake)
    fake.script = [("content", '```json\n{"title": "T", "body": "B", "tags": "#a, #b c"}\n```')]
    g = gen(rt, ws)
    assert (g.title, g.description, g.hashtags) == ("T", "B", ["a", "b", "c"])
    assert len(fake.requests) == 1


def test_a_body_that_is_not_json_is_a_provider_error(rt, ws, fake):
    configure(rt, ws, fake, max_retries=0)
    fake.script = [("garbage",)]
    with pytest.raises(ProviderError, match="not a chat completion"):
        gen(rt, ws)


def test_provider_errors_through_the_api(api, rt, owner, fake):
    configure(rt, owner[1], fake, max_retries=0)
    fake.script = [("status", 500)]
    r = api.post("/ai/test-prompt", json={"purpose": "metadata", "timeout": 10})
    assert_error(r, 502, "ai_provider_error")
    fake.script = [("status", 429)]
    assert_error(api.post("/ai/test-prompt", json={}), 429, "ai_rate_limited")
    fake.script = [("slow", 3)]
    assert_error(api.post("/ai/test-prompt", json={"timeout": 1}), 504, "ai_provider_timeout")
    r = api.post("/ai/test-prompt", json={"topic": "cats"})
    assert r.status_code == 200 and r.json["output"]["title"] == "CATS"
    assert r.json["usage"]["output_tokens"] == 17 and r.json["valid"] is True
