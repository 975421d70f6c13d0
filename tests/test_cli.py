"""The schedulerx command: upgrade, create-user, create-token, status."""
from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from schedulerx import db
from schedulerx.cli import cli


@pytest.fixture
def env(tmp_path, monkeypatch, sqlite_url):
    monkeypatch.setenv("SCHEDULERX_DATA_DIR", str(tmp_path / "d"))
    monkeypatch.setenv("SCHEDULERX_DATABASE_URL", sqlite_url)
    monkeypatch.setenv("SCHEDULERX_SECRET_KEY", "k" * 40)
    yield
    db.database.close()


def test_upgrade_then_user_token_status(env):
    runner = CliRunner()
    assert "0001_initial" in runner.invoke(cli, ["upgrade"]).output
    assert "up to date" in runner.invoke(cli, ["upgrade"]).output
    r = runner.invoke(cli, ["create-user", "--email", "A@Example.com", "--password", "long enough pw"])
    assert r.exit_code == 0 and "a@example.com" in r.output
    r = runner.invoke(cli, ["create-user", "--email", "a@example.com", "--password", "long enough pw"])
    assert r.exit_code != 0 and "already exists" in r.output
    r = runner.invoke(cli, ["create-user", "--email", "b@example.com", "--password", "short"])
    assert r.exit_code != 0 and "8 characters" in r.output
    r = runner.invoke(cli, ["create-token", "--email", "a@example.com", "--name", "n8n"])
    assert r.exit_code == 0 and r.output.strip().startswith("sx_")
    r = runner.invoke(cli, ["create-token", "--email", "nobody@example.com", "--name", "x"])
    assert r.exit_code != 0
    r = runner.invoke(cli, ["status"])
    assert r.exit_code == 0
    status = json.loads(r.output)
    assert status["counts"]["scheduled"] == 0 and status["clock_alive"] is False
