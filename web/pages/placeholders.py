"""Pipelines and AI: not built yet. The pages say so and list what plugins already provide."""
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


@bp.route("/ai")
def ai():
    return render_template("pages/placeholder.html", title="AI", noun="AI providers",
                           what="Prompt templates and AI-written titles, captions and hashtags",
                           provided=rt().pm.ai_providers())
