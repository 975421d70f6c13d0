"""What the scaled benchmark's ``dramatiq`` worker processes import: the product's own
worker set-up, plus the no-op publisher (which is not an installed entry point)."""
from __future__ import annotations


def setup() -> None:
    from schedulerx.plugins import get_plugin_manager
    from schedulerx_workers.entry import setup as workers_setup

    from . import noop
    get_plugin_manager().register(noop, name="bench-noop")
    workers_setup()
