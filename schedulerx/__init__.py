"""SchedulerX core: domain model, services, scheduling engine, hooks and plugin manager.

The core never imports Flask or Dramatiq; the web app, the workers and every
plugin depend on it, never the other way round.
"""
import pluggy

__version__ = "0.1.0"

#: Plugins decorate their hook implementations with this marker:
#: ``from schedulerx import hookimpl``.
hookimpl = pluggy.HookimplMarker("schedulerx")

__all__ = ["hookimpl", "__version__"]
