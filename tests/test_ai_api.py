"""The AI API end to end with the offline provider: templates, versions, activation, sandbox,
personas, provider settings, preferences, generation, call records, bad input."""
from __future__ import annotations

import pytest

from schedulerx.ai.fitting import measure
from schedulerx.models import AICall, PromptTemplate, PromptTemplateVersion

from .api_support import assert_error, mp4_bytes, upload

BODY = "Write about {{ topic }}.\n{% block description %}Learn {{ topic }} today.{% endblock %}"


def make_template(api, **fields):
    r = api.post("/ai/templates", json={"name": "Mine", "purpose": "metadata", "body": BODY,
                                        **fields})
    assert r.status_code == 201, r.json
    return r.json


def test_offline_generation_for_an_upload_end_to_end(api):
    media = upload(api, mp4_bytes(), "python-functions-tutorial.mp4").json
    r = api.post("/ai/generate", json={"media_id": media["id"]})
    assert r.status_code == 200, r.json
    assert r.json["status"] == "done" and r.json["job"] is None
    result = r.json["result"]
    assert result["title"] == "Python Functions Tutorial"
    assert result["description"].startswith("New video: Python Functions Tutorial.")
    assert {"python", "tutorial", "functions"} <= {t.lower() for t in result["hashtags"]}
    assert result["provider"] == "offline" and result["template"]["builtin"] is True
    platforms = {p["name"]: p for p in api.get("/platforms").json}
    assert {v["platform"] for v in result["variants"]} == set(platforms)
    for v in result["variants"]:
        assert "#python" in v["body"] and v["title"] == "Python Functions Tutorial"
    # Deterministic: the same input gives the same output.
    again = api.post("/ai/generate", json={"media_id": media["id"]}).json["result"]
    assert {k: again[k] for k in ("title", "description", "hashtags", "variants")} == \
        {k: result[k] for k in ("title", "description", "hashtags", "variants")}
    [call, _] = AICall.select().order_by(AICall.id)
    assert call.provider == "offline" and call.status == "ok" and "python-functions-tutorial.mp4" in call.prompt
    calls = api.get("/ai/calls").json
    assert calls["total"] == 2 and calls["items"][0]["raw_answer"]


def test_apply_writes_into_the_post_and_the_media(api):
    media = upload(api, mp4_bytes(), "garden-tour.mp4").json
    api.post("/ai/generate", json={"media_id": media["id"], "apply": True})
    assert api.get(f"/media/{media['id']}").json["meta"]["ai"]["title"] == "Garden Tour"
    post = api.post("/posts", json={"title": "x", "body": "Our sourdough bread recipe, step by step",
                                    "variants": [{"platform": "webhook", "body": "keep me? no"}]}).json
    r = api.post("/ai/generate", json={"post_id": post["id"], "platforms": ["localfeed"],
                                       "apply": True})
    assert r.status_code == 200, r.json
    after = api.get(f"/posts/{post['id']}").json
    assert after["title"] == "X" and after["tags"] == r.json["result"]["hashtags"]
    assert {v["platform"] for v in after["variants"]} == {"webhook", "localfeed"}
    assert after["ai_metadata"]["provider"] == "offline"
    assert any("sourdough" in t.lower() for t in after["tags"])


def test_templates_versions_are_kept_on_every_edit(api):
    t = make_template(api)
    assert t["version"] == 1 and t["is_active"] is False
    for i in range(2, 5):
        r = api.put(f"/ai/templates/{t['id']}", json={"body": BODY + f"\nedit {i}"})
        assert r.status_code == 200 and r.json["version"] == i
    same = api.put(f"/ai/templates/{t['id']}", json={"body": BODY + "\nedit 4"})
    assert same.json["version"] == 4  # nothing changed: no new version
    renamed = api.put(f"/ai/templates/{t['id']}", json={"name": "Renamed"}).json
    assert renamed["version"] == 5 and renamed["body"].endswith("edit 4")
    versions = api.get(f"/ai/templates/{t['id']}/versions").json
    assert [v["version"] for v in versions["items"]] == [5, 4, 3, 2, 1]
    assert versions["items"][-1]["body"] == BODY and versions["items"][-1]["name"] == "Mine"
    restored = api.post(f"/ai/templates/{t['id']}/versions/1/restore").json
    assert restored["version"] == 6 and restored["body"] == BODY and restored["name"] == "Mine"
    assert_error(api.post(f"/ai/templates/{t['id']}/versions/99/restore"), 404)


