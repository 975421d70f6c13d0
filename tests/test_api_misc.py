"""/api/v1/platforms, /api/v1/events, the OpenAPI document and the error body everywhere."""
from __future__ import annotations

from datetime import datetime

import pytest

from schedulerx import events
from schedulerx.models import Event

from .api_support import TEXT_MAX, assert_error, testpub  # noqa: F401

# --- platforms ---------------------------------------------------------------------


def test_platforms_describe_limits_and_a_settings_form(api, testpub):
    r = api.get("/platforms")
    assert r.status_code == 200
    by_name = {p["name"]: p for p in r.json}
    p = by_name["testpub"]
    assert p["label"] == "Test Pub" and p["idempotent"] is True
    assert p["limits"]["text_max"] == TEXT_MAX
    assert p["limits"]["media_types"] == ["image/", "video/"]
    assert p["best_times"] == [{"weekday": 0, "time": "09:00"}]
    fields = {f["name"]: f for f in p["settings"]}
    assert fields["feed_name"] == {"name": "feed_name", "label": "Feed name", "type": "string",
                                   "format": None, "required": True, "secret": False,
                                   "description": "where posts go", "default": None, "enum": None}
    assert fields["api_key"]["secret"] is True and fields["api_key"]["required"] is False


def test_every_loaded_platform_is_listed_with_the_same_shape(api, rt, testpub):
    names = [p["name"] for p in api.get("/platforms").json]
    assert names == sorted(rt.pm.publishers())
    for p in api.get("/platforms").json:
        assert set(p) == {"name", "label", "limits", "best_times", "idempotent", "can_look_up",
                          "connect", "quotas", "metrics", "settings"}
        for f in p["settings"]:
            assert isinstance(f["required"], bool) and isinstance(f["secret"], bool)


def test_settings_form_maps_field_types(testpub):
    import marshmallow as ma

    from schedulerx_web.api.platforms import settings_form

    class Rich(ma.Schema):
        count = ma.fields.Integer(load_default=3, metadata={"label": "How many"})
        ratio = ma.fields.Float()
        on = ma.fields.Boolean()
        home = ma.fields.Url()
        mode = ma.fields.String(validate=ma.validate.OneOf(["a", "b"]))
        names = ma.fields.List(ma.fields.String())

    class P(testpub):
        settings_schema = Rich
        secret_fields = ()

    form = {f["name"]: f for f in settings_form(P)}
    assert form["count"]["type"] == "integer" and form["count"]["default"] == 3
    assert form["count"]["label"] == "How many"
    assert form["ratio"]["type"] == "number" and form["on"]["type"] == "boolean"
    assert form["home"]["type"] == "string" and form["home"]["format"] == "url"
    assert form["mode"]["enum"] == ["a", "b"]
    assert form["names"]["type"] == "array"


# --- events ------------------------------------------------------------------------

@pytest.fixture
def some_events(owner):
    ws = owner[1].id
    made = [
        events.record(ws, "scheduler", "scheduled", subject=("publication", 1)),
        events.record(ws, "worker", "retrying", level="warning", subject=("publication", 1)),
        events.record(ws, "worker", "gave up", level="error", subject=("publication", 2)),
        events.record(ws, "user", "debugging", level="debug"),
        events.record(None, "system", "not in any workspace", level="error"),
    ]
    return made


def test_events_list_newest_first_and_paginate(api, some_events):
    r = api.get("/events?page_size=2")
    assert r.status_code == 200
    # Only this workspace's four events (not the system-wide one).
    assert r.json["total"] == 4 and r.json["pages"] == 2 and r.headers["X-Total-Count"] == "4"
    assert [e["message"] for e in r.json["items"]] == ["debugging", "gave up"]
    e = r.json["items"][1]
    assert e["level"] == "error" and e["source"] == "worker"
    assert e["subject_type"] == "publication" and e["subject_id"] == 2
    assert e["time"].endswith("+00:00") and e["data"] == {}


@pytest.mark.parametrize("query,messages", [
    ("level=warning", ["gave up", "retrying"]),
    ("level=debug", ["debugging", "gave up", "retrying", "scheduled"]),
    ("level=error", ["gave up"]),
    ("source=worker", ["gave up", "retrying"]),
    ("subject_type=publication&subject_id=1", ["retrying", "scheduled"]),
    ("source=worker&level=error", ["gave up"]),
    ("source=nobody", []),
])
def test_events_filters(api, some_events, query, messages):
    assert [e["message"] for e in api.get(f"/events?{query}").json["items"]] == messages


