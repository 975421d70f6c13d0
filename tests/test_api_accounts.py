"""/api/v1/accounts: connect, list, change, delete; secrets go in and never come out."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from schedulerx.crypto import decrypt_json
from schedulerx.models import Account, Publication, PublishAttempt, Variant

from .api_support import account, assert_error, counts, testpub  # noqa: F401


def new_account(api, **overrides):
    body = {"platform": "testpub", "display_name": "Feed",
            "settings": {"feed_name": "main", "api_key": "s3cret"}, **overrides}
    return api.post("/accounts", json=body)


def test_create_stores_secrets_encrypted_and_never_returns_them(api, rt, testpub):
    r = new_account(api, timezone="America/New_York")
    assert r.status_code == 201, r.json
    a = r.json
    assert a["platform"] == "testpub" and a["display_name"] == "Feed"
    assert a["settings"] == {"feed_name": "main"}
    assert a["has_credentials"] is True
    assert a["timezone"] == "America/New_York" and a["health"] == "connected"
    assert a["created_at"].endswith("+00:00")
    assert "s3cret" not in r.get_data(as_text=True)
    assert "credentials" not in a
    row = Account.get_by_id(a["id"])
    assert "s3cret" not in row.credentials
    assert decrypt_json(rt.config.secret_key, row.credentials) == {"api_key": "s3cret"}
    for listed in (api.get(f"/accounts/{a['id']}"), api.get("/accounts")):
        assert "s3cret" not in listed.get_data(as_text=True)


def test_an_account_without_secrets_says_so(api, testpub):
    a = new_account(api, settings={"feed_name": "open"}).json
    assert a["has_credentials"] is False and a["timezone"] is None


@pytest.mark.parametrize("overrides,field", [
    ({"platform": "myspace"}, "platform"),
    ({"platform": ""}, "platform"),
    ({"settings": {}}, "settings"),                                   # required field missing
    ({"settings": {"feed_name": 42}}, "settings"),                    # wrong type
    ({"settings": {"feed_name": "x", "colour": "red"}}, "settings"),  # unknown setting
    ({"settings": "feed_name=x"}, "settings"),
    ({"display_name": ""}, "display_name"),
    ({"display_name": "   "}, "display_name"),
    ({"display_name": None}, "display_name"),
    ({"display_name": "x" * 201}, "display_name"),
    ({"timezone": "Mars/Olympus"}, "timezone"),
    ({"health": "connected"}, "health"),                              # not settable on create
])
def test_bad_account_bodies_are_422_and_write_nothing(api, testpub, overrides, field):
    before = counts(Account)
    body = assert_error(new_account(api, **overrides), 422, "validation_error")
    assert field in body["errors"], body
    assert counts(Account) == before


def test_setting_errors_name_the_setting(api, testpub):
    body = assert_error(new_account(api, settings={"api_key": "k"}), 422)
    assert "feed_name" in body["errors"]["settings"]


def test_malformed_json_is_400(api, testpub):
    assert_error(api.post("/accounts", data="{", content_type="application/json"), 400)
    assert counts(Account) == (0,)


def test_list_paginates_and_filters_by_platform(api, testpub):
    for name in ("Charlie", "Alpha", "Bravo"):
        new_account(api, display_name=name)
    r = api.get("/accounts?page_size=2")
    assert r.json["total"] == 3 and r.json["pages"] == 2 and r.headers["X-Total-Count"] == "3"
    assert [a["display_name"] for a in r.json["items"]] == ["Alpha", "Bravo"]
    assert api.get("/accounts?platform=testpub").json["total"] == 3
    assert api.get("/accounts?platform=other").json["total"] == 0


def test_patch_changes_fields_and_keeps_omitted_secrets(api, rt, account):
    aid = account["id"]
    r = api.patch(f"/accounts/{aid}", json={"display_name": "Renamed",
                                            "settings": {"feed_name": "elsewhere"},
                                            "timezone": "Asia/Tokyo", "health": "needs_reconnect"})
    assert r.status_code == 200, r.json
    assert r.json["display_name"] == "Renamed" and r.json["settings"] == {"feed_name": "elsewhere"}
    assert r.json["timezone"] == "Asia/Tokyo" and r.json["health"] == "needs_reconnect"
    assert r.json["has_credentials"] is True
    assert decrypt_json(rt.config.secret_key, Account.get_by_id(aid).credentials) == {"api_key": "s3cret"}
    # A new secret replaces the old; null timezone falls back to the workspace's.
    r = api.patch(f"/accounts/{aid}", json={"settings": {"api_key": "rotated"}, "timezone": None})
    assert r.json["timezone"] is None and r.json["settings"] == {"feed_name": "elsewhere"}
    assert decrypt_json(rt.config.secret_key, Account.get_by_id(aid).credentials) == {"api_key": "rotated"}
    assert "rotated" not in r.get_data(as_text=True)


@pytest.mark.parametrize("payload", [
    {"display_name": ""}, {"display_name": 7}, {"health": "great"}, {"timezone": "Nowhere/City"},
    {"settings": {"feed_name": None}}, {"settings": {"colour": "red"}}, {"platform": "other"},
])
def test_bad_patches_are_422_and_change_nothing(api, account, payload):
    before = Account.get_by_id(account["id"])
    assert_error(api.patch(f"/accounts/{account['id']}", json=payload), 422)
    after = Account.get_by_id(account["id"])
    assert (after.display_name, after.health, after.timezone, after.settings, after.credentials) == \
        (before.display_name, before.health, before.timezone, before.settings, before.credentials)


def _schedule(api, account_id):
    post = api.post("/posts", json={"title": "t", "body": "b", "variants": [
        {"account_id": account_id, "body": "for this account"}]}).json
    at = (datetime.now(timezone.utc) + timedelta(days=3)).isoformat()
    return api.post(f"/posts/{post['id']}/schedule",
                    json={"account_ids": [account_id], "scheduled_at": at}).json[0]


def test_delete_removes_the_account_and_its_publications(api, account):
    _schedule(api, account["id"])
    assert counts(Publication, Variant) == (1, 1)
    assert api.delete(f"/accounts/{account['id']}").status_code == 204
    assert_error(api.get(f"/accounts/{account['id']}"), 404)
    assert counts(Account, Publication, Variant) == (0, 0, 0)


@pytest.mark.parametrize("status", ["queued", "publishing"])
def test_delete_while_publishing_is_409_and_deletes_nothing(api, account, status):
    pub = _schedule(api, account["id"])
    Publication.update(status=status).where(Publication.id == pub["id"]).execute()
    PublishAttempt.create(publication=pub["id"], number=1, claim_token="c" * 32)
    body = assert_error(api.delete(f"/accounts/{account['id']}"), 409, "conflict")
    assert body["errors"] == {"publications": [pub["id"]]}
    assert counts(Account, Publication, PublishAttempt, Variant) == (1, 1, 1, 1)


@pytest.mark.parametrize("method,kw", [("get", {}), ("patch", {"json": {"display_name": "mine"}}),
                                       ("delete", {})])
def test_another_workspaces_account_is_404(api, other_api, account, method, kw):
    assert_error(getattr(other_api, method)(f"/accounts/{account['id']}", **kw), 404, "not_found")
    assert api.get(f"/accounts/{account['id']}").json["display_name"] == "Feed A"
    assert other_api.get("/accounts").json["total"] == 0


@pytest.mark.parametrize("method", ["get", "patch", "delete"])
def test_unknown_account_is_404(api, testpub, method):
    kw = {"json": {"display_name": "x"}} if method == "patch" else {}
    assert_error(getattr(api, method)("/accounts/424242", **kw), 404, "not_found")


def test_viewers_read_but_cannot_connect(api, client, owner, account):
    from schedulerx import auth

    from .conftest import Api
    user, _ = auth.create_user("viewer@example.com", "a long password", workspace=owner[1],
                               role="viewer")
    viewer = Api(client, auth.create_token(user, owner[1], "viewer")[1])
    assert viewer.get("/accounts").json["total"] == 1
    assert_error(new_account(viewer), 403, "forbidden")
    assert_error(viewer.delete(f"/accounts/{account['id']}"), 403)
    assert counts(Account) == (1,)
