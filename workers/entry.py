"""What ``dramatiq`` imports in each worker process: bootstrap, then bind the broker."""
from __future__ import annotations


def setup() -> None:
    from schedulerx.runtime import bootstrap

    from .broker import install

    # The web process or `schedulerx upgrade` migrates; a worker only checks out.
    rt = bootstrap(upgrade=False)
    install(rt.config)
