"""Schedule: the publications list, compose-and-schedule, a publication's detail and its actions."""
from __future__ import annotations

from datetime import timedelta

from flask import Blueprint, abort, flash, g, redirect, render_template, request, url_for

from schedulerx import events, posts, publications, states, status
from schedulerx import media as media_library
from schedulerx.db import database
from schedulerx.errors import SchedulerXError, ValidationError
from schedulerx.models import Account, MediaAsset, Post, Publication
from schedulerx.retry import STRATEGIES
from schedulerx.timeutil import parse_datetime, utcnow

from .account import _safe_next
from .helpers import form_error, local_input_value, paged, rt

bp = Blueprint("schedule", __name__)

#: Badge order on the list page: the lifecycle, then the ends.
STATUS_ORDER = (states.SCHEDULED, states.PAUSED, states.QUEUED, states.PUBLISHING, states.RETRY_WAIT,
                states.UNKNOWN, states.PUBLISHED, states.FAILED, states.CANCELED, states.DRAFT)
ACTION_LABELS = {"cancel": "Cancel", "pause": "Pause", "resume": "Resume", "force": "Publish now",
                 "reschedule": "Reschedule", "retry": "Retry", "mark_published": "Mark published",
                 "mark_failed": "Mark failed"}
COMPOSE_MEDIA_LIMIT = 60


def with_post_and_account(query):
    """Fetch each publication's post and account in the same query (no query per row)."""
    return (query.select_extend(Post, Account).join(Post).switch(Publication).join(Account)
            .switch(Publication))


def allowed_actions(pub: Publication) -> list[str]:
    return [a for a, (froms, _to) in states.ACTIONS.items() if pub.status in froms]


def _accounts():
    return list(Account.select().where(Account.workspace == g.workspace.id)
                .order_by(Account.display_name, Account.id))


@bp.route("/schedule")
def index():
    status_filter = request.args.get("status") or None
    account_filter = request.args.get("account", type=int)
    if status_filter and status_filter not in states.ALL:
        status_filter = None
    query = publications.listing(g.workspace.id, status=status_filter, account_id=account_filter)
    return render_template("pages/schedule.html", page=paged(with_post_and_account(query)),
                           counts=status.counts(g.workspace.id), status_order=STATUS_ORDER,
                           status_filter=status_filter, account_filter=account_filter,
                           accounts=_accounts(), allowed_actions=allowed_actions,
                           action_labels=ACTION_LABELS)


@bp.route("/schedule/<int:pub_id>")
def detail(pub_id: int):
    return _detail(publications.get(g.workspace.id, pub_id))


def _detail(pub: Publication, error: SchedulerXError | None = None, form: dict | None = None):
    history = events.query(g.workspace.id, subject_type="publication", subject_id=pub.id).limit(50)
    post = Post.get_by_id(pub.post_id)
    media = list(MediaAsset.select().where(MediaAsset.id.in_(post.media or [0]),
                                           MediaAsset.workspace == g.workspace.id))
    body = render_template("pages/publication.html", pub=pub, post=post, account=pub.account,
                           media=media, attempts=publications.attempts(pub), history=list(history),
                           allowed=allowed_actions(pub), action_labels=ACTION_LABELS,
                           error=error.message if error else None,
                           errors=error.errors if error else {}, form=form or {})
    return (body, error.status) if error else body


