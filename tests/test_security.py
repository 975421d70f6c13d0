"""Security checks derived from the app itself, so a new route cannot slip through.

Every rule of Flask's URL map is walked (each method, each value of an ``any``
converter): without credentials it is refused unless its view is marked public;
with another workspace's ids it answers exactly as for ids that do not exist;
with a session but no CSRF token every unsafe method is refused. Pages carry the
security headers and a CSRF token in every form; secrets never come back out.
"""
from __future__ import annotations

import itertools
import logging
import os
import re
from datetime import timedelta
from pathlib import Path

import pytest
from werkzeug.routing.converters import AnyConverter, IntegerConverter

from schedulerx import auth, engine
from schedulerx.models import Account, ApiToken, Event, MediaAsset, Post, Publication
from schedulerx.runtime import bootstrap
from schedulerx.timeutil import utcnow
from schedulerx_plugins.localstorage import LocalStorage
from schedulerx_plugins.webhook import targets
from schedulerx_web import auth as web_auth
from schedulerx_web.app import create_app

from .api_support import account, assert_error, png_bytes, testpub, upload  # noqa: F401
from .conftest import Api, make_config

UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}
MISSING_ID = 987654
API_SECRET = "platform-api-key-that-must-stay-secret"
PASSWORD = "correct horse battery"  # conftest's owner


@pytest.fixture
def config(tmp_path, sqlite_url):
    """These checks are about the web layer: SQLite is enough."""
    return make_config(tmp_path, sqlite_url)


# --- walking the URL map ------------------------------------------------------------

def is_public(app, endpoint: str) -> bool:
    """The same rule as auth._is_public: listed in PUBLIC or marked with ``public``."""
    view = app.view_functions[endpoint]
    return (endpoint in web_auth.PUBLIC or getattr(view, "schedulerx_public", False)
            or getattr(getattr(view, "view_class", None), "schedulerx_public", False))


def routes(app, ids: int = 1, *, api: bool | None = None, methods=None):
    """(endpoint, method, url) for every rule, method and ``any`` value, ids set to ``ids``."""
    for rule in app.url_map.iter_rules():
        if api is not None and rule.rule.startswith("/api/") != api:
            continue
        choices = []
        for name, conv in rule._converters.items():
            if isinstance(conv, AnyConverter):
                choices.append([(name, item) for item in sorted(conv.items)])
            elif isinstance(conv, IntegerConverter):
                choices.append([(name, ids)])
            else:
                choices.append([(name, "x")])
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            if methods and method not in methods:
                continue
            for combo in itertools.product(*choices):
                yield rule.endpoint, method, rule.build(dict(combo), append_unknown=False)[1]


def call(client, method, url, headers=None, form=None):
    """One request; unsafe ones carry an empty JSON body (API) or ``form`` (pages)."""
    kw = {}
    if method in UNSAFE:
        kw = {"json": {}} if url.startswith("/api/") else {"data": form or {}}
    return client.open(url, method=method, headers=headers or {}, **kw)


def snapshot() -> dict:
    """What a refused request must not have changed."""
    return {
        "posts": [(p.id, p.title, p.body, p.updated_at) for p in Post.select().order_by(Post.id)],
        "pubs": [(p.id, p.status, p.scheduled_at, p.due_at) for p in Publication.select().order_by(Publication.id)],
        "accounts": [(a.id, a.display_name, a.health, a.credentials) for a in Account.select().order_by(Account.id)],
        "media": [(m.id, m.filename, tuple(m.tags)) for m in MediaAsset.select().order_by(MediaAsset.id)],
        "tokens": [(t.id, t.revoked_at) for t in ApiToken.select().order_by(ApiToken.id)],
    }


@pytest.fixture
def seeded(app, api, account):  # noqa: F811
    """Workspace A owns one object of each kind, each with id 1."""
    r = upload(api, png_bytes())
    assert r.status_code == 201, r.json
    r = api.post("/posts", json={"title": "Mine", "body": "only for workspace A", "media": [1]})
    assert r.status_code == 201, r.json
    r = api.post("/posts/1/schedule", json={"account_ids": [account["id"]],
                                            "scheduled_at": "2099-01-01T09:00:00Z"})
    assert r.status_code == 201, r.json
    assert {m.id for m in (Post.get(), Publication.get(), Account.get(), MediaAsset.get(),
                           ApiToken.get())} == {1}
    return api


