"""Every hook a SchedulerX plugin can implement.

Grouped by lifecycle. Each is documented with its exact signature in
docs/plugins.md; tests/test_hook_docs.py fails when one is not, and when a hook
has no ``test_hook_<name>`` test.
"""
from __future__ import annotations

import pluggy

hookspec = pluggy.HookspecMarker("schedulerx")


# --- Registries: what a plugin provides ---------------------------------------

@hookspec
def register_publishers():
    """Return a list of Publisher subclasses (see ``schedulerx.publishers``).

    Each class carries a ``PlatformDescriptor`` (name, label, limits) and a
    marshmallow ``settings_schema`` the dashboard renders as a form.
    """


@hookspec
def register_ai_providers():
    """Return a list of AI provider classes (name, label, settings_schema, generate)."""


@hookspec
def register_pipeline_stages():
    """Return a list of pipeline stage classes (name, label, settings_schema, run)."""


@hookspec
def register_storage_backends():
    """Return a list of Storage subclasses (see ``schedulerx.storage``)."""


# --- Process wiring ------------------------------------------------------------

@hookspec
def register_commands(cli):
    """Add commands to the ``schedulerx`` click group ``cli``."""


@hookspec
def register_routes():
    """Return a list of ``Route(rule, endpoint, view, public)`` the web app serves.

    A view returns what a Flask view returns; ``public`` routes need no login.
    """


@hookspec
def dashboard_nav(workspace):
    """Return a list of ``NavItem(label, href, icon)`` to add to the sidebar."""


@hookspec
def start_embedded(config):
    """Start background services inside the embedded single process.

    Return a callable that stops them (it is called on shutdown, and must wait
    for work in hand), or None. The workers plugin starts its worker threads and
    the clock here.
    """


@hookspec(firstresult=True)
def dispatch_tick():
    """Ask the execution layer for a tick now. Return True when it was sent.

    Stops at the first non-None result. The workers plugin implements it; the
    web app calls it for "run scheduler now".
    """


# --- Events --------------------------------------------------------------------

@hookspec
def publication_status_changed(publication, old_status, new_status):
    """Called after a publication's status changed and the change was committed.

    :param publication: the ``Publication`` row, as committed.
    :param old_status: the status before the change.
    :param new_status: the status after it.
    """