@bp.route("/schedule/<int:pub_id>/<action>", methods=["POST"])
def act(pub_id: int, action: str):
    if action not in states.ACTIONS:
        abort(404)
    pub = publications.get(g.workspace.id, pub_id)
    form = {"action": action, "scheduled_at": request.form.get("scheduled_at", ""),
            "remote_url": request.form.get("remote_url", "")}
    try:
        at = None
        if action == "reschedule":
            if not form["scheduled_at"]:
                raise ValidationError("choose the new date and time", field="scheduled_at")
            at = parse_datetime(form["scheduled_at"], g.workspace.timezone)
        publications.act(rt().pm, pub, action, at=at, remote_url=form["remote_url"].strip() or None)
    except SchedulerXError as exc:
        # The detail page has every action's form: show the error there, with the input kept.
        return _detail(publications.get(g.workspace.id, pub_id), exc, form)
    flash(f"Publication {pub_id}: {ACTION_LABELS[action].lower()} done.")
    return redirect(_safe_next(request.form.get("next")
                               or url_for("schedule.detail", pub_id=pub_id)))


# --- compose -------------------------------------------------------------------------------

def _ids(values, field: str) -> list[int]:
    try:
        return [int(v) for v in values if str(v).strip()]
    except ValueError:
        raise ValidationError("an id in the form is not a number", field=field) from None


def _default_time() -> str:
    """An hour from now, on the next quarter hour: a sensible default for the time input."""
    at = utcnow() + timedelta(hours=1)
    at = at.replace(minute=at.minute - at.minute % 15, second=0, microsecond=0)
    return local_input_value(at)


def _compose_context(form: dict) -> dict:
    ready = (media_library.listing(g.workspace.id).where(MediaAsset.status == "ready")
             .limit(COMPOSE_MEDIA_LIMIT))
    return {"form": form, "accounts": _accounts(), "media": list(ready),
            "publishers": rt().pm.publishers(), "strategies": STRATEGIES}


def _retry_choice(form: dict) -> dict:
    retry = {}
    if form["retry_strategy"]:
        retry["strategy"] = form["retry_strategy"]
    if form["max_attempts"].strip():
        try:
            retry["max_attempts"] = int(form["max_attempts"])
        except ValueError:
            raise ValidationError("max attempts must be a whole number",
                                  field="max_attempts") from None
    return retry


def _create_and_schedule(form: dict) -> list[Publication]:
    """The post and its publications, all or nothing (the caller holds the transaction)."""
    ws = g.workspace
    if len(form["title"]) > posts.TITLE_MAX:
        raise ValidationError(f"the title has more than {posts.TITLE_MAX} characters", field="title")
    account_ids = _ids(form["account_ids"], "account_ids")
    media_ids = _ids(form["media"], "media")
    if not form["scheduled_at"]:
        raise ValidationError("choose a date and time", field="scheduled_at")
    at = parse_datetime(form["scheduled_at"], ws.timezone)
    retry = _retry_choice(form)
    tags = [t.strip() for t in form["tags"].split(",") if t.strip()]
    post = posts.create(ws.id, title=form["title"], body=form["body"], tags=tags, media=media_ids)
    r = rt()
    return publications.schedule(r.config, r.pm, ws.id, post, account_ids, at, ws.timezone,
                                 retry=retry)


@bp.route("/schedule/new", methods=["GET", "POST"])
def compose():
    if request.method == "GET":
        form = {"title": "", "body": "", "tags": "", "media": request.args.getlist("media"),
                "account_ids": request.args.getlist("account"), "scheduled_at": _default_time(),
                "retry_strategy": "", "max_attempts": ""}
        return render_template("pages/compose.html", errors={}, **_compose_context(form))
    f = request.form
    form = {"title": f.get("title", "").strip(), "body": f.get("body", ""), "tags": f.get("tags", ""),
            "media": f.getlist("media"), "account_ids": f.getlist("account_ids"),
            "scheduled_at": f.get("scheduled_at", ""), "retry_strategy": f.get("retry_strategy", ""),
            "max_attempts": f.get("max_attempts", "")}
    try:
        with database.atomic():
            created = _create_and_schedule(form)
    except SchedulerXError as exc:
        return form_error("pages/compose.html", exc, **_compose_context(form))
    flash(f"Scheduled on {len(created)} account{'s' if len(created) != 1 else ''}.")
    return redirect(url_for("schedule.index"))