def login(client, email="owner@example.com", password=PASSWORD):
    html = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)
    r = client.post("/login", data={"email": email, "password": password, "csrf_token": token})
    assert r.status_code == 302, r.get_data(as_text=True)[:500]
    return r


def csrf_token(client) -> str:
    html = client.get("/settings").get_data(as_text=True)
    return re.search(r'<meta name="csrf-token" content="([^"]+)"', html).group(1)


def _refused_anonymously(r, url) -> bool:
    if url.startswith("/api/"):
        return r.status_code == 401 and set(r.json) == {"error_code", "error_message",
                                                        "error_class", "errors"}
    return r.status_code == 302 and "/login" in r.headers["Location"]


# --- authentication -------------------------------------------------------------------

def test_every_non_public_route_refuses_anonymous_callers(app, seeded):
    client = app.test_client()
    # A visitor who is not logged in still holds a valid CSRF token (from the login
    # page): what refuses below is authentication itself, not the CSRF check.
    html = client.get("/login").get_data(as_text=True)
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)
    before, checked, public = snapshot(), [], set()
    for endpoint, method, url in routes(app):
        if is_public(app, endpoint):
            public.add(endpoint)
            continue
        r = call(client, method, url, headers={"X-CSRFToken": csrf}, form={"csrf_token": csrf})
        assert _refused_anonymously(r, url), (method, url, r.status_code, r.get_data(as_text=True)[:300])
        checked.append((method, url))
    assert snapshot() == before
    assert len(checked) >= 40, checked  # the walk really walked
    # Public views are marked on purpose; none of them is under the API but health and docs assets.
    assert {e for e in public if e.startswith("api_")} <= {"api_health.Health"}


def test_bad_revoked_and_foreign_style_tokens_are_refused_on_every_api_route(app, client, seeded, owner):
    user, ws, _ = owner
    token_row, revoked = auth.create_token(user, ws, "to revoke")
    auth.revoke_token(ws.id, token_row.id)
    before = snapshot()
    for bearer in ("sx_not-a-real-token", revoked, ""):
        for endpoint, method, url in routes(app, api=True):
            if is_public(app, endpoint):
                continue
            r = call(client, method, url, headers={"Authorization": f"Bearer {bearer}"})
            assert_error(r, 401)
    assert snapshot() == before


# --- isolation between workspaces -----------------------------------------------------

def test_another_workspaces_ids_answer_as_if_they_did_not_exist(app, seeded, other_api):
    """Every route with an id, API and pages, every method: A's ids look missing to B."""
    before, compared = snapshot(), 0
    api_client = other_api.client
    page_client = app.test_client()
    login(page_client, "other@example.com", "another long password")
    csrf = csrf_token(page_client)
    for (endpoint, method, url), (_, _, missing_url) in zip(routes(app, 1), routes(app, MISSING_ID)):
        if url == missing_url or is_public(app, endpoint):  # no id in this route
            continue
        if url.startswith("/api/"):
            headers = {"Authorization": f"Bearer {other_api.token}"}
            foreign = call(api_client, method, url, headers=headers)
            missing = call(api_client, method, missing_url, headers=headers)
        else:
            foreign = call(page_client, method, url, form={"csrf_token": csrf})
            missing = call(page_client, method, missing_url, form={"csrf_token": csrf})
        assert foreign.status_code == missing.status_code, (method, url, foreign.status_code,
                                                            missing.status_code)
        assert foreign.status_code >= 400, (method, url, foreign.status_code)
        if method == "GET" and missing.status_code != 422:  # 422: its required query args
            assert foreign.status_code == 404, (method, url)
        if url.startswith("/api/"):
            assert foreign.json["error_code"] == missing.json["error_code"], (method, url)
        compared += 1
    assert snapshot() == before
    assert compared >= 15


# --- CSRF -----------------------------------------------------------------------------

def test_every_unsafe_route_refuses_a_session_without_the_csrf_token(app, client, seeded):
    login(client)
    before = snapshot()
    for endpoint, method, url in routes(app, methods=UNSAFE):
        r = call(client, method, url)
        assert r.status_code == 400, (method, url, r.status_code)
        if url.startswith("/api/"):
            assert_error(r, 400, "csrf_failed")
        r = call(client, method, url, headers={"X-CSRFToken": "forged"})
        assert r.status_code == 400, (method, url, "forged token", r.status_code)
    assert snapshot() == before


