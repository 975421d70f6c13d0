"""Configuration: defaults for the embedded mode, environment, .env, masking, the stored key."""
from __future__ import annotations

import os

from click.testing import CliRunner

from schedulerx.cli import cli
from schedulerx.config import load_config


def test_defaults_make_an_embedded_setup(tmp_path, monkeypatch):
    for var in ("DATABASE_URL", "BROKER_URL", "SECRET_KEY", "SCHEDULERX_SECRET_KEY"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.chdir(tmp_path)
    cfg = load_config(data_dir=tmp_path / "d")
    assert cfg.database_url == f"sqlite:///{tmp_path / 'd' / 'schedulerx.db'}"
    assert cfg.broker_url == "memory://"
    # The secret key is generated once, stored 0600, and reused.
    key_file = tmp_path / "d" / "secret_key"
    assert key_file.stat().st_mode & 0o777 == 0o600
    assert load_config(data_dir=tmp_path / "d").secret_key == cfg.secret_key == key_file.read_text()


def test_environment_and_dotenv(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".env").write_text("SCHEDULERX_TICK_INTERVAL=2.5\nBROKER_URL=redis://127.0.0.1:6379/3\n")
    monkeypatch.delenv("BROKER_URL", raising=False)
    monkeypatch.delenv("SCHEDULERX_TICK_INTERVAL", raising=False)
    monkeypatch.setenv("DATABASE_URL", "postgresql://sx:hunter2@db.internal/sx")
    try:
        cfg = load_config(data_dir=tmp_path / "d")
    finally:  # load_dotenv writes to os.environ; keep other tests clean
        for var in ("BROKER_URL", "SCHEDULERX_TICK_INTERVAL"):
            os.environ.pop(var, None)
    assert cfg.tick_interval == 2.5 and cfg.broker_url == "redis://127.0.0.1:6379/3"
    masked = cfg.masked()
    assert "hunter2" not in masked["database_url"] and masked["database_url"].startswith("postgresql://sx:")
    assert cfg.secret_key not in masked["secret_key"]


def test_config_command_masks_secrets(tmp_path, monkeypatch):
    monkeypatch.setenv("SCHEDULERX_DATA_DIR", str(tmp_path / "d"))
    monkeypatch.setenv("SCHEDULERX_SECRET_KEY", "super-secret-value-123")
    result = CliRunner().invoke(cli, ["config"])
    assert result.exit_code == 0, result.output
    assert "super-secret-value-123" not in result.output and "secret_key" in result.output
    assert "memory://" in result.output, result.output
