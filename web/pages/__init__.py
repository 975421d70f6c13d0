"""The Jinja pages: one blueprint per area, one shared layout with a fixed left sidebar."""
from __future__ import annotations

from importlib import import_module

#: Page modules; each defines ``bp``.
MODULES = ("account",)


def register_pages(app) -> None:
    for name in MODULES:
        app.register_blueprint(import_module(f"{__name__}.{name}").bp)
