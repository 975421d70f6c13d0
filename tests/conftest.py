"""Fixtures that start real components: SQLite and PostgreSQL databases, brokers, the app.

A test that needs a service that is not running skips with the reason, except
under CI (CI=true), where a missing service fails the run.
"""
from __future__ import annotations

import os
import socket
import uuid
from urllib.parse import urlparse

import peewee
import pytest

from schedulerx import db
from schedulerx.config import load_config
from schedulerx.models import ALL_MODELS
from schedulerx.plugins import make_plugin_manager
from schedulerx.runtime import bootstrap

POSTGRES_URL = os.environ.get("SCHEDULERX_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("SCHEDULERX_TEST_REDIS", "redis://127.0.0.1:6379/15")
IN_CI = os.environ.get("CI", "").lower() == "true"


def need(service: str, reason: str):
    """Skip (or, under CI, fail) when ``service`` is unavailable."""
    if IN_CI:
        pytest.fail(f"{service} is required under CI: {reason}")
    pytest.skip(f"{service} unavailable: {reason}")


def _port_open(url: str, default_port: int) -> bool:
    u = urlparse(url)
    try:
        with socket.create_connection((u.hostname or "127.0.0.1", u.port or default_port), timeout=1):
            return True
    except OSError:
        return False


@pytest.fixture(scope="session")
def postgres_url():
    if not _port_open(POSTGRES_URL, 5432):
        need("PostgreSQL", f"nothing answers at {POSTGRES_URL}")
    return POSTGRES_URL


@pytest.fixture(scope="session")
def redis_url():
    if not _port_open(REDIS_URL, 6379):
        need("Redis", f"nothing answers at {REDIS_URL}")
    return REDIS_URL


def _fresh_postgres(base_url: str) -> str:
    """A database URL whose search_path is a new, empty schema of its own."""
    schema = "t_" + uuid.uuid4().hex[:12]
    admin = db.make_database(base_url)
    admin.execute_sql(f'CREATE SCHEMA "{schema}"')
    admin.close()
    sep = "&" if "?" in base_url else "?"
    return f"{base_url}{sep}options=-csearch_path%3D{schema}", schema


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request, tmp_path):
    """Each test runs on SQLite and on PostgreSQL, each time on an empty database."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'test.db'}"
        return
    base = request.getfixturevalue("postgres_url")
    url, schema = _fresh_postgres(base)
    yield url
    db.database.close() if not db.database.is_closed() else None
    admin = db.make_database(base)
    admin.execute_sql(f'DROP SCHEMA "{schema}" CASCADE')
    admin.close()


@pytest.fixture
def sqlite_url(tmp_path):
    """For tests that are about behaviour, not the database: SQLite only."""
    return f"sqlite:///{tmp_path / 'test.db'}"


def make_config(tmp_path, database_url, **overrides):
    # Tests call the API far faster than any client may: the limits have their own
    # tests (test_ratelimit.py), which set them.
    overrides.setdefault("rate_limit", "off")
    return load_config(data_dir=tmp_path / "data", database_url=database_url,
                       secret_key="test-secret-key-" + "x" * 32, **overrides)


@pytest.fixture
def config(tmp_path, database_url):
    return make_config(tmp_path, database_url)


@pytest.fixture
def pm():
    return make_plugin_manager(only="")


@pytest.fixture
def rt(config, pm):
    runtime = bootstrap(config, pm=pm)
    yield runtime
    if not db.database.is_closed():
        db.database.close()


@pytest.fixture
def owner(rt):
    """A user owning a workspace, and a bearer token for them."""
    from schedulerx import auth
    user, ws = auth.create_user("owner@example.com", "correct horse battery", timezone="Europe/Berlin",
                                workspace_name="Studio")
    _, token = auth.create_token(user, ws, "tests")
    return user, ws, token


@pytest.fixture
def app(rt):
    from schedulerx_web.app import create_app
    app = create_app(rt, TESTING=True)
    return app


@pytest.fixture
def client(app):
    return app.test_client()


class Api:
    """A test client that talks to /api/v1 with a bearer token."""

    def __init__(self, client, token):
        self.client, self.token = client, token

    def __getattr__(self, method):
        def call(path, **kw):
            headers = {"Authorization": f"Bearer {self.token}", **kw.pop("headers", {})}
            return getattr(self.client, method)(f"/api/v1{path}", headers=headers, **kw)
        return call


@pytest.fixture
def api(client, owner):
    return Api(client, owner[2])


@pytest.fixture
def other_api(client, rt):
    """A second workspace with its own user and token, for isolation tests."""
    from schedulerx import auth
    user, ws = auth.create_user("other@example.com", "another long password", workspace_name="Other")
    _, token = auth.create_token(user, ws, "other")
    return Api(client, token)
