"""Home: counts by status, the next posts, scheduler health, recent events, "run scheduler now"."""
from __future__ import annotations

import logging

from flask import flash, g, redirect, render_template, url_for

from schedulerx import events, publications, status

from .account import bp
from .helpers import rt
from .schedule import with_post_and_account

log = logging.getLogger(__name__)

UPCOMING_DAYS = 30


@bp.route("/")
def home():
    r = rt()
    upcoming = with_post_and_account(publications.listing(g.workspace.id,
                                                          upcoming_days=UPCOMING_DAYS)).limit(8)
    return render_template("pages/home.html", status=status.snapshot(r.config, r.pm, g.workspace.id),
                           upcoming=list(upcoming), recent=list(events.query(g.workspace.id).limit(12)),
                           upcoming_days=UPCOMING_DAYS)


@bp.route("/run-scheduler", methods=["POST"])
def run_scheduler():
    """Ask the execution layer for a tick now instead of waiting for the clock."""
    try:
        sent = bool(rt().pm.hook.dispatch_tick())
    except Exception as exc:  # the broker may be down: say so, do not answer 500
        log.exception("dispatch_tick failed")
        events.record(g.workspace.id, "user", f"tick requested but could not be sent: {exc}",
                      level="error")
        flash(f"The scheduler could not be reached: {exc}", "error")
        return redirect(url_for("pages.home"))
    events.record(g.workspace.id, "user", "asked for a tick now" if sent else
                  "tick requested but no execution plugin is loaded",
                  level="info" if sent else "warning")
    if sent:
        flash("The scheduler was asked to run now.")
    else:
        flash("No execution plugin is loaded, so nothing can run the scheduler.", "error")
    return redirect(url_for("pages.home"))