def test_exactly_one_active_per_purpose_and_the_builtin_otherwise(api):
    builtin = api.get("/ai/templates/active?purpose=metadata").json
    assert builtin["builtin"] is True and builtin["id"] is None and "{% block description %}" in builtin["body"]
    a = make_template(api, name="A", activate=True)
    b = make_template(api, name="B")
    c = make_template(api, name="C", purpose="caption", activate=True)
    assert api.get("/ai/templates/active?purpose=metadata").json["id"] == a["id"]
    assert api.post(f"/ai/templates/{b['id']}/activate").json["is_active"] is True
    active = {t["id"]: t["is_active"] for t in api.get("/ai/templates").json["items"]}
    assert active == {a["id"]: False, b["id"]: True, c["id"]: True}
    # The next generation follows the active template's description block.
    r = api.post("/ai/generate", json={"topic": "knots", "platforms": ["localfeed"]}).json["result"]
    assert r["description"] == "Learn knots today." and r["template"]["id"] == b["id"]
    api.post(f"/ai/templates/{b['id']}/deactivate")
    assert api.get("/ai/templates/active?purpose=metadata").json["builtin"] is True
    assert api.delete(f"/ai/templates/{c['id']}").status_code == 204
    assert PromptTemplateVersion.select().where(PromptTemplateVersion.template == c["id"]).count() == 0


@pytest.mark.parametrize("body", [
    "{{ ''.__class__.__mro__ }}",
    "{{ cycler.__init__.__globals__ }}",
    "{{ joiner.__init__.__globals__.os.system('id') }}",
    "{{ lipsum.__globals__['os'] }}",
    "{{ topic.__class__.__base__.__subclasses__() }}",
    "{{ topic|attr('__class__') }}",
    "{{ '{0.__class__}'.format(topic) }}",
    "{{ self._TemplateReference__context }}",
    "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}",
    "{{ 'x' * 100000000 }}",
    "{% include '/etc/passwd' %}",
])
def test_sandbox_escapes_are_refused_with_422(api, body):
    body_err = assert_error(api.post("/ai/templates", json={"name": "evil", "purpose": "metadata",
                                                            "body": body}), 422, "template_error")
    assert "body" in body_err["errors"]
    assert_error(api.post("/ai/test-prompt", json={"body": body}), 422, "template_error")
    assert PromptTemplate.select().count() == 0


def test_template_mistakes_are_422_with_the_reason(api):
    t = make_template(api)
    err = assert_error(api.put(f"/ai/templates/{t['id']}", json={"body": "{{ topik }}"}), 422)
    assert "topik" in err["error_message"]
    err = assert_error(api.put(f"/ai/templates/{t['id']}", json={"body": "{% if %}"}), 422)
    assert "line 1" in err["error_message"]
    assert api.get(f"/ai/templates/{t['id']}").json["version"] == 1  # nothing written


