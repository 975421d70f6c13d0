"""Pipelines: not built yet. The page says so and lists what plugins already provide."""
from __future__ import annotations

from flask import Blueprint, render_template

from .helpers import rt

bp = Blueprint("placeholders", __name__)


@bp.route("/pipelines")
def pipelines():
    return render_template("pages/placeholder.html", title="Pipelines", noun="pipeline stages",
                           what="Running media pipelines (probe, thumbnail, transcode, script → voice "
                                "→ video) from the dashboard",
                           provided=rt().pm.pipeline_stages())