def test_events_since_until_read_naive_times_in_the_workspace_zone(api, some_events):
    # Put the events at known UTC instants: 09:00, 10:00, 11:00, 12:00 on 15 January.
    for hour, e in zip((9, 10, 11, 12), some_events[:4]):
        Event.update(time=datetime(2030, 1, 15, hour)).where(Event.id == e.id).execute()
    # 11:00 in Berlin (winter, UTC+1) is 10:00 UTC.
    got = api.get("/events?since=2030-01-15T11:00&until=2030-01-15T12:30").json["items"]
    assert [e["message"] for e in got] == ["gave up", "retrying"]
    got = api.get("/events", query_string={"since": "2030-01-15T11:00:00+00:00"}).json["items"]
    assert [e["message"] for e in got] == ["debugging", "gave up"]


@pytest.mark.parametrize("query", ["level=fatal", "subject_id=abc", "since=last week",
                                   "until=2030-01-99", "page=0"])
def test_events_reject_bad_query_args(api, query):
    assert_error(api.get(f"/events?{query}"), 422)


def test_events_of_another_workspace_are_invisible(other_api, some_events):
    assert other_api.get("/events").json["total"] == 0


# --- the API as a whole ----------------------------------------------------------------

PATHS = {
    "/api/v1/media": {"get", "post"},
    "/api/v1/media/{media_id}": {"get", "patch", "delete"},
    "/api/v1/media/{media_id}/content": {"get"},
    "/api/v1/posts": {"get", "post"},
    "/api/v1/posts/{post_id}": {"get", "patch", "delete"},
    "/api/v1/posts/{post_id}/schedule": {"post"},
    "/api/v1/publications": {"get"},
    "/api/v1/publications/{publication_id}": {"get"},
    "/api/v1/publications/{publication_id}/{action}": {"post"},
    "/api/v1/accounts": {"get", "post"},
    "/api/v1/accounts/{account_id}": {"get", "patch", "delete"},
    "/api/v1/platforms": {"get"},
    "/api/v1/events": {"get"},
}


def test_openapi_lists_every_resource(api):
    r = api.get("/openapi.json")
    assert r.status_code == 200
    spec = r.json
    for path, methods in PATHS.items():
        assert path in spec["paths"], path
        assert methods <= set(spec["paths"][path]), (path, spec["paths"][path].keys())
        for method in methods:
            assert spec["paths"][path][method].get("summary"), (path, method)
    action = spec["paths"]["/api/v1/publications/{publication_id}/{action}"]["post"]
    [param] = [p for p in spec["paths"]["/api/v1/publications/{publication_id}/{action}"]["parameters"]
               if p["name"] == "action"]
    assert set(param["schema"]["enum"]) == {"reschedule", "cancel", "force", "pause", "resume",
                                            "retry", "mark-published", "mark-failed"}
    assert "409" in action["responses"] or "default" in action["responses"]
    upload = spec["paths"]["/api/v1/media"]["post"]["requestBody"]["content"]
    assert "multipart/form-data" in upload
    ref = upload["multipart/form-data"]["schema"]["$ref"].rsplit("/", 1)[1]
    props = spec["components"]["schemas"][ref]["properties"]
    assert props["file"]["format"] == "binary" and "tags" in props
    pub = spec["components"]["schemas"]["Publication"]["properties"]
    assert pub["scheduled_at"] == {"type": "string", "format": "date-time"}


def test_unknown_api_paths_and_methods_answer_the_error_body(api):
    assert_error(api.get("/nothing-here"), 404, "not_found")
    assert_error(api.put("/posts"), 405, "method_not_allowed")
    assert_error(api.get("/posts/not-a-number"), 404)


@pytest.mark.parametrize("path", ["/posts", "/publications", "/accounts", "/platforms",
                                  "/events", "/media"])
def test_every_resource_needs_a_token(client, path):
    assert_error(client.get(f"/api/v1{path}"), 401, "unauthorized")
    r = client.get(f"/api/v1{path}", headers={"Authorization": "Bearer sx_not-a-token"})
    assert_error(r, 401, "unauthorized")
