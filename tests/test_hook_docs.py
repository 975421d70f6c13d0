"""Docs and code check each other (as Datasette's do).

* every hook in schedulerx/hookspecs.py is documented in docs/plugins.md under a
  heading with its exact signature, and every documented hook exists;
* every hook has a ``test_hook_<name>`` test somewhere under tests/;
* every Python example in docs/plugins.md parses, and every ``@hookimpl`` in them
  names a real hook with arguments the hook provides.
"""
from __future__ import annotations

import ast
import inspect
import re
import textwrap
from pathlib import Path

import pytest

from schedulerx import hookspecs

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs" / "plugins.md"
TESTS = ROOT / "tests"


def hooks() -> dict[str, object]:
    return {name: fn for name, fn in inspect.getmembers(hookspecs, inspect.isfunction)
            if hasattr(fn, "schedulerx_spec")}


def signature(fn) -> str:
    """``publication_status_changed(publication, old_status, new_status)``."""
    return f"{fn.__name__}{inspect.signature(fn)}"


def documented_headings() -> list[str]:
    """The code spans of the docs' headings: ``#### `name(args)` `` → ``name(args)``."""
    return [code for line in DOCS.read_text().splitlines() if line.startswith("#")
            for code in re.findall(r"`([^`]+)`", line)]


def python_examples() -> list[str]:
    return re.findall(r"```python\n(.*?)```", DOCS.read_text(), flags=re.S)


def test_hookspecs_are_found():
    assert {"register_publishers", "publication_status_changed"} <= set(hooks())


@pytest.mark.parametrize("name", sorted(hooks()))
def test_hook_is_documented_with_its_exact_signature(name):
    sig = signature(hooks()[name])
    assert sig in documented_headings(), (
        f"docs/plugins.md has no heading with `{sig}`: document the hook {name}")


def test_every_documented_hook_exists():
    known = {signature(fn) for fn in hooks().values()}
    calls = [c for c in documented_headings() if re.fullmatch(r"\w+\(.*\)", c)]
    assert calls, "no hook headings found in docs/plugins.md"
    assert [c for c in calls if c not in known] == []


def _test_functions() -> set[str]:
    names = set()
    for path in TESTS.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                names.add(node.name)
    return names


@pytest.mark.parametrize("name", sorted(hooks()))
def test_hook_has_a_test(name):
    assert f"test_hook_{name}" in _test_functions(), (
        f"no test_hook_{name} under tests/: add one that exercises the hook")


def _is_hookimpl(decorator) -> bool:
    target = decorator.func if isinstance(decorator, ast.Call) else decorator
    return (isinstance(target, ast.Name) and target.id == "hookimpl") or \
        (isinstance(target, ast.Attribute) and target.attr == "hookimpl")


@pytest.mark.parametrize("n", range(len(python_examples())))
def test_python_examples_parse_and_implement_real_hooks(n):
    tree = ast.parse(textwrap.dedent(python_examples()[n]))
    specs = hooks()
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef) and any(map(_is_hookimpl, node.decorator_list)):
            assert node.name in specs, f"example implements unknown hook {node.name}"
            args = [a.arg for a in node.args.args if a.arg != "self"]
            allowed = list(inspect.signature(specs[node.name]).parameters)
            assert set(args) <= set(allowed), f"{node.name}{tuple(args)}: the hook gives {allowed}"
