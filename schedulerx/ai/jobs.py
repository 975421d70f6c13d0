"""Generation jobs: long provider calls run by a worker, never inside a web request.

The database is the source of truth. ``create`` writes a ``pending`` row and asks
for a tick; the tick's ``claim_due`` moves due rows to ``queued`` under a claim
token and the worker's ``ai_generate(job_id, claim)`` runs ``run``, which
compare-and-sets ``queued → running`` for that exact claim (a duplicate message
is dropped). A message lost on the way is re-claimed when its lease runs out; a
worker that died mid-call gets one more attempt, then the job fails.
"""
from __future__ import annotations

import logging
import uuid
from datetime import timedelta

from .. import events
from ..db import database, is_sqlite
from ..errors import NotFound, SchedulerXError
from ..models import AIJob, MediaAsset, Post, Workspace
from ..timeutil import utcnow
from . import generation, provider_settings

log = logging.getLogger(__name__)

LEASE_SECONDS = 900  # longer than a provider's timeout × retries
MAX_ATTEMPTS = 2
CLAIM_BATCH = 50
REQUEST_KEYS = ("purpose", "topic", "media_id", "post_id", "platforms", "template_id",
                "persona_id", "provider", "language", "tone")


def get(workspace_id: int, job_id: int) -> AIJob:
    job = AIJob.get_or_none(AIJob.id == job_id, AIJob.workspace == workspace_id)
    if job is None:
        raise NotFound(f"AI job {job_id} not found")
    return job


def listing(workspace_id: int, *, status: str | None = None):
    q = AIJob.select().where(AIJob.workspace == workspace_id)
    if status:
        q = q.where(AIJob.status == status)
    return q.order_by(AIJob.id.desc())


def create(pm, workspace_id: int, request: dict, *, apply: bool = False,
           source: str = "api") -> AIJob:
    """Queue a generation (the arguments of ``generation.generate``) and ask for a tick."""
    now = utcnow()
    job = AIJob.create(workspace=workspace_id, status="pending", due_at=now, created_at=now,
                       request={**{k: request.get(k) for k in REQUEST_KEYS if request.get(k) is not None},
                                "apply": apply, "source": source})
    try:
        pm.hook.dispatch_tick()  # start now rather than at the next clock tick
    except Exception:  # the clock's tick picks it up anyway
        log.exception("dispatch_tick failed; job %s waits for the next tick", job.id)
    return job


def on_media_ingested(pm, asset: MediaAsset) -> AIJob | None:
    """Queue metadata generation for a new upload when the workspace turned it on."""
    prefs = provider_settings.preferences(Workspace.get_by_id(asset.workspace_id))
    if not prefs["auto_generate"]:
        return None
    return create(pm, asset.workspace_id,
                  {"purpose": "metadata", "media_id": asset.id,
                   "platforms": prefs["auto_platforms"] or None},
                  apply=True, source="ingest")


def claim_due(now=None, limit: int = CLAIM_BATCH) -> list[tuple[int, str]]:
    """Claim due jobs for sending: new ones, lost messages, and dead workers' (once)."""
    now = now or utcnow()
    token = uuid.uuid4().hex
    lease = now + timedelta(seconds=LEASE_SECONDS)
    with database.atomic():
        (AIJob.update(status="failed", finished_at=now, due_at=None, error_code="lease_expired",
                      error_message="the worker stopped before finishing; gave up after "
                                    f"{MAX_ATTEMPTS} attempts")
         .where(AIJob.status == "running", AIJob.due_at <= now,
                AIJob.attempts >= MAX_ATTEMPTS).execute())
        due = (AIJob.select(AIJob.id)
               .where(AIJob.status.in_(("pending", "queued", "running")), AIJob.due_at <= now)
               .order_by(AIJob.due_at).limit(limit))
        if not is_sqlite():
            due = due.for_update(skip_locked=True)
        ids = [row.id for row in AIJob.update(status="queued", claim_token=token, due_at=lease)
               .where(AIJob.id.in_(due)).returning(AIJob.id).execute()]
    return [(job_id, token) for job_id in ids]


def _start(job_id: int, claim: str) -> AIJob | None:
    now = utcnow()
    with database.atomic():
        n = (AIJob.update(status="running", attempts=AIJob.attempts + 1, started_at=now,
                          due_at=now + timedelta(seconds=LEASE_SECONDS))
             .where(AIJob.id == job_id, AIJob.status == "queued", AIJob.claim_token == claim)
             .execute())
    return AIJob.get_by_id(job_id) if n else None


def _finish(job: AIJob, claim: str, **fields) -> bool:
    return bool(AIJob.update(finished_at=utcnow(), due_at=None, **fields)
                .where(AIJob.id == job.id, AIJob.status == "running", AIJob.claim_token == claim)
                .execute())


def run(config, pm, job_id: int, claim: str) -> str | None:
    """Run one claimed job; return its final status, or None when the claim is stale."""
    job = _start(job_id, claim)
    if job is None:
        return None
    ws = job.workspace_id
    req = job.request
    args = {k: req[k] for k in REQUEST_KEYS if k in req}
    try:
        g = generation.generate(config, pm, ws, job_id=job.id, **args)
        if req.get("apply") and req.get("media_id"):
            asset = MediaAsset.get_or_none(MediaAsset.id == req["media_id"])
            if asset is not None:
                generation.apply_to_media(asset, g)
        if req.get("apply") and req.get("post_id"):
            post = Post.get_or_none(Post.id == req["post_id"], Post.workspace == ws)
            if post is not None:
                generation.apply_to_post(post, g)
    except SchedulerXError as exc:
        _finish(job, claim, status="failed", error_code=exc.code, error_message=exc.message)
        events.record(ws, "ai", f"AI job {job.id} failed: {exc.message}", level="warning",
                      subject=("ai_job", job.id))
        return "failed"
    except Exception as exc:  # a bug or an unexpected provider error: the job says so
        log.exception("AI job %s crashed", job.id)
        _finish(job, claim, status="failed", error_code="internal_error",
                error_message=f"{type(exc).__name__}: {exc}")
        events.record(ws, "ai", f"AI job {job.id} failed: {type(exc).__name__}", level="error",
                      subject=("ai_job", job.id))
        return "failed"
    _finish(job, claim, status="done", result=g.as_dict())
    events.record(ws, "ai", f"AI job {job.id}: {g.purpose} written by {g.provider}",
                  subject=("ai_job", job.id), data={"call_ids": g.call_ids})
    return "done"
