"""One check on every request's input before any view sees it, for every route,
present and future: what no column can hold is a 422 naming the field, not a 500
deep inside.

* NUL characters: PostgreSQL cannot store U+0000 in text (psycopg2 raises
  ``ValueError``), and a file path with one cannot be opened.
* JSON integers outside 64 bits: no database integer holds them (SQLite raises
  ``OverflowError``).
"""
from __future__ import annotations

from flask import request

from schedulerx.errors import ValidationError

NUL = "must not contain NUL characters (U+0000)"
TOO_BIG = "is a number outside the 64-bit range"
INT64 = range(-2**63, 2**63)


def _walk(value, path: str):
    """Yield (path, problem) for every string, key or number in ``value`` no column holds."""
    if isinstance(value, str):
        if "\x00" in value:
            yield path, NUL
    elif isinstance(value, bool):
        pass
    elif isinstance(value, int):
        if value not in INT64:
            yield path, TOO_BIG
    elif isinstance(value, dict):
        for k, v in value.items():
            key = str(k)
            if "\x00" in key:
                yield path or "_", NUL
            yield from _walk(v, f"{path}.{key}" if path else key)
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _walk(v, f"{path}.{i}" if path else str(i))


def refuse_unstorable() -> None:
    """before_request: 422 when a path segment, query argument, form field, file name
    or JSON value is something no column can hold."""
    found = list(_walk(request.view_args or {}, ""))
    found += list(_walk(request.args.to_dict(flat=False), ""))
    if request.is_json:
        found += list(_walk(request.get_json(silent=True), ""))
    elif request.mimetype in ("multipart/form-data", "application/x-www-form-urlencoded"):
        found += list(_walk(request.form.to_dict(flat=False), ""))
        found += [(name, NUL) for name, f in request.files.items(multi=True)
                  if "\x00" in (f.filename or "")]
    if found:
        errors: dict[str, list[str]] = {}
        for path, problem in found:
            field = path.split(".", 1)[0] or "_"
            if problem not in errors.setdefault(field, []):
                errors[field].append(problem)
        message = "; ".join(f"{field} {', '.join(p)}" for field, p in errors.items())
        raise ValidationError(message, errors=errors)
