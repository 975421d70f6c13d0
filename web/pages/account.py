"""Login, first-run set-up and logout (the "pages" blueprint; home.py adds the home page)."""
from __future__ import annotations

from urllib.parse import urlparse

from flask import Blueprint, flash, redirect, render_template, request, session, url_for

from schedulerx import auth as core_auth
from schedulerx.errors import SchedulerXError

from ..auth import login_session

bp = Blueprint("pages", __name__, template_folder="../templates")


def _safe_next(target: str | None) -> str:
    """Only same-site paths: never an open redirect."""
    if not target or urlparse(target).netloc or not target.startswith("/") or target.startswith("//"):
        return url_for("pages.home")
    return target


@bp.route("/login", methods=["GET", "POST"])
def login():
    if not core_auth.has_users():
        return redirect(url_for("pages.setup"))
    error = None
    if request.method == "POST":
        try:
            user = core_auth.authenticate(request.form.get("email", ""), request.form.get("password", ""))
        except SchedulerXError as exc:
            error = exc.message
        else:
            login_session(user)
            return redirect(_safe_next(request.args.get("next")))
    return render_template("pages/login.html", error=error), (401 if error else 200)


@bp.route("/setup", methods=["GET", "POST"])
def setup():
    """First run: create the owner. Gone once any user exists."""
    if core_auth.has_users():
        return redirect(url_for("pages.login"))
    error = None
    if request.method == "POST":
        f = request.form
        if f.get("password") != f.get("password2"):
            error = "the two passwords differ"
        else:
            try:
                user, _ = core_auth.create_user(f.get("email", ""), f.get("password", ""),
                                                name=f.get("name", ""),
                                                workspace_name=f.get("workspace") or "My workspace",
                                                timezone=f.get("timezone") or "UTC")
            except SchedulerXError as exc:
                error = exc.message
            else:
                login_session(user)
                flash("Welcome! Your workspace is ready.")
                return redirect(url_for("pages.home"))
    return render_template("pages/setup.html", error=error), (422 if error else 200)


@bp.route("/logout", methods=["POST"])
def logout():
    session.clear()
    return redirect(url_for("pages.login"))
