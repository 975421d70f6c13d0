"""Plain descriptions plugins return to the web layer, without importing Flask."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable


@dataclass(frozen=True)
class Route:
    """A URL the web app serves for a plugin. ``view`` returns what a Flask view returns."""
    rule: str
    endpoint: str
    view: Callable
    methods: tuple[str, ...] = ("GET",)
    public: bool = False


@dataclass(frozen=True)
class NavItem:
    label: str
    href: str
    icon: str = ""
