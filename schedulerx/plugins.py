"""The plugin manager: hook specs, entry-point loading, lookups of what plugins provide.

Every plugin, first-party or from PyPI, comes in through the ``schedulerx``
entry-point group. Each entry point loads on its own: a broken one is logged and
listed in ``load_errors`` (shown on the status endpoint), and the app goes on.

Environment:
  SCHEDULERX_PLUGINS       comma-separated entry-point names to load (default: all)
  SCHEDULERX_TRACE_HOOKS   1 to log every hook call
"""
from __future__ import annotations

import logging
import os
import threading
import traceback
from dataclasses import dataclass
from importlib.metadata import entry_points

import pluggy

from . import hookspecs

log = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "schedulerx"


@dataclass
class LoadError:
    name: str
    value: str
    error: str
    traceback: str

    def as_dict(self) -> dict:
        return {"name": self.name, "entry_point": self.value, "error": self.error}


class PluginManager(pluggy.PluginManager):
    def __init__(self, only: set[str] | None = None):
        super().__init__(ENTRY_POINT_GROUP)
        self.add_hookspecs(hookspecs)
        self.only = only
        self.load_errors: list[LoadError] = []
        if os.environ.get("SCHEDULERX_TRACE_HOOKS"):
            self.trace.root.setwriter(log.info)
            self.enable_tracing()

    def load_entry_points(self) -> None:
        for ep in entry_points(group=ENTRY_POINT_GROUP):
            if self.only is not None and ep.name not in self.only:
                continue
            if self.get_plugin(ep.name) is not None or self.is_blocked(ep.name):
                continue
            try:
                self.register(ep.load(), name=ep.name)
                # A misspelt hook name is this plugin's load error, not a silent no-op.
                try:
                    self.check_pending()
                except pluggy.PluginValidationError:
                    self.unregister(name=ep.name)
                    raise
            except Exception as exc:  # one broken plugin must not stop the app
                log.error("plugin %s (%s) failed to load: %s", ep.name, ep.value, exc)
                self.load_errors.append(LoadError(ep.name, ep.value, f"{type(exc).__name__}: {exc}",
                                                  traceback.format_exc()))

    # --- lookups --------------------------------------------------------------

    def _by_name(self, hook) -> dict:
        found = {}
        for group in hook():
            for cls in group or ():
                found.setdefault(cls.name, cls)
        return found

    def publishers(self) -> dict:
        return self._by_name(self.hook.register_publishers)

    def publisher(self, platform: str):
        from .errors import ValidationError
        cls = self.publishers().get(platform)
        if cls is None:
            raise ValidationError(f"no publisher plugin for platform {platform!r}", field="platform")
        return cls

    def storage_backends(self) -> dict:
        return self._by_name(self.hook.register_storage_backends)

    def ai_providers(self) -> dict:
        return self._by_name(self.hook.register_ai_providers)

    def pipeline_stages(self) -> dict:
        return self._by_name(self.hook.register_pipeline_stages)

    def plugin_info(self) -> list[dict]:
        return [{"name": name, "hooks": sorted(h.name for h in self.get_hookcallers(plugin) or [])}
                for name, plugin in self.list_name_plugin() if plugin is not None]


_pm: PluginManager | None = None
_lock = threading.Lock()


def make_plugin_manager(only: str | None = None) -> PluginManager:
    """Build a manager, load the entry points, check hook names."""
    names = only if only is not None else os.environ.get("SCHEDULERX_PLUGINS", "")
    pm = PluginManager({n.strip() for n in names.split(",") if n.strip()} or None)
    pm.load_entry_points()
    return pm


def get_plugin_manager() -> PluginManager:
    """The process-wide manager, built on first use."""
    global _pm
    with _lock:
        if _pm is None:
            _pm = make_plugin_manager()
        return _pm


def set_plugin_manager(pm: PluginManager | None) -> None:
    global _pm
    with _lock:
        _pm = pm
