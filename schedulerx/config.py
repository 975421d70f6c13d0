"""Configuration from environment variables (and a ``.env`` file).

Every setting has a default that makes the embedded mode work on a machine with
nothing but Python: a SQLite file and an in-process broker under the data folder.
"""
from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field, fields
from pathlib import Path

from dotenv import load_dotenv

SECRET_NAMES = {"secret_key"}


@dataclass(frozen=True)
class Config:
    data_dir: Path
    database_url: str
    broker_url: str
    secret_key: str
    tick_interval: float = 1.0
    claim_batch: int = 500
    queue_lease: float = 300.0
    publish_lease: float = 600.0
    heartbeat_interval: float = 5.0
    worker_threads: int = 8
    host: str = "127.0.0.1"
    port: int = 8000
    base_url: str = ""
    max_upload_mb: int = 512
    plugins: str = ""
    # API requests per token and per workspace (flask-limiter syntax; "off" disables):
    # sustained 10/s over a minute, bursts up to 20 in one second.
    rate_limit: str = "20/second;600/minute"
    #: Per-platform settings set in code (tests, embedding): {"x": {"client_id": …}}.
    #: Read through ``platform_setting``, which falls back to the environment.
    platforms: dict = field(default_factory=dict)

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def public_base_url(self) -> str:
        return (self.base_url or f"http://{self.host}:{self.port}").rstrip("/")

    def platform_setting(self, platform: str, key: str, default: str | None = None) -> str | None:
        """An operator setting of one platform: OAuth client, base URL overrides, …

        ``platforms[platform][key]`` when given, else the environment variable
        ``SCHEDULERX_<PLATFORM>_<KEY>`` (e.g. ``SCHEDULERX_X_CLIENT_ID``,
        ``SCHEDULERX_X_API_URL``), else ``default``.
        """
        given = (self.platforms.get(platform) or {}).get(key)
        if given not in (None, ""):
            return given
        env = f"SCHEDULERX_{platform}_{key}".upper().replace("-", "_")
        return os.environ.get(env) or default

    def masked(self) -> dict[str, str]:
        """Settings as strings, with secrets and URL passwords masked."""
        out = {}
        for f in fields(self):
            value = str(getattr(self, f.name))
            if f.name == "platforms":
                value = str({p: {k: ("***" if "secret" in k else v) for k, v in (s or {}).items()}
                             for p, s in self.platforms.items()})
            elif f.name in SECRET_NAMES:
                value = value[:4] + "…" + "*" * 8 if value else ""
            elif "://" in value and "@" in value:
                scheme, rest = value.split("://", 1)
                creds, host = rest.rsplit("@", 1)
                user = creds.split(":", 1)[0]
                value = f"{scheme}://{user}:***@{host}" if ":" in creds else value
            out[f.name] = value
        return out


# Names the platform conventions (12-factor, Procfile hosts) also read bare.
BARE_NAMES = {"DATABASE_URL", "BROKER_URL", "SECRET_KEY", "PORT"}


def _env(name: str, default: str | None = None) -> str | None:
    value = os.environ.get(f"SCHEDULERX_{name}")
    if value is None and name in BARE_NAMES:
        value = os.environ.get(name)
    return default if value in (None, "") else value


def _secret_key(data_dir: Path) -> str:
    """Read SECRET_KEY, else the key stored on first run, else make and store one."""
    given = _env("SECRET_KEY")
    if given:
        return given
    path = data_dir / "secret_key"
    if path.exists():
        return path.read_text().strip()
    data_dir.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    # O_EXCL: two processes starting at once agree on one key.
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text().strip()
    with os.fdopen(fd, "w") as fh:
        fh.write(key)
    return key


def load_config(**overrides) -> Config:
    """Build the effective configuration: overrides, then environment, then defaults."""
    load_dotenv(os.environ.get("SCHEDULERX_ENV_FILE", ".env"), override=False)
    data_dir = Path(overrides.pop("data_dir", None) or _env("DATA_DIR", "data")).resolve()
    values = dict(
        data_dir=data_dir,
        database_url=_env("DATABASE_URL") or f"sqlite:///{data_dir / 'schedulerx.db'}",
        broker_url=_env("BROKER_URL") or "memory://",
        tick_interval=float(_env("TICK_INTERVAL", "1.0")),
        claim_batch=int(_env("CLAIM_BATCH", "500")),
        queue_lease=float(_env("QUEUE_LEASE", "300")),
        publish_lease=float(_env("PUBLISH_LEASE", "600")),
        heartbeat_interval=float(_env("HEARTBEAT_INTERVAL", "5")),
        worker_threads=int(_env("WORKER_THREADS", "8")),
        host=_env("HOST", "127.0.0.1"),
        port=int(_env("PORT", "8000")),
        base_url=_env("BASE_URL", ""),
        max_upload_mb=int(_env("MAX_UPLOAD_MB", "512")),
        plugins=_env("PLUGINS", ""),
        rate_limit=_env("RATE_LIMIT", "20/second;600/minute"),
    )
    values.update(overrides)
    if "secret_key" not in values:
        values["secret_key"] = _secret_key(data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)
    return Config(**values)
