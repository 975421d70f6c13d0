"""Connecting, validating, quotas and metrics through the API and pages, against the Mastodon and X fakes.

The OAuth tests play the browser: the API starts the flow, the fake's authorize
endpoint approves and redirects, and the signed-in user's browser (the test
client with a session) lands on the callback.
"""
from __future__ import annotations

import dataclasses
import re
from datetime import datetime, timedelta, timezone
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from schedulerx import engine, oauth
from schedulerx.crypto import decrypt_json
from schedulerx.errors import ValidationError
from schedulerx.models import Account, OAuthState, Publication
from schedulerx.plugins import make_plugin_manager
from schedulerx.timeutil import utcnow

from .api_support import assert_error
from .conftest import make_config
from .fakes_platforms.mastodon import MastodonFake
from .fakes_platforms.x import XFake

PASSWORD = "correct horse battery"


@pytest.fixture
def x_fake():
    with XFake() as fake:
        yield fake


@pytest.fixture
def masto():
    with MastodonFake() as fake:
        yield fake


@pytest.fixture
def config(tmp_path, database_url, x_fake):
    return make_config(tmp_path, database_url, platforms={"x": {
        "client_id": x_fake.client_id, "client_secret": x_fake.client_secret,
        "authorize_url": f"{x_fake.url}/i/oauth2/authorize",
        "token_url": f"{x_fake.url}/2/oauth2/token", "api_url": x_fake.url}})


@pytest.fixture
def pm():
    return make_plugin_manager(only="localstorage,mastodon,x")


def login(client, email="owner@example.com", password=PASSWORD):
    html = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)
    assert client.post("/login", data={"email": email, "password": password,
                                       "csrf_token": token}).status_code == 302


def authorize(url: str) -> str:
    """The user approves at the platform: the callback path and query it redirects to."""
    answer = httpx.get(url, follow_redirects=False)
    assert answer.status_code == 302, answer.text
    location = urlsplit(answer.headers["Location"])
    return f"{location.path}?{location.query}"


def connect_x(api, client, **body) -> Account:
    r = api.post("/accounts/connect/x", json=body)
    assert r.status_code == 201, r.json
    login(client)
    back = client.get(authorize(r.json["authorize_url"]))
    assert back.status_code == 302 and back.headers["Location"].endswith("/accounts"), back.get_data(as_text=True)
    return Account.select().order_by(Account.id.desc()).get()


def soon(minutes=1) -> str:
    return (datetime.now(timezone.utc) + timedelta(minutes=minutes)).isoformat()


# --- connecting -------------------------------------------------------------------

def test_x_connects_through_oauth_with_pkce(api, client, x_fake, rt):
    r = api.post("/accounts/connect/x", json={})
    assert r.status_code == 201, r.json
    query = parse_qs(urlsplit(r.json["authorize_url"]).query)
    assert r.json["authorize_url"].startswith(f"{x_fake.url}/i/oauth2/authorize?")
    assert query["code_challenge_method"] == ["S256"] and len(query["code_challenge"][0]) == 43
    assert query["redirect_uri"] == [r.json["redirect_uri"]]
    assert r.json["redirect_uri"].endswith("/accounts/connect/x/callback")
    assert "offline.access" in query["scope"][0].split()
    acc = connect_x(api, client)
    assert (acc.platform, acc.display_name, acc.health) == ("x", "@studio", "connected")
    assert acc.platform_info == {"user_id": "2244994945", "username": "studio"}
    creds = decrypt_json(rt.config.secret_key, acc.credentials)
    assert creds["access_token"] in x_fake.access_tokens and creds["refresh_token"]
    assert creds["access_token"] not in acc.credentials  # encrypted at rest
    assert acc.token_expires_at > utcnow()
    shown = api.get(f"/accounts/{acc.id}").json
    assert shown["has_credentials"] is True and "access_token" not in str(shown)


def test_callback_state_is_single_use(api, client, x_fake):
    r = api.post("/accounts/connect/x", json={"display_name": "Brand on X"})
    login(client)
    callback = authorize(r.json["authorize_url"])
    assert client.get(callback).status_code == 302
    assert Account.get().display_name == "Brand on X"
    replay = client.get(callback)
    assert replay.status_code == 422 and "already used" in replay.get_data(as_text=True)
    assert Account.select().count() == 1


def test_callback_refuses_a_flow_another_user_started(api, other_api, client, x_fake):
    r = other_api.post("/accounts/connect/x", json={})  # started in the other workspace
    login(client)  # the owner's browser lands on it
    answer = client.get(authorize(r.json["authorize_url"]))
    assert answer.status_code == 403
    assert Account.select().count() == 0 and OAuthState.select().count() == 0


def test_callback_with_a_refusal_or_forged_state_stores_nothing(api, client, x_fake):
    r = api.post("/accounts/connect/x", json={})
    state = parse_qs(urlsplit(r.json["authorize_url"]).query)["state"][0]
    login(client)
    denied = client.get(f"/accounts/connect/x/callback?state={state}&error=access_denied")
    assert denied.status_code == 422 and "access_denied" in denied.get_data(as_text=True)
    forged = client.get("/accounts/connect/x/callback?state=forged&code=abc")
    assert forged.status_code == 422
    assert Account.select().count() == 0


