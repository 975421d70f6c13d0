"""Recurring schedules: each occurrence makes a post from the schedule's template and
schedules it onto the target accounts.

``materialize`` runs in every tick. An occurrence row is unique per (schedule,
time), so any number of concurrent ticks create each occurrence once; the
schedule's ``next_run_at`` is the cursor, advanced by compare-and-set.

Misfires (the clock was down): an occurrence later than ``GRACE`` is *missed*.
Per schedule, ``misfire_policy`` says what to do with missed occurrences that are
still within ``max_lateness``: ``skip`` them, run only the ``latest``, or run
``all``. Older ones are never run. Late runs on one account are spaced by the
account's minimum gap (at least ``LATE_SPACING``), so a restart never floods it.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta

import peewee

from . import events, posts, publications, slots, topics
from .db import database
from .errors import NotFound, ValidationError
from .models import Occurrence, Post, Schedule, Workspace
from .recurrence import Rule, compile_rule
from .timeutil import from_storage, to_storage, utcnow, zone

MISFIRE_POLICIES = ("skip", "latest", "all")
#: An occurrence at most this late is on time (tick interval, a busy worker).
GRACE = timedelta(seconds=60)
#: Least time between two late runs on one account.
LATE_SPACING = timedelta(minutes=5)
#: Schedules handled per tick; the rest wait for the next one.
BATCH = 100
TEMPLATE_KEYS = {"title", "body", "tags", "media", "ai"}
#: An AI occurrence still "generating" after this long was interrupted (worker died).
GENERATION_LEASE = timedelta(minutes=15)
DEFAULT_TITLE = "{topic}"


def get(workspace_id: int, schedule_id: int) -> Schedule:
    sch = Schedule.get_or_none(Schedule.id == schedule_id, Schedule.workspace == workspace_id)
    if sch is None:
        raise NotFound(f"schedule {schedule_id} not found")
    return sch


def listing(workspace_id: int):
    return Schedule.select().where(Schedule.workspace == workspace_id).order_by(Schedule.name,
                                                                              Schedule.id)


def rule_of(sch: Schedule) -> Rule:
    return compile_rule(json.loads(sch.rule), sch.timezone, from_storage(sch.starts_at),
                        from_storage(sch.ends_at))


def _template(workspace_id: int, raw: dict | None) -> dict:
    raw = dict(raw or {})
    unknown = set(raw) - TEMPLATE_KEYS
    if unknown:
        raise ValidationError(f"post_template: unknown keys {sorted(unknown)}", field="post_template")
    tpl = {"title": raw.get("title") or DEFAULT_TITLE, "body": raw.get("body") or "",
           "tags": raw.get("tags") or [], "media": raw.get("media") or []}
    for key in ("title", "body"):
        if not isinstance(tpl[key], str):
            raise ValidationError(f"post_template.{key} must be text", field=f"post_template.{key}")
    if not isinstance(tpl["tags"], list) or not all(isinstance(t, str) for t in tpl["tags"]):
        raise ValidationError("post_template.tags: give a list of words", field="post_template.tags")
    if not isinstance(tpl["media"], list) or not all(
            isinstance(m, int) and not isinstance(m, bool) for m in tpl["media"]):
        raise ValidationError("post_template.media: give media asset ids", field="post_template.media")
    posts.check_media(workspace_id, tpl["media"])
    tpl["ai"] = _ai_options(workspace_id, raw.get("ai"))
    return tpl


def _ai_options(workspace_id: int, raw) -> dict | None:
    """``{"enabled": true, "template_id": …, "persona_id": …}``: each occurrence's post is
    AI-written about its topic (see docs/ai.md); checked now, not at the first run."""
    if not raw:
        return None
    if not isinstance(raw, dict) or set(raw) - {"enabled", "template_id", "persona_id"}:
        raise ValidationError("post_template.ai: give {enabled, template_id, persona_id}",
                              field="post_template.ai")
    if not raw.get("enabled"):
        return None
    from .ai import personas, templates
    out = {"enabled": True, "template_id": raw.get("template_id"), "persona_id": raw.get("persona_id")}
    for key, getter in (("template_id", templates.get), ("persona_id", personas.get)):
        value = out[key]
        if value is None:
            continue
        if not isinstance(value, int) or isinstance(value, bool):
            raise ValidationError(f"post_template.ai.{key} must be an id", field=f"post_template.ai.{key}")
        try:
            getter(workspace_id, value)
        except NotFound as exc:
            raise ValidationError(exc.message, field=f"post_template.ai.{key}")
    return out


@dataclass
class Planned:
    at: datetime  # aware UTC
    local: datetime
    topic: str
    title: str
    body: str


def _content(sch: Schedule, at: datetime) -> Planned:
    local = at.astimezone(zone(sch.timezone))
    values = topics.variables(local, schedule=sch.name)
    topic = topics.render(sch.topic_template, values)
    values["topic"] = topic
    tpl = sch.action or {}
    return Planned(at, local, topic,
                   topics.render(tpl.get("title") or DEFAULT_TITLE, values, "post_template.title"),
                   topics.render(tpl.get("body") or "", values, "post_template.body"))


def _check(sch: Schedule) -> Rule:
    """Validate the whole schedule (rule, templates, accounts); return its rule."""
    if not (sch.name or "").strip():
        raise ValidationError("name is required", field="name")
    if sch.misfire_policy not in MISFIRE_POLICIES:
        raise ValidationError(f"misfire_policy must be one of {', '.join(MISFIRE_POLICIES)}",
                              field="misfire_policy")
    if not 0 <= sch.max_lateness <= 7 * 86400:
        raise ValidationError("max_lateness: 0 to 604800 seconds", field="max_lateness")
    rule = rule_of(sch)
    _content(sch, rule.start)  # renders every template once: 422 on an unknown name
    publications.resolve_accounts(sch.workspace_id, list(sch.accounts or []))
    return rule


def apply(sch: Schedule, **fields) -> Schedule:
    """Set fields (as the model's, with ``post_template`` and ``account_ids``), validate
    the whole schedule (422) and recompute its cursor; nothing is written."""
    if "rule" in fields:
        fields["rule"] = json.dumps(fields["rule"])
    if "post_template" in fields:
        fields["action"] = _template(sch.workspace_id, fields.pop("post_template"))
    if "account_ids" in fields:
        fields["accounts"] = list(fields.pop("account_ids"))
    for key, value in fields.items():
        setattr(sch, key, value)
    sch.timezone = sch.timezone or Workspace.get_by_id(sch.workspace_id).timezone
    sch.starts_at = sch.starts_at or utcnow().replace(second=0, microsecond=0)
    rule = _check(sch)
    sch.rule, sch.rule_kind = json.dumps(rule.spec), rule.kind  # kept normalised
    nxt = rule.after(max(from_storage(utcnow()), rule.start - timedelta(seconds=1)), 1)
    sch.next_run_at = to_storage(nxt[0]) if nxt and sch.enabled else None
    return sch


def save(sch: Schedule, **fields) -> Schedule:
    """Change a schedule and store it; the next run is recomputed from now."""
    with database.atomic():
        apply(sch, **fields).save()
    return sch


def create(workspace_id: int, **fields) -> Schedule:
    return save(Schedule(workspace=workspace_id, timezone=None, action={}, accounts=[]), **fields)


def draft(workspace_id: int, **fields) -> Schedule:
    """A validated schedule that is not stored, to preview before saving."""
    return apply(Schedule(workspace=workspace_id, timezone=None, action={}, accounts=[]), **fields)


def delete(sch: Schedule) -> None:
    """Delete the schedule; posts it made stay (their occurrence link is cleared)."""
    with database.atomic():
        sch.delete_instance(recursive=True)
        events.record(sch.workspace_id, "user", f"deleted schedule {sch.name!r}",
                      subject=("schedule", sch.id))


def preview(sch: Schedule, count: int, after: datetime | None = None) -> list[Planned]:
    rule = rule_of(sch)
    after = after or from_storage(utcnow())
    return [_content(sch, at) for at in rule.after(after, count)]


# --- the tick ----------------------------------------------------------------------

def materialize(config, pm, now: datetime | None = None) -> list[int]:
    """Create the occurrences that are due; return their ids."""
    now = now or utcnow()
    _fail_interrupted(now)
    created = []
    due = list(Schedule.select().where(Schedule.enabled == True,  # noqa: E712
                                       Schedule.next_run_at <= now)
               .order_by(Schedule.next_run_at).limit(BATCH))
    for sch in due:
        created += _run(config, pm, sch, now)
    return created


def _run(config, pm, sch: Schedule, now: datetime) -> list[int]:
    rule = rule_of(sch)
    cursor, now_aware = from_storage(sch.next_run_at), from_storage(now)
    oldest = now_aware - max(timedelta(seconds=sch.max_lateness), GRACE)
    # The cursor is itself an occurrence; occurrences older than max_lateness are
    # never run, so they are not even listed.
    window = [cursor] if cursor >= oldest else []
    window += rule.between(max(cursor, oldest - timedelta(seconds=1)), now_aware)
    dropped_before = cursor < oldest
    on_time = [o for o in window if now_aware - o <= GRACE]
    late = [o for o in window if now_aware - o > GRACE]
    if sch.misfire_policy == "all":
        run = late + on_time
    elif sch.misfire_policy == "latest":
        run = on_time or late[-1:]
    else:
        run = on_time
    ids = [i for i in (_fire(config, pm, sch, at, now_aware, late_index=late.index(at)
                             if at in late else None) for at in run) if i]
    if late or dropped_before:
        ran_late = len([o for o in run if o in late])
        events.record(sch.workspace_id, "scheduler",
                      f"schedule {sch.name!r}: occurrences from {cursor.isoformat()} missed while "
                      f"the scheduler was down; policy {sch.misfire_policy!r} ran {ran_late} late",
                      level="warning", subject=("schedule", sch.id))
    nxt = rule.after(now_aware, 1)
    # Compare-and-set: a concurrent tick that advanced the cursor first wins.
    (Schedule.update(next_run_at=to_storage(nxt[0]) if nxt else None)
     .where(Schedule.id == sch.id, Schedule.next_run_at == sch.next_run_at).execute())
    return ids


def _fail_interrupted(now: datetime) -> None:
    """AI occurrences whose generation never finished (the worker died) fail visibly."""
    stale = list(Occurrence.select(Occurrence, Schedule.workspace, Schedule.name).join(Schedule)
                 .where(Occurrence.status == "generating",
                        Occurrence.created_at < now - GENERATION_LEASE))
    for occ in stale:
        n = (Occurrence.update(status="failed", error="AI generation was interrupted")
             .where(Occurrence.id == occ.id, Occurrence.status == "generating").execute())
        if n:
            events.record(occ.schedule.workspace_id, "scheduler",
                          f"schedule {occ.schedule.name!r}: AI generation for the occurrence at "
                          f"{from_storage(occ.occurs_at).isoformat()} was interrupted",
                          level="error", subject=("schedule", occ.schedule_id))


def _claim_occurrence(sch: Schedule, at: datetime, status: str) -> Occurrence | None:
    """Insert the occurrence row; None when another tick already did (the unique index)."""
    try:
        with database.atomic():  # a savepoint inside a caller's transaction
            return Occurrence.create(schedule=sch, occurs_at=to_storage(at), status=status)
    except peewee.IntegrityError:
        return None


def _generated(config, pm, sch: Schedule, occ: Occurrence, planned: Planned) -> dict | None:
    """The AI-written post fields for an occurrence, called outside any transaction; None
    (and the occurrence failed) when the provider fails."""
    from .ai.generation import generate_post
    from .ai.providers import ProviderError
    tpl = sch.action or {}
    ai = tpl.get("ai") or {}
    try:
        accounts = publications.resolve_accounts(sch.workspace_id, list(sch.accounts or []))
        gp = generate_post(config, pm, sch.workspace_id, topic=planned.topic,
                           platforms=sorted({a.platform for a in accounts}),
                           media_ids=list(tpl.get("media") or []),
                           template_id=ai.get("template_id"), persona_id=ai.get("persona_id"))
        return gp.post_fields()
    except (ValidationError, ProviderError) as exc:
        occ.status, occ.error = "failed", f"AI generation failed: {exc.message}"
        occ.save()
        events.record(sch.workspace_id, "scheduler",
                      f"schedule {sch.name!r}: AI generation for {planned.local.isoformat()} "
                      f"failed: {exc.message}", level="error", subject=("schedule", sch.id))
        return None


def _fire(config, pm, sch: Schedule, at: datetime, now: datetime, late_index: int | None) -> int | None:
    """Make the occurrence's post and publications; None when another tick made it.

    With AI on, the occurrence row is claimed first (so one tick generates), the
    provider is called outside any transaction, and the post is written after.
    """
    tpl = sch.action or {}
    planned = _content(sch, at)
    fields = None
    if tpl.get("ai"):
        occ = _claim_occurrence(sch, at, "generating")
        if occ is None:
            return None
        fields = _generated(config, pm, sch, occ, planned)
        if fields is None:
            return occ.id
    with database.atomic():
        if fields is None:
            occ = _claim_occurrence(sch, at, "created")
            if occ is None:
                return None
            fields = {"title": planned.title[:500], "body": planned.body,
                      "tags": list(tpl.get("tags") or [])}
        try:
            post = posts.create(sch.workspace_id, media=list(tpl.get("media") or []), **fields)
            occ.post = post
            accounts = publications.resolve_accounts(sch.workspace_id, list(sch.accounts or []))
            plan = []
            for acc in accounts:
                when = at
                if late_index is not None:  # a late run: one after the other, spaced
                    spacing = max(slots.rules_for(pm, acc).spacing, LATE_SPACING)
                    when = now + spacing * late_index
                plan.append((acc, to_storage(when), sch.timezone))
            publications.create(config, pm, sch.workspace_id, post, plan)
            occ.status = "created"
            events.record(sch.workspace_id, "scheduler",
                          f"schedule {sch.name!r} fired for {planned.local.isoformat()}: "
                          f"post {post.id} {post.title!r}", subject=("schedule", sch.id))
        except ValidationError as exc:
            occ.status, occ.error = "failed", exc.message
            events.record(sch.workspace_id, "scheduler",
                          f"schedule {sch.name!r}: the occurrence at {planned.local.isoformat()} "
                          f"could not be scheduled: {exc.message}",
                          level="error", subject=("schedule", sch.id), data={"errors": exc.errors})
        occ.save()
        return occ.id
