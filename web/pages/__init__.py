"""The Jinja pages: one blueprint per area, one shared layout with a fixed left sidebar."""
from __future__ import annotations

from importlib import import_module

from .helpers import register_template_helpers

#: Page modules; each defines ``bp``. ``home`` adds its views to the "pages" blueprint of
#: ``account`` (the endpoint ``pages.home`` is referenced elsewhere), so a blueprint may be
#: shared by two modules and is registered once.
MODULES = ("account", "home", "schedule", "schedule_calendar", "media", "accounts", "logs", "settings",
           "placeholders", "ai")


def register_pages(app) -> None:
    modules = [import_module(f"{__name__}.{name}") for name in MODULES]
    for bp in dict.fromkeys(m.bp for m in modules):
        app.register_blueprint(bp)
    register_template_helpers(app)
