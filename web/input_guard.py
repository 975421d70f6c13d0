"""One check on every request's text before any view sees it: no NUL characters.

PostgreSQL cannot store U+0000 in text (psycopg2 raises ``ValueError``), and a
file path with one cannot be opened: refused here with a 422 naming the field,
for every route, present and future, instead of a 500 deep inside.
"""
from __future__ import annotations

from flask import request

from schedulerx.errors import ValidationError

MESSAGE = "must not contain NUL characters (U+0000)"


def _walk(value, path: str):
    """Yield the path of every string (or key) in ``value`` that holds a NUL."""
    if isinstance(value, str):
        if "\x00" in value:
            yield path
    elif isinstance(value, dict):
        for k, v in value.items():
            key = str(k)
            if "\x00" in key:
                yield path or "_"
            yield from _walk(v, f"{path}.{key}" if path else key)
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _walk(v, f"{path}.{i}" if path else str(i))


def refuse_nul() -> None:
    """before_request: 422 when a path segment, query argument, form field, file name
    or JSON string carries a NUL."""
    found = list(_walk(request.view_args or {}, ""))
    found += list(_walk(request.args.to_dict(flat=False), ""))
    if request.is_json:
        found += list(_walk(request.get_json(silent=True), ""))
    elif request.mimetype in ("multipart/form-data", "application/x-www-form-urlencoded"):
        found += list(_walk(request.form.to_dict(flat=False), ""))
        found += [name for name, f in request.files.items(multi=True) if "\x00" in (f.filename or "")]
    if found:
        fields = sorted({p.split(".", 1)[0] for p in found})
        raise ValidationError(f"{', '.join(fields)} {MESSAGE}", errors={f: [MESSAGE] for f in fields})
