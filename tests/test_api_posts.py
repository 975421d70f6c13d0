"""/api/v1/posts: CRUD with variants, and scheduling a post onto accounts."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from schedulerx.models import Event, Post, Publication, Variant

from .api_support import TEXT_MAX, account, assert_error, counts, png_bytes, testpub, upload  # noqa: F401


def future(days=30) -> datetime:
    return datetime.now(timezone.utc).replace(microsecond=0) + timedelta(days=days)


@pytest.fixture
def post(api):
    r = api.post("/posts", json={"title": "Hello", "body": "short text", "tags": ["news"]})
    assert r.status_code == 201, r.json
    return r.json


def test_create_get_list_patch_delete(api, account):
    mid = upload(api, png_bytes()).json["id"]
    r = api.post("/posts", json={
        "title": "Launch", "body": "We launch today", "tags": ["launch"], "media": [mid],
        "variants": [{"platform": "testpub", "body": "short"},
                     {"account_id": account["id"], "title": "For feed A", "options": {"pin": True}}],
        "ai_metadata": {"model": "offline"}})
    assert r.status_code == 201, r.json
    p = r.json
    assert p["title"] == "Launch" and p["media"] == [mid] and p["tags"] == ["launch"]
    assert p["created_at"].endswith("+00:00")
    assert p["variants"] == [
        {"platform": "testpub", "account_id": None, "title": None, "body": "short", "options": {}},
        {"platform": None, "account_id": account["id"], "title": "For feed A", "body": None,
         "options": {"pin": True}}]
    assert api.get(f"/posts/{p['id']}").json == p

    listed = api.get("/posts").json
    assert listed["total"] == 1 and listed["items"][0]["variants"] == p["variants"]

    r = api.patch(f"/posts/{p['id']}", json={"body": "changed", "variants": []})
    assert r.status_code == 200, r.json
    assert r.json["body"] == "changed" and r.json["title"] == "Launch" and r.json["variants"] == []
    assert counts(Variant) == (0,)

    assert api.delete(f"/posts/{p['id']}").status_code == 204
    assert_error(api.get(f"/posts/{p['id']}"), 404, "not_found")


def test_list_paginates_and_searches(api):
    for i in range(5):
        api.post("/posts", json={"title": f"post {i}", "body": "apples" if i % 2 else "pears"})
    page = api.get("/posts?page=2&page_size=2")
    assert page.json["total"] == 5 and page.json["pages"] == 3
    assert page.headers["X-Total-Count"] == "5"
    assert [p["title"] for p in page.json["items"]] == ["post 2", "post 1"]
    found = api.get("/posts?q=apples").json
    assert found["total"] == 2
    assert sorted(p["title"] for p in found["items"]) == ["post 1", "post 3"]
    assert api.get("/posts?q=post 4").json["total"] == 1
    assert api.get("/posts?q=100%25").json["total"] == 0  # LIKE wildcards are literal


@pytest.mark.parametrize("payload", [
    {},                                            # nothing to post
    {"title": 5},
    {"title": "x" * 501},
    {"body": ["not", "text"]},
    {"title": "t", "tags": "a,b"},
    {"title": "t", "tags": [""]},
    {"title": "t", "media": ["1"]},
    {"title": "t", "media": [1.5]},
    {"title": "t", "media": [999]},                # unknown media
    {"title": "t", "variants": "x"},
    {"title": "t", "variants": [{}]},              # neither platform nor account
    {"title": "t", "variants": [{"platform": "testpub"}, {"platform": "testpub"}]},
    {"title": "t", "variants": [{"account_id": 999}]},
    {"title": "t", "variants": [{"platform": "testpub", "colour": "red"}]},
    {"title": "t", "id": 7},
    {"title": "t", "unexpected": True},
])
def test_bad_post_bodies_are_422_and_write_nothing(api, payload):
    before = counts(Post, Variant)
    assert_error(api.post("/posts", json=payload), 422)
    assert counts(Post, Variant) == before


@pytest.mark.parametrize("data,content_type,status", [
    ('{"title": "unterminated', "application/json", 400),
    ("[1, 2, 3]", "application/json", 422),
    ('"just a string"', "application/json", 422),
])
def test_malformed_json_is_4xx_with_error_body(api, data, content_type, status):
    assert_error(api.post("/posts", data=data, content_type=content_type), status)
    assert counts(Post) == (0,)


def test_another_workspaces_ids_are_refused(api, other_api, account):
    mine = upload(api, png_bytes()).json["id"]
    # Another workspace cannot attach my media or my account to its post.
    assert_error(other_api.post("/posts", json={"title": "t", "media": [mine]}), 422)
    assert_error(other_api.post("/posts", json={"title": "t", "variants": [
        {"account_id": account["id"]}]}), 422)
    assert counts(Post) == (0,)


@pytest.mark.parametrize("method,path,kw", [
    ("get", "/posts/{id}", {}),
    ("patch", "/posts/{id}", {"json": {"title": "mine now"}}),
    ("delete", "/posts/{id}", {}),
    ("post", "/posts/{id}/schedule", {"json": {"account_ids": [1], "scheduled_at": "2099-01-01T10:00"}}),
])
def test_another_workspaces_post_is_404(api, other_api, post, method, path, kw):
    assert_error(getattr(other_api, method)(path.format(id=post["id"]), **kw), 404, "not_found")
    assert api.get(f"/posts/{post['id']}").json["title"] == "Hello"


@pytest.mark.parametrize("method", ["get", "patch", "delete"])
def test_unknown_post_is_404(api, method):
    kw = {"json": {"title": "x"}} if method == "patch" else {}
    assert_error(getattr(api, method)("/posts/424242", **kw), 404, "not_found")


def test_patch_rejects_bad_fields_and_changes_nothing(api, post):
    for payload in ({"title": None}, {"media": [999]}, {"variants": [{}]}, {"tags": "x"}):
        assert_error(api.patch(f"/posts/{post['id']}", json=payload), 422)
    assert api.get(f"/posts/{post['id']}").json == post


# --- scheduling ---------------------------------------------------------------

def test_schedule_creates_one_publication_per_account(api, post, account, testpub):
    second = api.post("/accounts", json={"platform": "testpub", "display_name": "Feed B",
                                         "settings": {"feed_name": "b"}}).json
    at = future()
    r = api.post(f"/posts/{post['id']}/schedule", json={
        "account_ids": [account["id"], second["id"]], "scheduled_at": at.isoformat(),
        "retry": {"strategy": "fixed", "base_delay": 30, "max_delay": 30, "max_attempts": 5}})
    assert r.status_code == 201, r.json
    pubs = r.json
    assert [p["account_id"] for p in pubs] == [account["id"], second["id"]]
    for p in pubs:
        assert p["post_id"] == post["id"] and p["status"] == "scheduled"
        assert datetime.fromisoformat(p["scheduled_at"]) == at
        assert p["scheduled_at"].endswith("+00:00")
        assert p["timezone"] == "Europe/Berlin"
        assert p["retry"] == {"strategy": "fixed", "base_delay": 30.0, "max_delay": 30.0,
                              "max_attempts": 5}
        assert p["max_attempts"] == 5 and p["attempts"] == 0
        assert len(p["idempotency_key"]) == 32
    assert pubs[0]["idempotency_key"] != pubs[1]["idempotency_key"]


def test_a_naive_time_is_read_in_the_workspace_timezone(api, post, account):
    year = datetime.now().year + 2
    # Europe/Berlin is UTC+1 in January and UTC+2 in July.
    winter = api.post(f"/posts/{post['id']}/schedule", json={
        "account_ids": [account["id"]], "scheduled_at": f"{year}-01-15T10:00:00"})
    assert winter.status_code == 201, winter.json
    assert winter.json[0]["scheduled_at"] == f"{year}-01-15T09:00:00+00:00"
    api.post(f"/publications/{winter.json[0]['id']}/cancel")
    summer = api.post(f"/posts/{post['id']}/schedule", json={
        "account_ids": [account["id"]], "scheduled_at": f"{year}-07-15T10:00"})
    assert summer.json[0]["scheduled_at"] == f"{year}-07-15T08:00:00+00:00"
    explicit = api.post(f"/posts/{post['id']}/schedule", json={
        "account_ids": [account["id"]], "scheduled_at": f"{year}-07-15T10:00:00Z"})
    assert explicit.json[0]["scheduled_at"] == f"{year}-07-15T10:00:00+00:00"


def test_a_past_time_is_422_and_writes_nothing(api, post, account):
    before = counts(Publication, Event)
    for when in ((datetime.now(timezone.utc) - timedelta(hours=1)).isoformat(), "2001-01-01T00:00"):
        body = assert_error(api.post(f"/posts/{post['id']}/schedule", json={
            "account_ids": [account["id"]], "scheduled_at": when}), 422, "validation_error")
        assert "scheduled_at" in body["errors"]
    assert counts(Publication, Event) == before


def test_text_over_the_platform_limit_is_422_per_account(api, account):
    long = api.post("/posts", json={"title": "t", "body": "x" * (TEXT_MAX + 1)}).json
    before = counts(Publication)
    body = assert_error(api.post(f"/posts/{long['id']}/schedule", json={
        "account_ids": [account["id"]], "scheduled_at": future().isoformat()}), 422)
    problems = body["errors"]["accounts"][str(account["id"])]
    assert any(f"allows {TEXT_MAX}" in p for p in problems)
    assert counts(Publication) == before
    # A variant that fits the platform makes it schedulable.
    api.patch(f"/posts/{long['id']}", json={"variants": [{"platform": "testpub", "body": "fits"}]})
    assert api.post(f"/posts/{long['id']}/schedule", json={
        "account_ids": [account["id"]], "scheduled_at": future().isoformat()}).status_code == 201


def test_one_bad_account_schedules_none(api, post, account, testpub):
    disabled = api.post("/accounts", json={"platform": "testpub", "display_name": "Off",
                                           "settings": {"feed_name": "off"}}).json
    api.patch(f"/accounts/{disabled['id']}", json={"health": "disabled"})
    body = assert_error(api.post(f"/posts/{post['id']}/schedule", json={
        "account_ids": [account["id"], disabled["id"]], "scheduled_at": future().isoformat()}), 422)
    assert list(body["errors"]["accounts"]) == [str(disabled["id"])]
    assert counts(Publication) == (0,)


@pytest.mark.parametrize("payload", [
    {},
    {"account_ids": [], "scheduled_at": "2099-01-01T10:00"},
    {"account_ids": "1", "scheduled_at": "2099-01-01T10:00"},
    {"account_ids": ["one"], "scheduled_at": "2099-01-01T10:00"},
    {"account_ids": [424242], "scheduled_at": "2099-01-01T10:00"},
    {"account_ids": ["ACC", "ACC"], "scheduled_at": "2099-01-01T10:00"},
    {"account_ids": ["ACC"]},
    {"account_ids": ["ACC"], "scheduled_at": "tomorrow at noon"},
    {"account_ids": ["ACC"], "scheduled_at": 1700000000},
    {"account_ids": ["ACC"], "scheduled_at": "2099-02-30T10:00"},
    {"account_ids": ["ACC"], "scheduled_at": "2099-01-01T10:00", "retry": {"strategy": "often"}},
    {"account_ids": ["ACC"], "scheduled_at": "2099-01-01T10:00", "retry": {"max_attempts": 0}},
    {"account_ids": ["ACC"], "scheduled_at": "2099-01-01T10:00",
     "retry": {"base_delay": 600, "max_delay": 60}},
    {"account_ids": ["ACC"], "scheduled_at": "2099-01-01T10:00", "when": "now"},
])
def test_bad_schedule_bodies_are_422_and_write_nothing(api, post, account, payload):
    if "account_ids" in payload and isinstance(payload["account_ids"], list):
        payload["account_ids"] = [account["id"] if a == "ACC" else a for a in payload["account_ids"]]
    before = counts(Publication, Event)
    assert_error(api.post(f"/posts/{post['id']}/schedule", json=payload), 422)
    assert counts(Publication, Event) == before


def test_another_workspaces_account_cannot_be_scheduled_on(api, other_api, account):
    theirs = other_api.post("/posts", json={"title": "theirs"}).json
    assert_error(other_api.post(f"/posts/{theirs['id']}/schedule", json={
        "account_ids": [account["id"]], "scheduled_at": future().isoformat()}), 422)
    assert counts(Publication) == (0,)


def test_a_post_with_unfinished_publications_cannot_be_deleted(api, post, account):
    pub = api.post(f"/posts/{post['id']}/schedule", json={
        "account_ids": [account["id"]], "scheduled_at": future().isoformat()}).json[0]
    assert_error(api.delete(f"/posts/{post['id']}"), 409, "conflict")
    assert counts(Post, Publication) == (1, 1)
    api.post(f"/publications/{pub['id']}/cancel")
    assert api.delete(f"/posts/{post['id']}").status_code == 204
    assert counts(Post, Publication) == (0, 0)


def test_a_post_being_published_cannot_be_edited(api, post, account):
    pub = api.post(f"/posts/{post['id']}/schedule", json={
        "account_ids": [account["id"]], "scheduled_at": future().isoformat()}).json[0]
    Publication.update(status="publishing").where(Publication.id == pub["id"]).execute()
    assert_error(api.patch(f"/posts/{post['id']}", json={"title": "too late"}), 409)
    assert api.get(f"/posts/{post['id']}").json["title"] == "Hello"


def test_patch_cannot_empty_a_post(api):
    post = api.post("/posts", json={"title": "t"}).get_json()
    r = api.patch(f"/posts/{post['id']}", json={"title": ""})
    assert r.status_code == 422 and r.get_json()["error_code"] == "validation_error"
    assert api.get(f"/posts/{post['id']}").get_json()["title"] == "t"
