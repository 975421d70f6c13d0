"""Media: the library as a grid of thumbnails, filters by type and tag, uploads."""
from __future__ import annotations

from flask import Blueprint, flash, g, redirect, render_template, request, url_for

from schedulerx import media as media_library
from schedulerx.errors import SchedulerXError, ValidationError

from .helpers import paged, rt

bp = Blueprint("media", __name__)

KINDS = ("image", "video", "audio")
PAGE_SIZE = 48


def _render(error: SchedulerXError | None = None, form: dict | None = None):
    kind = request.args.get("type") if request.args.get("type") in KINDS else None
    tag = (request.args.get("tag") or "").strip() or None
    query = media_library.listing(g.workspace.id, kind=kind, tag=tag)
    body = render_template("pages/media.html", page=paged(query, PAGE_SIZE), kinds=KINDS,
                           kind=kind, tag=tag, form=form or {},
                           error=error.message if error else None,
                           errors=error.errors if error else {})
    return (body, error.status) if error else body


@bp.route("/media")
def index():
    return _render()


@bp.route("/media", methods=["POST"])
def upload():
    files = [f for f in request.files.getlist("file") if f and f.filename]
    form = {"tags": request.form.get("tags", "")}
    tags = [t.strip() for t in form["tags"].split(",") if t.strip()]
    r = rt()
    stored = []
    try:
        if not files:
            raise ValidationError("choose a file to upload", field="file")
        for f in files:
            stored.append(media_library.ingest(r.config, r.pm, g.workspace.id, f.stream, f.filename,
                                               tags=tags))
    except SchedulerXError as exc:
        if stored:  # the files before the bad one are in the library: say so
            exc.message = f"{len(stored)} uploaded; {files[len(stored)].filename}: {exc.message}"
        return _render(exc, form)
    flash(f"Uploaded {', '.join(a.filename for a in stored)}.")
    return redirect(url_for("media.index"))