def _page_gets(app):
    for endpoint, method, url in routes(app, api=False, methods={"GET"}):
        if endpoint == "logs.stream" or url.startswith("/static/") or is_public(app, endpoint):
            continue
        yield url


def test_every_form_on_every_page_carries_the_csrf_token(app, client, seeded):
    from itsdangerous import URLSafeTimedSerializer
    login(client)
    client.get("/settings")  # the session's CSRF secret is made on the first page
    with client.session_transaction() as s:
        raw = s["csrf_token"]
    signer = URLSafeTimedSerializer(app.secret_key, salt="wtf-csrf-token")
    forms = 0
    for url in _page_gets(app):
        r = client.get(url)
        if r.status_code != 200:
            continue
        html = r.get_data(as_text=True)
        for form in re.findall(r"<form\b.*?</form>", html, flags=re.S | re.I):
            if not re.search(r'method="post"', form, flags=re.I):
                continue
            forms += 1
            found = re.search(r'name="csrf_token" value="([^"]+)"', form)
            assert found, (url, form[:300])
            assert signer.loads(found.group(1)) == raw, (url, "a token of another session")
    assert forms >= 5


# --- headers ----------------------------------------------------------------------------

def test_every_page_sends_the_security_headers_and_a_strict_csp(app, client, seeded):
    login(client)
    seen = 0
    for url in itertools.chain(_page_gets(app), ["/login", "/no-such-page"]):
        r = client.get(url)
        assert r.headers["X-Content-Type-Options"] == "nosniff", url
        assert r.headers["X-Frame-Options"] == "DENY", url
        assert r.headers["Referrer-Policy"] == "same-origin", url
        csp = r.headers["Content-Security-Policy"]
        assert "script-src 'self'" in csp and "unsafe-inline" not in csp, (url, csp)
        assert "frame-ancestors 'none'" in csp and "object-src 'none'" in csp
        seen += 1
    assert seen >= 10
    # API answers are not pages, but never sniffed either.
    assert seeded.get("/posts").headers["X-Content-Type-Options"] == "nosniff"


def test_the_session_cookie_is_http_only_and_same_site(client, owner):
    cookie = login(client).headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie


# --- media storage and uploads ------------------------------------------------------------

@pytest.mark.parametrize("key", ["../secret_key", "../../etc/passwd", "/etc/passwd",
                                 "ws1/../../outside", "ws1/../../../x", ".", ""])
def test_storage_keys_cannot_leave_the_media_root(config, key):
    store = LocalStorage(config)
    for op in (store.open, store.size, store.delete, store.local_path):
        with pytest.raises(ValueError):
            op(key)
    with pytest.raises(ValueError):
        store.save(key, iter(()))


def test_a_symlink_out_of_the_media_root_is_refused(config, tmp_path):
    store = LocalStorage(config)
    store.root.mkdir(parents=True, exist_ok=True)
    (tmp_path / "outside.txt").write_text("not media")
    os.symlink(tmp_path / "outside.txt", store.root / "link.png")
    with pytest.raises(ValueError):
        store.open("link.png")


def test_an_uploaded_file_name_does_not_choose_where_it_is_stored(api, config):
    r = upload(api, png_bytes(), filename="../../../../secret_key.png")
    assert r.status_code == 201, r.json
    asset = MediaAsset.get_by_id(r.json["id"])
    root = (Path(config.data_dir) / "media").resolve()
    stored = (root / asset.storage_key).resolve()
    assert stored.is_relative_to(root) and stored.is_file()
    assert ".." not in asset.storage_key


