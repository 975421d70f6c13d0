"""Start-up shared by every process: configuration, database, plugins."""
from __future__ import annotations

import logging
from dataclasses import dataclass

from . import db
from .config import Config, load_config
from .plugins import PluginManager, get_plugin_manager

log = logging.getLogger(__name__)


@dataclass
class Runtime:
    config: Config
    pm: PluginManager


_runtime: Runtime | None = None


def bootstrap(config: Config | None = None, *, upgrade: bool = True,
              pm: PluginManager | None = None) -> Runtime:
    """Bind the database, apply migrations (unless told not to), load plugins."""
    global _runtime
    config = config or load_config()
    db.bind(config.database_url)
    if upgrade:
        applied = db.upgrade()
        if applied:
            log.info("database upgraded: %s", ", ".join(applied))
    _runtime = Runtime(config, pm or get_plugin_manager())
    return _runtime


def current() -> Runtime:
    """The runtime of this process; bootstrapped with defaults on first use."""
    return _runtime or bootstrap()
