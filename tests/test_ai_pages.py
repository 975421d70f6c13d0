"""The AI page through the Flask test client: list, editor, versions, activation, test panel,
personas, preferences, provider settings."""
from __future__ import annotations

import re

import pytest

from schedulerx.ai import provider_settings
from schedulerx.models import AIProviderConfig, Persona, PromptTemplate

from .test_pages import csrf_of, login, text


@pytest.fixture
def page(client, owner):
    login(client)

    def get(path="/ai"):
        resp = client.get(path)
        assert resp.status_code == 200, text(resp)
        return text(resp)

    def post(path, **data):
        token = csrf_of(get())
        return client.post(path, data={"csrf_token": token, **data})
    get.post = post
    return get


def test_the_ai_page_renders_with_editor_variables_and_providers(page):
    html = page()
    assert re.search(r'class="nav-item active" href="/ai"', html)
    assert "Not built yet" not in html
    assert "New metadata template" in html and "{% block description %}" in html
    for name in ("topic", "title_hint", "file_name", "media", "platforms", "persona", "tone", "language"):
        assert f"{{{{ {name} }}}}" in html
    for label in ("Offline (no network, no model)", "OpenAI-compatible API", "Anthropic (Claude)"):
        assert label in html
    assert "built-in default in use" in html and "No AI call yet." in html


def test_create_edit_activate_restore_through_the_forms(page):
    r = page.post("/ai/templates", name="Short", purpose="metadata",
                  body="{% block description %}Short: {{ topic }}{% endblock %}")
    assert r.status_code == 302
    t = PromptTemplate.get()
    html = page(f"/ai?template={t.id}")
    assert "Short" in html and "version 1" in html and "Activate" in html
    r = page.post(f"/ai/templates/{t.id}", name="Short", body="{% block description %}Brief: {{ topic }}{% endblock %}")
    assert r.status_code == 302 and PromptTemplate.get().version == 2
    html = page(f"/ai?template={t.id}")
    assert "v1" in html and "v2" in html and "Restore" in html
    assert page.post(f"/ai/templates/{t.id}/activate").status_code == 302
    assert PromptTemplate.get().is_active
    assert "badge badge-published\">active" in page(f"/ai?template={t.id}")
    assert page.post(f"/ai/templates/{t.id}/restore", version="1").status_code == 302
    assert PromptTemplate.get().version == 3 and "Short:" in PromptTemplate.get().body


def test_sandbox_escape_in_the_editor_is_refused(page):
    r = page.post("/ai/templates", name="evil", purpose="metadata", body="{{ ''.__class__.__mro__ }}")
    assert r.status_code == 422
    assert "the sandbox forbids" in text(r) and PromptTemplate.select().count() == 0


def test_the_test_panel_shows_the_rendered_prompt_and_the_answer(page):
    r = page.post("/ai/test", purpose="metadata", topic="sourdough bread",
                  body="Write about {{ topic }}.{% block description %}Bake {{ topic }}.{% endblock %}")
    assert r.status_code == 200
    html = text(r)
    assert "Rendered prompt" in html and "Write about sourdough bread." in html
    assert "Bake sourdough bread." in html and "valid" in html and "offline" in html


def test_personas_preferences_and_provider_settings(page, rt, owner):
    assert page.post("/ai/personas", preset="pr").status_code == 302
    assert Persona.get().name == "PR professional"
    r = page.post("/ai/providers/openai", **{"s.openai.model": "llama3.1",
                                               "s.openai.base_url": "http://127.0.0.1:11434/v1",
                                               "s.openai.api_key": "sk-page", "make_default": "1"})
    assert r.status_code == 302, text(r)
    row = AIProviderConfig.get()
    assert row.settings["model"] == "llama3.1" and "sk-page" not in row.credentials
    assert provider_settings.preferences(owner[1].__class__.get_by_id(owner[1].id))["default_provider"] == "openai"
    r = page.post("/ai/providers/openai", **{"s.openai.base_url": "ftp://nope"})
    assert r.status_code == 422
    r = page.post("/ai/settings", default_provider="offline", auto_generate="1", language="de",
                  persona_id=str(Persona.get().id))
    assert r.status_code == 302
    prefs = provider_settings.preferences(owner[1].__class__.get_by_id(owner[1].id))
    assert prefs["auto_generate"] and prefs["language"] == "de" and prefs["persona_id"] == Persona.get().id
