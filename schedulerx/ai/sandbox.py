"""Rendering prompt templates in Jinja's sandbox: no Python internals, bounded work.

``jinja2.sandbox.ImmutableSandboxedEnvironment`` refuses attributes such as
``__class__``, ``__globals__`` or ``mro`` and any mutation of the variables. On top:
undefined names are errors (a typo is caught when the template is saved), the
output and the sizes of ``range``, ``*`` and ``**`` are capped, and no template can
include or extend another (there is no loader).
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from jinja2 import StrictUndefined, TemplateError, TemplateSyntaxError, UndefinedError
from jinja2.sandbox import ImmutableSandboxedEnvironment, SecurityError

from ..errors import ValidationError

BODY_MAX = 20_000  # characters of template source
OUTPUT_MAX = 50_000  # characters of rendered prompt
RANGE_BUDGET = 10_000  # items of all range() calls in one render, loops within loops included
OPERAND_MAX = 10_000  # the largest count a sequence may be multiplied by, or a power raised to


class TemplateProblem(ValidationError):
    """A template that cannot be rendered: syntax, unknown variable, sandbox refusal."""
    code = "template_error"


class _Env(ImmutableSandboxedEnvironment):
    intercepted_binops = frozenset({"*", "**"})

    def call_binop(self, context, operator, left, right):
        if operator == "**" and isinstance(right, (int, float)) and abs(right) > 100:
            raise SecurityError("exponent too large")
        if operator == "*":
            for a, b in ((left, right), (right, left)):
                if isinstance(a, (str, list, tuple)) and isinstance(b, int) and b * len(a) > OPERAND_MAX:
                    raise SecurityError("sequence repetition too large")
        return super().call_binop(context, operator, left, right)


_USES_LOADER = re.compile(r"{%-?\s*(include|import|from|extends)\b")
_ENV = _Env(undefined=StrictUndefined, autoescape=False, trim_blocks=True, lstrip_blocks=True)


def _budgeted_range():
    left = [RANGE_BUDGET]

    def safe_range(*args):
        r = range(*args)
        left[0] -= len(r)
        if left[0] < 0:
            raise SecurityError(f"range() calls may produce {RANGE_BUDGET} items in all")
        return r
    return safe_range


@dataclass
class Rendered:
    text: str
    blocks: dict[str, str]


def _where(exc) -> str:
    line = getattr(exc, "lineno", None)
    return f" (line {line})" if line else ""


def render(body: str, variables: dict) -> Rendered:
    """Render ``body`` with ``variables``; also each named ``{% block %}`` on its own.

    Any problem is a ``TemplateProblem`` (422) saying what and where.
    """
    if len(body) > BODY_MAX:
        raise TemplateProblem(f"a template has at most {BODY_MAX} characters", field="body")
    try:
        template = _ENV.from_string(body)
    except TemplateSyntaxError as exc:
        raise TemplateProblem(f"template syntax error{_where(exc)}: {exc.message}", field="body")
    if _USES_LOADER.search(body):
        raise TemplateProblem("a prompt template cannot include, import or extend another",
                              field="body")
    context = {**variables, "range": _budgeted_range()}
    try:
        text = _bounded(template.generate(context))
        blocks = {name: _bounded(fn(template.new_context(dict(context, range=_budgeted_range()))))
                  for name, fn in template.blocks.items()}
    except SecurityError as exc:
        raise TemplateProblem(f"the template tried something the sandbox forbids: {exc}",
                              field="body")
    except UndefinedError as exc:
        hint = (" (media, post, platform and persona can be none: guard them with "
                "{% if persona %}…{% endif %})" if "'None' has no attribute" in str(exc.message) else "")
        raise TemplateProblem(f"unknown variable or attribute: {exc.message}{hint}", field="body")
    except TemplateError as exc:
        raise TemplateProblem(f"the template cannot be rendered: {exc}", field="body")
    except (TypeError, ValueError, ArithmeticError, LookupError, OverflowError) as exc:
        raise TemplateProblem(f"the template failed while rendering: {type(exc).__name__}: {exc}",
                              field="body")
    return Rendered(text.strip(), {k: v.strip() for k, v in blocks.items()})


def _bounded(chunks) -> str:
    out, size = [], 0
    for chunk in chunks:
        size += len(chunk)
        if size > OUTPUT_MAX:
            raise TemplateProblem(f"the rendered prompt is longer than {OUTPUT_MAX} characters",
                                  field="body")
        out.append(chunk)
    return "".join(out)