@pytest.mark.parametrize("data, name", [
    (b"<html><script>alert(1)</script></html>", "page.png"),
    (b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>', "image.svg"),
    (b"%PDF-1.4\n1 0 obj\n", "doc.jpg"),
    (b"MZ\x90\x00\x03" + b"\x00" * 64, "setup.mp4"),
])
def test_uploads_are_typed_by_their_bytes_and_only_media_is_kept(api, data, name):
    assert_error(upload(api, data, filename=name), 422)
    assert MediaAsset.select().count() == 0


def test_uploads_over_the_size_limit_are_refused(tmp_path, sqlite_url, pm):
    app = create_app(bootstrap(make_config(tmp_path, sqlite_url, max_upload_mb=1), pm=pm), TESTING=True)
    user, ws = auth.create_user("big@example.com", "a long enough password")
    api = Api(app.test_client(), auth.create_token(user, ws, "t")[1])
    assert_error(upload(api, png_bytes(padding=2 * 1024 * 1024)), 413)
    assert MediaAsset.select().count() == 0


def test_media_is_served_with_its_sniffed_type_never_sniffed_again(api):
    r = upload(api, png_bytes(), filename="looks-like.html")
    r = api.get(f"/media/{r.json['id']}/content")
    assert r.status_code == 200
    assert r.headers["Content-Type"] == "image/png"
    assert r.headers["X-Content-Type-Options"] == "nosniff"


# --- webhook targets ----------------------------------------------------------------------

@pytest.mark.parametrize("url", [
    "http://127.0.0.1/hook", "http://localhost:8080/hook", "http://[::1]/hook",
    "http://10.0.0.5/hook", "http://192.168.1.1/hook", "http://172.16.0.1/hook",
    "http://169.254.169.254/latest/meta-data", "http://0.0.0.0/hook",
    "http://[::ffff:127.0.0.1]/hook", "http://2130706433/hook", "http://0x7f.1/hook",
    "http://[fd00::1]/hook", "http://100.64.0.1/hook",
])
def test_webhooks_refuse_private_and_loopback_targets(url, monkeypatch):
    monkeypatch.delenv(targets.ALLOW_PRIVATE_ENV, raising=False)
    with pytest.raises(targets.TargetRefused):
        targets.resolve(url)


@pytest.mark.parametrize("url", ["ftp://127.0.0.1/x", "file:///etc/passwd", "gopher://[::1]/",
                                 "http:///nohost"])
def test_webhooks_refuse_other_schemes_even_when_private_targets_are_allowed(url, monkeypatch):
    monkeypatch.setenv(targets.ALLOW_PRIVATE_ENV, "1")
    with pytest.raises(targets.TargetRefused):
        targets.resolve(url)


def test_the_operator_can_allow_private_targets(monkeypatch):
    monkeypatch.setenv(targets.ALLOW_PRIVATE_ENV, "1")
    target = targets.resolve("http://127.0.0.1:9/hook")
    assert target.url == "http://127.0.0.1:9/hook" and target.host_header == "127.0.0.1:9"


# --- secrets ------------------------------------------------------------------------------

def test_secrets_never_appear_in_logs_events_or_api_output(app, client, rt, owner, testpub, caplog):  # noqa: F811
    caplog.set_level(logging.DEBUG)
    user, ws, token = owner
    api = Api(client, token)
    r = api.post("/accounts", json={"platform": "testpub", "display_name": "Secret feed",
                                    "settings": {"feed_name": "a", "api_key": API_SECRET}})
    assert r.status_code == 201, r.json
    r = api.post("/tokens", json={"name": "second"})
    assert r.status_code == 201, r.json
    new_token = r.json["token"]
    assert api.post("/posts", json={"body": "hello"}).status_code == 201
    r = api.post("/posts/1/schedule", json={"account_ids": [1], "scheduled_at": "2099-01-01T00:00:00Z"})
    assert r.status_code == 201, r.json
    Publication.update(due_at=utcnow() - timedelta(seconds=1)).execute()  # due now
    for pub_id, claim in engine.tick(rt.config).claimed:  # a real publish: the publisher reads the key
        assert engine.publish(rt.pm, rt.config, pub_id, claim) == "published"
    login(client)
    secrets = {"platform API key": API_SECRET, "API token": token, "new API token": new_token,
               "password": PASSWORD, "SECRET_KEY": rt.config.secret_key}
    outputs = {"logs": caplog.text, "config": repr(rt.config.masked())}
    outputs["events"] = "\n".join(f"{e.message} {e.data}" for e in Event.select())
    for endpoint, method, url in routes(app, methods={"GET"}):
        if endpoint in ("logs.stream", "static", "swagger_assets") or "/content" in url:
            continue
        headers = {"Authorization": f"Bearer {token}"} if url.startswith("/api/") else {}
        outputs[url] = client.get(url, headers=headers).get_data(as_text=True)
    assert len(outputs) > 25
    for where, text in outputs.items():
        for what, secret in secrets.items():
            assert secret not in text, f"the {what} appears in {where}"
    # The stored credentials are encrypted, not the plain key.
    assert API_SECRET not in Account.get_by_id(1).credentials
