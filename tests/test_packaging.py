"""Layout rules from DESIGN.md, checked: import names, dependency direction, entry points."""
from __future__ import annotations

import ast
import tomllib
from importlib.metadata import entry_points
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
FOLDERS = {"schedulerx": "schedulerx", "schedulerx_web": "web",
           "schedulerx_workers": "workers", "schedulerx_plugins": "plugins"}


def _imports(folder: str) -> set[str]:
    names = set()
    for path in (ROOT / folder).rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names |= {a.name.split(".")[0] for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names.add(node.module.split(".")[0])
    return names


def test_every_installed_name_starts_with_schedulerx():
    packages = PYPROJECT["tool"]["setuptools"]["packages"]
    assert all(p.startswith("schedulerx") for p in packages)
    assert PYPROJECT["tool"]["setuptools"]["package-dir"] == FOLDERS


def test_every_package_folder_is_listed():
    packages = set(PYPROJECT["tool"]["setuptools"]["packages"])
    for name, folder in FOLDERS.items():
        for init in (ROOT / folder).rglob("__init__.py"):
            rel = init.parent.relative_to(ROOT / folder).parts
            assert ".".join((name, *rel)) in packages, f"{init.parent} is not packaged"


def test_core_imports_neither_flask_nor_dramatiq_nor_the_other_parts():
    forbidden = {"flask", "flask_smorest", "flask_wtf", "werkzeug", "dramatiq", "waitress",
                 "schedulerx_web", "schedulerx_workers", "schedulerx_plugins"}
    assert not _imports("schedulerx") & forbidden


def test_plugins_and_workers_do_not_import_the_web_app():
    assert "schedulerx_web" not in _imports("plugins") | _imports("workers")
    assert "schedulerx_workers" not in _imports("plugins") | _imports("web")


def test_first_party_plugins_register_through_the_entry_point_group():
    declared = PYPROJECT["project"]["entry-points"]["schedulerx"]
    installed = {ep.name: ep.value for ep in entry_points(group="schedulerx")}
    for name, value in declared.items():
        assert installed.get(name) == value, f"entry point {name} is not installed; pip install -e ."