@pytest.mark.parametrize("path,payload,status", [
    ("/ai/templates", {"name": "x", "purpose": "poetry", "body": "hi"}, 422),
    ("/ai/templates", {"name": "", "purpose": "metadata", "body": "hi"}, 422),
    ("/ai/templates", {"name": "x", "purpose": "metadata"}, 422),
    ("/ai/templates", {"name": "x", "purpose": "metadata", "body": "hi", "persona_id": 999}, 422),
    ("/ai/templates", {"name": "x", "purpose": "metadata", "body": "hi", "params": {"x": 1}}, 422),
    ("/ai/templates", {"name": "x", "purpose": "metadata", "body": "x" * 20001}, 422),
    ("/ai/generate", {}, 422),
    ("/ai/generate", {"topic": "a", "platforms": ["myspace"]}, 422),
    ("/ai/generate", {"media_id": 12345}, 422),
    ("/ai/generate", {"topic": "a", "provider": "nope"}, 422),
    ("/ai/generate", {"topic": "a", "provider": "openai"}, 422),  # not set up
    ("/ai/generate", {"topic": "a", "template_id": 777}, 404),
    ("/ai/generate", {"topic": "a", "media_id": "seven"}, 422),
    ("/ai/test-prompt", {"timeout": 0}, 422),
    ("/ai/test-prompt", {"variables": {"secret": 1}}, 422),
    ("/ai/personas", {"instructions": "no name"}, 422),
    ("/ai/personas", {"preset": "villain"}, 422),
])
def test_bad_input_is_4xx_with_the_error_body(api, path, payload, status):
    assert_error(api.post(path, json=payload), status)


def test_malformed_json_and_unknown_ids(api):
    r = api.post("/ai/templates", data="{not json", content_type="application/json")
    assert_error(r, 400)
    assert_error(api.get("/ai/templates/999"), 404)
    assert_error(api.get("/ai/templates/active"), 422)
    assert_error(api.get("/ai/jobs/999"), 404)
    assert_error(api.get("/ai/providers/nope"), 404)
    assert_error(api.patch("/ai/settings", json={"default_provider": "nope"}), 422)
    assert_error(api.patch("/ai/settings", json={"auto_platforms": ["myspace"]}), 422)


def test_templates_are_scoped_to_the_workspace(api, other_api):
    t = make_template(api)
    assert_error(other_api.get(f"/ai/templates/{t['id']}"), 404)
    assert_error(other_api.post(f"/ai/templates/{t['id']}/activate"), 404)
    assert other_api.get("/ai/templates").json["total"] == 0


def test_personas_and_templates_include_them(api):
    coach = api.post("/ai/personas", json={"preset": "coach"}).json
    assert coach["name"] == "Coach" and "coach" in coach["instructions"]
    assert_error(api.post("/ai/personas", json={"preset": "coach"}), 409)
    mine = api.post("/ai/personas", json={"name": "Me", "instructions": "Dry humour.",
                                          "tone": "wry"}).json
    body = "{% block description %}{{ persona.name }} says: {{ topic }} ({{ tone }}){% endblock %}"
    t = make_template(api, body=body, persona_id=coach["id"], activate=True)
    r = api.post("/ai/generate", json={"topic": "knots", "platforms": ["localfeed"]}).json["result"]
    assert r["description"] == "Coach says: knots (encouraging)" and r["persona"] == "Coach"
    r = api.post("/ai/generate", json={"topic": "knots", "platforms": ["localfeed"],
                                       "persona_id": mine["id"]}).json["result"]
    assert r["description"] == "Me says: knots (wry)"
    assert api.put(f"/ai/personas/{mine['id']}", json={"tone": "dry"}).json["tone"] == "dry"
    assert api.delete(f"/ai/personas/{coach['id']}").status_code == 204
    assert api.get(f"/ai/templates/{t['id']}").json["persona_id"] is None
    err = assert_error(api.post("/ai/generate", json={"topic": "knots"}), 422, "template_error")
    assert "persona" in err["error_message"]  # the template needs a persona, and has none now