def test_reconnect_keeps_the_refresh_token_when_none_is_sent(api, client, x_fake, rt):
    acc = connect_x(api, client)
    before = decrypt_json(rt.config.secret_key, acc.credentials)
    Account.update(health="needs_reconnect", health_message="refresh refused").where(
        Account.id == acc.id).execute()
    x_fake.refresh_token_on_code = False
    r = api.post("/accounts/connect/x", json={"account_id": acc.id})
    assert client.get(authorize(r.json["authorize_url"])).status_code == 302
    acc = Account.get_by_id(acc.id)
    after = decrypt_json(rt.config.secret_key, acc.credentials)
    assert Account.select().count() == 1 and acc.health == "connected" and acc.health_message == ""
    assert after["access_token"] != before["access_token"]
    assert after["refresh_token"] == before["refresh_token"]


def test_oauth_platform_is_not_connected_through_the_settings_form(api, x_fake):
    body = assert_error(api.post("/accounts", json={"platform": "x", "display_name": "X",
                                                    "settings": {}}), 422)
    assert "/accounts/connect/x" in body["error_message"]
    body = assert_error(api.post("/accounts/connect/mastodon", json={}), 422)
    assert "settings" in body["error_message"]


def test_connect_says_what_the_operator_must_set(rt, owner):
    bare = dataclasses.replace(rt.config, platforms={})
    with pytest.raises(ValidationError) as info:
        oauth.begin(bare, rt.pm, workspace_id=owner[1].id, user_id=owner[0].id, platform="x")
    assert "SCHEDULERX_X_CLIENT_ID" in info.value.message


def test_mastodon_connects_with_a_checked_token(api, masto):
    bad = assert_error(api.post("/accounts", json={"platform": "mastodon", "settings": {
        "instance_url": masto.url, "access_token": "wrong-token-1"}}), 422)
    assert "access token is invalid" in bad["error_message"]
    masto.max_characters = 1000
    r = api.post("/accounts", json={"platform": "mastodon", "settings": {
        "instance_url": masto.url, "access_token": masto.token}})
    assert r.status_code == 201, r.json
    assert r.json["display_name"] == "@studio@127.0.0.1"
    assert r.json["platform_info"]["max_characters"] == 1000
    assert "access_token" not in r.json["settings"]


# --- validation when scheduling --------------------------------------------------

def _post(api, body, **fields):
    r = api.post("/posts", json={"body": body, **fields})
    assert r.status_code == 201, r.json
    return r.json["id"]


def test_x_counts_links_as_23_and_refuses_at_scheduling(api, client, x_fake):
    acc = connect_x(api, client)
    link = "https://example.com/" + "a" * 80  # 100 characters, 23 for X
    fits = _post(api, "b" * 250 + " " + link)           # 351 characters, 274 weighted
    too_long = _post(api, "b" * 270 + " " + link)       # 294 weighted
    assert api.post(f"/posts/{fits}/schedule", json={"account_ids": [acc.id],
                                                     "scheduled_at": soon()}).status_code == 201
    body = assert_error(api.post(f"/posts/{too_long}/schedule", json={
        "account_ids": [acc.id], "scheduled_at": soon()}), 422)
    assert body["errors"]["accounts"][str(acc.id)] == ["text is 294 characters; X allows 280"]
    cjk = _post(api, "日本語" * 47)  # 141 characters, each weighs 2
    body = assert_error(api.post(f"/posts/{cjk}/schedule", json={
        "account_ids": [acc.id], "scheduled_at": soon()}), 422)
    assert "282 characters" in str(body["errors"])


def test_check_endpoint_reports_without_scheduling(api, masto):
    acc = api.post("/accounts", json={"platform": "mastodon", "settings": {
        "instance_url": masto.url, "access_token": masto.token}}).json
    post = _post(api, "x" * 501)
    r = api.post(f"/posts/{post}/check", json={"account_ids": [acc["id"]]})
    assert r.status_code == 200
    assert r.json == {"ok": False, "accounts": {str(acc["id"]): ["text is 501 characters; Mastodon allows 500"]}}
    # Mastodon counts a link as 23 and a remote mention by its user name.
    ok = _post(api, "y" * 450 + " @bob@example.social https://example.com/" + "z" * 60)
    assert api.post(f"/posts/{ok}/check", json={"account_ids": [acc["id"]]}).json == {"ok": True, "accounts": {}}
    assert Publication.select().count() == 0


# --- quotas ---------------------------------------------------------------------

