"""What ``dramatiq`` imports in each worker process: bootstrap, then bind the broker."""
from __future__ import annotations


def setup() -> None:
    from schedulerx.runtime import bootstrap

    from .broker import install

    rt = bootstrap()
    install(rt.config)
