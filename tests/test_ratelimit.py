"""Rate limits per token and per workspace: 429, Retry-After, the standard error body;
counters in memory (embedded) or in Redis shared by every web process (scaled)."""
from __future__ import annotations

import pytest
import redis

from schedulerx import auth
from schedulerx.runtime import bootstrap
from schedulerx_web.app import create_app

from .api_support import assert_error
from .conftest import Api, make_config

LIMIT = "3/minute"


def _app(tmp_path, url, pm, **overrides):
    config = make_config(tmp_path, url, rate_limit=LIMIT, **overrides)
    return create_app(bootstrap(config, pm=pm), TESTING=True)


@pytest.fixture
def limited(tmp_path, sqlite_url, pm):
    return _app(tmp_path, sqlite_url, pm)


def _workspace(client, email):
    user, ws = auth.create_user(email, "a long enough password", workspace_name=email)
    return user, ws, Api(client, auth.create_token(user, ws, "t")[1])


def _assert_limited(r, scope: str):
    body = assert_error(r, 429, "rate_limited")
    assert scope in body["error_message"], body
    assert int(r.headers["Retry-After"]) >= 1


def test_a_token_past_its_limit_gets_429_with_retry_after(limited):
    client = limited.test_client()
    _, _, api = _workspace(client, "a@example.com")
    _, _, other = _workspace(client, "b@example.com")
    for _ in range(3):
        assert api.get("/posts").status_code == 200
    _assert_limited(api.get("/posts"), "token")
    _assert_limited(api.post("/posts", json={"body": "x"}), "token")  # writes too
    # Another workspace's token has its own budget.
    assert other.get("/posts").status_code == 200


def test_the_workspace_limit_spans_its_tokens_and_sessions(limited):
    client = limited.test_client()
    user, ws, api = _workspace(client, "a@example.com")
    second = Api(client, auth.create_token(user, ws, "second")[1])
    assert api.get("/posts").status_code == 200
    assert second.get("/posts").status_code == 200
    with client.session_transaction() as s:  # the dashboard's own API calls count too
        s["user_id"], s["workspace_id"] = user.id, ws.id
    assert client.get("/api/v1/posts").status_code == 200
    _assert_limited(second.get("/posts"), "workspace")


def test_unauthenticated_and_page_requests_are_not_counted(limited):
    client = limited.test_client()
    _workspace(client, "a@example.com")
    for _ in range(5):
        assert client.get("/api/v1/health").status_code == 200
        assert client.get("/login").status_code == 200
        assert client.get("/api/v1/posts").status_code == 401  # refused, not limited


def test_off_disables_the_limits(tmp_path, sqlite_url, pm):
    app = create_app(bootstrap(make_config(tmp_path, sqlite_url, rate_limit="off"), pm=pm),
                     TESTING=True)
    _, _, api = _workspace(app.test_client(), "a@example.com")
    assert all(api.get("/posts").status_code == 200 for _ in range(10))


@pytest.mark.redis
def test_scaled_web_processes_share_counters_in_redis(tmp_path, sqlite_url, pm, redis_url):
    r = redis.Redis.from_url(redis_url)
    for key in r.scan_iter("LIMITS*schedulerx*"):
        r.delete(key)
    try:
        first = _app(tmp_path, sqlite_url, pm, broker_url=redis_url)
        second = create_app(bootstrap(first.extensions["schedulerx"].config, pm=pm), TESTING=True)
        _, _, api1 = _workspace(first.test_client(), "a@example.com")
        api2 = Api(second.test_client(), api1.token)
        assert api1.get("/posts").status_code == 200
        assert api2.get("/posts").status_code == 200
        assert api1.get("/posts").status_code == 200
        _assert_limited(api2.get("/posts"), "token")
        assert any(r.scan_iter("LIMITS*schedulerx*"))
    finally:
        for key in r.scan_iter("LIMITS*schedulerx*"):
            r.delete(key)


def test_a_redis_outage_does_not_take_the_api_down(tmp_path, sqlite_url, pm):
    import socket
    with socket.socket() as s:  # a port with nothing behind it
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    app = _app(tmp_path, sqlite_url, pm, broker_url=f"redis://127.0.0.1:{port}/0")
    _, _, api = _workspace(app.test_client(), "a@example.com")
    assert [api.get("/posts").status_code for _ in range(5)] == [200] * 5