def test_providers_list_settings_and_secrets(api, owner):
    providers = {p["name"]: p for p in api.get("/ai/providers").json}
    assert set(providers) >= {"offline", "openai", "anthropic"}
    assert providers["offline"]["is_default"] and providers["offline"]["offline"]
    form = {f["name"]: f for f in providers["openai"]["form"]}
    assert form["model"]["required"] and form["api_key"]["secret"] and not form["base_url"]["required"]
    bad = assert_error(api.put("/ai/providers/openai", json={"settings": {"base_url": "ftp://x"}}), 422)
    assert "model" in bad["errors"]["settings"] and "base_url" in bad["errors"]["settings"]
    r = api.put("/ai/providers/openai", json={"settings": {"model": "m", "api_key": "sk-secret"}})
    assert r.status_code == 200 and r.json["has_credentials"] and "api_key" not in r.json["settings"]
    assert "sk-secret" not in r.get_data(as_text=True)
    r = api.put("/ai/providers/openai", json={"settings": {"model": "m2"}})  # the key stays
    assert r.json["has_credentials"] and r.json["settings"]["model"] == "m2"
    assert api.patch("/ai/settings", json={"default_provider": "openai"}).json["default_provider"] == "openai"
    assert_error(api.delete("/ai/providers/openai"), 409)
    api.patch("/ai/settings", json={"default_provider": "offline"})
    assert api.delete("/ai/providers/openai").status_code == 204


def test_only_owners_change_provider_settings(client, rt, owner):
    from schedulerx import auth
    from schedulerx.models import Membership, User

    from .conftest import Api
    user = User.create(email="ed@example.com", password_hash="x")
    Membership.create(workspace=owner[1], user=user, role="editor")
    _, token = auth.create_token(user, owner[1], "ed")
    editor = Api(client, token)
    assert_error(editor.put("/ai/providers/openai", json={"settings": {"model": "m"}}), 403)
    assert editor.get("/ai/providers").status_code == 200


def test_sync_generation_is_refused_for_network_providers(api, owner):
    api.put("/ai/providers/openai", json={"settings": {"model": "m", "base_url": "http://127.0.0.1:9/v1"}})
    err = assert_error(api.post("/ai/generate", json={"topic": "a", "provider": "openai",
                                                      "async": False}), 422)
    assert "worker" in err["error_message"]


def test_limits_respected_for_every_platform_through_the_api(api):
    long_topic = "👩‍👩‍👧 e\u0301te\u0301 " * 150
    r = api.post("/ai/generate", json={"topic": long_topic}).json["result"]
    limits = {p["name"]: p["limits"] for p in api.get("/platforms").json}
    assert {v["platform"] for v in r["variants"]} == set(limits)
    for v in r["variants"]:
        lim = limits[v["platform"]]
        g = lim["count_graphemes"]
        if lim["text_max"] is not None:
            assert measure(v["body"], g) <= lim["text_max"]
        assert measure(v["title"], g) <= (lim["title_max"] or 500)


def test_generate_post_gives_fields_for_a_new_post(rt, owner):
    from schedulerx import posts
    from schedulerx.ai.generation import generate_post
    ws = owner[1]
    gp = generate_post(rt.config, rt.pm, ws.id, topic="Weekly tip: list comprehensions in Python",
                       platforms=["localfeed", "webhook"])
    assert gp.title == "Weekly Tip: List Comprehensions in Python"
    assert gp.body.startswith("Weekly Tip: List Comprehensions in Python.") and "#" in gp.body
    assert [v["platform"] for v in gp.variants] == ["localfeed", "webhook"]
    assert gp.tags and all(f"#{t}" in gp.body for t in gp.tags)
    post = posts.create(ws.id, **gp.post_fields())
    assert post.ai_metadata["provider"] == "offline"
    assert {v.platform for v in post.variants} == {"localfeed", "webhook"}


def test_test_prompt_tries_an_unsaved_edit_with_the_templates_settings(api):
    coach = api.post("/ai/personas", json={"preset": "coach"}).json
    t = make_template(api, persona_id=coach["id"])
    r = api.post("/ai/test-prompt", json={"template_id": t["id"],
                                          "body": "{% block description %}{{ persona.name }}!{% endblock %}"})
    assert r.status_code == 200, r.json
    assert r.json["output"]["description"] == "Coach!" and r.json["template"]["version"] is None
    assert r.json["prompt"] == "Coach!" and r.json["blocks"] == {"description": "Coach!"}
    assert AICall.get_by_id(r.json["call_id"]).template is None  # not the saved version
    saved = api.post("/ai/test-prompt", json={"template_id": t["id"]}).json
    assert saved["template"]["version"] == 1 and saved["output"]["description"].startswith("Learn ")