def test_daily_quota_is_shown_and_flags_a_post_that_would_exceed_it(api, client, x_fake, rt):
    acc = connect_x(api, client)
    assert api.patch(f"/accounts/{acc.id}", json={"settings": {"daily_post_limit": 1}}).status_code == 200
    at = datetime.now(timezone.utc).replace(microsecond=0) + timedelta(minutes=1)
    if at.date() != datetime.now(timezone.utc).date():
        at += timedelta(minutes=2)  # stay on one UTC day
    first, second = _post(api, "first today"), _post(api, "second today")
    r = api.post(f"/posts/{first}/schedule", json={"account_ids": [acc.id], "scheduled_at": at.isoformat()})
    assert r.status_code == 201, r.json
    body = assert_error(api.post(f"/posts/{second}/schedule", json={
        "account_ids": [acc.id], "scheduled_at": at.isoformat()}), 422)
    assert "allows 1 posts a day" in str(body["errors"])
    tomorrow = (at + timedelta(days=1)).isoformat()
    assert api.post(f"/posts/{second}/schedule", json={"account_ids": [acc.id],
                                                       "scheduled_at": tomorrow}).status_code == 201
    [quota] = api.get(f"/accounts/{acc.id}").json["quotas"]
    assert {k: quota[k] for k in ("unit", "limit", "used", "planned", "left")} == \
        {"unit": "posts", "limit": 1, "used": 0, "planned": 1, "left": 0}
    # Published: the plan turns into use, counted once.
    claimed = engine.claim_due(rt.config, now=utcnow() + timedelta(minutes=5))
    assert [engine.publish(rt.pm, rt.config, pid, c) for pid, c in claimed] == ["published"]
    [quota] = api.get(f"/accounts/{acc.id}").json["quotas"]
    assert (quota["used"], quota["planned"], quota["left"]) == (1, 0, 0)
    page = client.get("/accounts").get_data(as_text=True)
    assert 'data-quota="posts"' in page and "1</strong> used of 1 posts" in page


def test_publishing_waits_for_the_reset_when_the_quota_is_spent(api, client, x_fake, rt):
    from schedulerx import quotas
    acc = connect_x(api, client)
    api.patch(f"/accounts/{acc.id}", json={"settings": {"daily_post_limit": 2}})
    post = _post(api, "one more")
    [pub] = api.post(f"/posts/{post}/schedule", json={"account_ids": [acc.id], "scheduled_at": soon()}).json
    quotas.spend(acc.id, {"posts": 2})  # spent meanwhile (another tool, the same account)
    claimed = engine.claim_due(rt.config, now=utcnow() + timedelta(minutes=5))
    engine.publish(rt.pm, rt.config, *claimed[0])
    pub = Publication.get_by_id(pub["id"])
    assert (pub.status, pub.error_code) == ("retry_wait", "quota_exceeded")
    midnight = datetime.combine(utcnow().date() + timedelta(days=1), datetime.min.time())
    assert pub.next_attempt_at >= midnight - timedelta(seconds=1)
    assert x_fake.posts == []


# --- metrics and pages --------------------------------------------------------------

def test_metrics_are_read_and_kept(api, client, x_fake, rt):
    acc = connect_x(api, client)
    post = _post(api, "numbers please")
    [pub] = api.post(f"/posts/{post}/schedule", json={"account_ids": [acc.id], "scheduled_at": soon()}).json
    assert_error(api.post(f"/publications/{pub['id']}/metrics"), 409)
    claimed = engine.claim_due(rt.config, now=utcnow() + timedelta(minutes=5))
    engine.publish(rt.pm, rt.config, *claimed[0])
    r = api.post(f"/publications/{pub['id']}/metrics")
    assert r.status_code == 201, r.json
    assert {k: r.json[k] for k in ("views", "likes", "comments", "shares")} == \
        {"views": 120, "likes": 9, "comments": 2, "shares": 5}
    listed = api.get(f"/publications/{pub['id']}/metrics").json
    assert listed["total"] == 1 and listed["items"][0]["likes"] == 9


def test_accounts_page_shows_health_and_offers_sign_in(api, client, x_fake):
    acc = connect_x(api, client)
    Account.update(health="needs_reconnect", health_message="X refused to refresh the token").where(
        Account.id == acc.id).execute()
    page = client.get("/accounts").get_data(as_text=True)
    assert "needs reconnect" in page and "X refused to refresh the token" in page
    assert f"/accounts/{acc.id}/reconnect" in page and "Sign in with X" in page
    assert "data-token-expiry" in page


def test_platforms_describe_connect_style_lookup_and_quotas(api):
    found = {p["name"]: p for p in api.get("/platforms").json}
    assert (found["x"]["connect"], found["x"]["can_look_up"], found["x"]["idempotent"]) == ("oauth", True, False)
    assert found["x"]["quotas"][0]["setting"] == "daily_post_limit"
    assert (found["mastodon"]["connect"], found["mastodon"]["idempotent"]) == ("settings", True)
    assert found["mastodon"]["metrics"] is True


def test_sign_in_button_runs_the_flow_from_the_page(client, owner, x_fake):
    login(client)
    html = client.get("/accounts").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)
    assert client.post("/accounts/connect/x", data={"oauth_display_name": "Brand"}).status_code == 400  # no CSRF
    go = client.post("/accounts/connect/x", data={"csrf_token": token, "oauth_display_name": "Brand"})
    assert go.status_code == 302 and go.headers["Location"].startswith(f"{x_fake.url}/i/oauth2/authorize?")
    assert client.get(authorize(go.headers["Location"])).status_code == 302
    assert Account.get().display_name == "Brand"
