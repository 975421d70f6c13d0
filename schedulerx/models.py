"""The domain model (see DESIGN.md). Every row belongs to one workspace.

Datetimes are naive UTC (see ``timeutil``). Schema changes go through a new file
in ``schedulerx/migrations``; these classes describe the latest schema.
"""
from __future__ import annotations

import peewee as pw

from .db import JSONField, database
from .timeutil import utcnow


class BaseModel(pw.Model):
    class Meta:
        database = database
        legacy_table_names = False


class Workspace(BaseModel):
    name = pw.CharField(max_length=200)
    timezone = pw.CharField(max_length=64, default="UTC")
    settings = JSONField(default=dict)
    created_at = pw.DateTimeField(default=utcnow)


class User(BaseModel):
    email = pw.CharField(max_length=254, unique=True)
    name = pw.CharField(max_length=200, default="")
    password_hash = pw.CharField(max_length=300)
    is_active = pw.BooleanField(default=True)
    created_at = pw.DateTimeField(default=utcnow)
    last_login_at = pw.DateTimeField(null=True)


class Membership(BaseModel):
    workspace = pw.ForeignKeyField(Workspace, backref="memberships", on_delete="CASCADE")
    user = pw.ForeignKeyField(User, backref="memberships", on_delete="CASCADE")
    role = pw.CharField(max_length=16, default="owner")  # owner / editor / viewer

    class Meta:
        indexes = ((("workspace", "user"), True),)


class ApiToken(BaseModel):
    workspace = pw.ForeignKeyField(Workspace, backref="tokens", on_delete="CASCADE")
    user = pw.ForeignKeyField(User, backref="tokens", on_delete="CASCADE")
    name = pw.CharField(max_length=200)
    prefix = pw.CharField(max_length=16)
    token_hash = pw.CharField(max_length=64, unique=True)
    created_at = pw.DateTimeField(default=utcnow)
    last_used_at = pw.DateTimeField(null=True)
    revoked_at = pw.DateTimeField(null=True)


class Account(BaseModel):
    """A connected platform account ("channel")."""
    workspace = pw.ForeignKeyField(Workspace, backref="accounts", on_delete="CASCADE")
    platform = pw.CharField(max_length=64)
    display_name = pw.CharField(max_length=200)
    credentials = pw.TextField(default="")  # Fernet-encrypted JSON (see crypto.py)
    settings = JSONField(default=dict)  # non-secret settings, validated by the plugin schema
    # What the platform told us when connecting (remote user id, handle, instance limits).
    platform_info = JSONField(default=dict)
    token_expires_at = pw.DateTimeField(null=True)
    # Who is refreshing the OAuth token now, and until when (see oauth.ensure_fresh):
    # a compare-and-set lease, so two workers never spend one single-use refresh token.
    refresh_lock = pw.CharField(max_length=32, null=True)
    refresh_lock_until = pw.DateTimeField(null=True)
    health = pw.CharField(max_length=24, default="connected")  # connected / needs_reconnect / disabled
    health_message = pw.TextField(default="")
    slots = JSONField(default=list)  # [{"weekday": 0-6, "time": "HH:MM"}] local wall time
    timezone = pw.CharField(max_length=64, null=True)
    retry_policy = JSONField(null=True)  # default for new publications
    # The queue's rules (slots.py): seconds between two posts, posts per local day,
    # and local dates ("YYYY-MM-DD") with no posts at all.
    min_gap = pw.IntegerField(default=0)
    max_per_day = pw.IntegerField(null=True)
    blackout_dates = JSONField(default=list)
    created_at = pw.DateTimeField(default=utcnow)
    updated_at = pw.DateTimeField(default=utcnow)


class MediaAsset(BaseModel):
    workspace = pw.ForeignKeyField(Workspace, backref="media", on_delete="CASCADE")
    storage = pw.CharField(max_length=64)
    storage_key = pw.CharField(max_length=500)
    filename = pw.CharField(max_length=255)
    sha256 = pw.CharField(max_length=64, index=True)
    mime = pw.CharField(max_length=128)
    size = pw.BigIntegerField()
    width = pw.IntegerField(null=True)
    height = pw.IntegerField(null=True)
    duration = pw.FloatField(null=True)
    thumbnail_key = pw.CharField(max_length=500, null=True)
    tags = JSONField(default=list)
    meta = JSONField(default=dict)
    status = pw.CharField(max_length=16, default="ready")  # ingesting / ready / failed
    created_at = pw.DateTimeField(default=utcnow, index=True)


class Post(BaseModel):
    workspace = pw.ForeignKeyField(Workspace, backref="posts", on_delete="CASCADE")
    title = pw.CharField(max_length=500, default="")
    body = pw.TextField(default="")
    tags = JSONField(default=list)
    media = JSONField(default=list)  # ordered list of MediaAsset ids
    ai_metadata = JSONField(default=dict)
    created_at = pw.DateTimeField(default=utcnow)
    updated_at = pw.DateTimeField(default=utcnow)


class Variant(BaseModel):
    """Per-platform or per-account text and options of a post."""
    post = pw.ForeignKeyField(Post, backref="variants", on_delete="CASCADE")
    platform = pw.CharField(max_length=64, null=True)
    account = pw.ForeignKeyField(Account, null=True, backref="variants", on_delete="CASCADE")
    title = pw.CharField(max_length=500, null=True)
    body = pw.TextField(null=True)
    options = JSONField(default=dict)


class Schedule(BaseModel):
    workspace = pw.ForeignKeyField(Workspace, backref="schedules", on_delete="CASCADE")
    name = pw.CharField(max_length=200)
    rule_kind = pw.CharField(max_length=16)  # rrule / cron / interval ...
    rule = pw.TextField()
    timezone = pw.CharField(max_length=64, default="UTC")
    starts_at = pw.DateTimeField(null=True)
    ends_at = pw.DateTimeField(null=True)
    topic_template = pw.TextField(default="")
    action = JSONField(default=dict)  # what an occurrence creates
    accounts = JSONField(default=list)
    enabled = pw.BooleanField(default=True)
    misfire_policy = pw.CharField(max_length=16, default="latest")
    max_lateness = pw.IntegerField(default=3600)
    next_run_at = pw.DateTimeField(null=True, index=True)
    created_at = pw.DateTimeField(default=utcnow)


class Occurrence(BaseModel):
    schedule = pw.ForeignKeyField(Schedule, backref="occurrences", on_delete="CASCADE")
    occurs_at = pw.DateTimeField()
    status = pw.CharField(max_length=16, default="created")  # created / generating / failed
    post = pw.ForeignKeyField(Post, null=True, on_delete="SET NULL")
    error = pw.TextField(null=True)
    created_at = pw.DateTimeField(default=utcnow)

    class Meta:
        indexes = (
            (("schedule", "occurs_at"), True),
            # Every tick looks for interrupted AI generations (schedules._fail_interrupted).
            (("status", "created_at"), False),
        )


class Reservation(BaseModel):
    """A slot held for content that does not exist yet: a topic at a time on an account."""
    workspace = pw.ForeignKeyField(Workspace, backref="reservations", on_delete="CASCADE")
    account = pw.ForeignKeyField(Account, backref="reservations", on_delete="CASCADE")
    at = pw.DateTimeField()
    topic = pw.CharField(max_length=500)
    note = pw.TextField(default="")
    created_at = pw.DateTimeField(default=utcnow)

    class Meta:
        indexes = ((("account", "at"), True),)


class Publication(BaseModel):
    """One post on one account at one time: the unit of execution (see states.py)."""
    workspace = pw.ForeignKeyField(Workspace, backref="publications", on_delete="CASCADE")
    post = pw.ForeignKeyField(Post, backref="publications", on_delete="CASCADE")
    account = pw.ForeignKeyField(Account, backref="publications", on_delete="CASCADE")
    occurrence = pw.ForeignKeyField(Occurrence, null=True, on_delete="SET NULL")
    status = pw.CharField(max_length=16, default="scheduled")
    scheduled_at = pw.DateTimeField()
    timezone = pw.CharField(max_length=64, default="UTC")
    # When the tick must next look at this row: scheduled_at, the retry time, or
    # the end of a queue/publish lease. (status, due_at) is the hot index.
    due_at = pw.DateTimeField(null=True)
    attempts = pw.IntegerField(default=0)
    max_attempts = pw.IntegerField(default=3)
    retry_strategy = pw.CharField(max_length=16, default="exponential")
    retry_base = pw.FloatField(default=60.0)
    retry_max = pw.FloatField(default=3600.0)
    next_attempt_at = pw.DateTimeField(null=True)
    lease_until = pw.DateTimeField(null=True)
    claim_token = pw.CharField(max_length=32, null=True)
    idempotency_key = pw.CharField(max_length=64, unique=True)
    remote_id = pw.CharField(max_length=500, null=True)
    remote_url = pw.TextField(null=True)
    error_code = pw.CharField(max_length=100, null=True)
    error_message = pw.TextField(null=True)
    error_raw = pw.TextField(null=True)
    published_at = pw.DateTimeField(null=True)
    created_at = pw.DateTimeField(default=utcnow)
    updated_at = pw.DateTimeField(default=utcnow)

    class Meta:
        indexes = (
            (("status", "due_at"), False),
            (("workspace", "status", "scheduled_at"), False),
            (("account", "scheduled_at"), False),
            (("workspace", "scheduled_at", "id"), False),  # the list, soonest first
        )


class PublishAttempt(BaseModel):
    publication = pw.ForeignKeyField(Publication, backref="attempt_rows", on_delete="CASCADE")
    number = pw.IntegerField()
    claim_token = pw.CharField(max_length=32)
    started_at = pw.DateTimeField(default=utcnow)
    finished_at = pw.DateTimeField(null=True)
    outcome = pw.CharField(max_length=16, default="running")  # running/published/retry/failed/unknown
    error_code = pw.CharField(max_length=100, null=True)
    error_message = pw.TextField(null=True)
    raw_response = pw.TextField(null=True)
    worker = pw.CharField(max_length=200, default="")


class Persona(BaseModel):
    """A named voice: style instructions that prompt templates include (see schedulerx.ai)."""
    workspace = pw.ForeignKeyField(Workspace, backref="personas", on_delete="CASCADE")
    name = pw.CharField(max_length=100)
    instructions = pw.TextField(default="")
    tone = pw.CharField(max_length=100, default="")
    created_at = pw.DateTimeField(default=utcnow)
    updated_at = pw.DateTimeField(default=utcnow)

    class Meta:
        indexes = ((("workspace", "name"), True),)


class PromptTemplate(BaseModel):
    workspace = pw.ForeignKeyField(Workspace, backref="prompt_templates", on_delete="CASCADE")
    name = pw.CharField(max_length=200)
    purpose = pw.CharField(max_length=32)  # metadata / script / caption / hashtags
    body = pw.TextField()
    provider = pw.CharField(max_length=64, default="")  # "": the workspace's default provider
    model = pw.CharField(max_length=200, default="")  # "": the provider settings' model
    params = JSONField(default=dict)
    persona = pw.ForeignKeyField(Persona, null=True, backref="templates", on_delete="SET NULL")
    is_active = pw.BooleanField(default=False)
    version = pw.IntegerField(default=1)
    created_at = pw.DateTimeField(default=utcnow)
    updated_at = pw.DateTimeField(default=utcnow)


# At most one active template per workspace and purpose, whatever the races.
PromptTemplate.add_index(PromptTemplate.index(
    PromptTemplate.workspace, PromptTemplate.purpose, unique=True,
    where=pw.SQL("is_active"), name="prompt_template_one_active"))


class PromptTemplateVersion(BaseModel):
    """A template as it was after each save: version 1 is the first, one row per edit."""
    template = pw.ForeignKeyField(PromptTemplate, backref="versions", on_delete="CASCADE")
    version = pw.IntegerField()
    name = pw.CharField(max_length=200)
    body = pw.TextField()
    provider = pw.CharField(max_length=64, default="")
    model = pw.CharField(max_length=200, default="")
    params = JSONField(default=dict)
    persona_id = pw.IntegerField(null=True)  # no FK: a deleted persona leaves history alone
    created_at = pw.DateTimeField(default=utcnow)

    class Meta:
        indexes = ((("template", "version"), True),)


class AIProviderConfig(BaseModel):
    """A workspace's settings for one AI provider; secrets Fernet-encrypted (crypto.py)."""
    workspace = pw.ForeignKeyField(Workspace, backref="ai_providers", on_delete="CASCADE")
    provider = pw.CharField(max_length=64)
    settings = JSONField(default=dict)
    credentials = pw.TextField(default="")
    created_at = pw.DateTimeField(default=utcnow)
    updated_at = pw.DateTimeField(default=utcnow)

    class Meta:
        indexes = ((("workspace", "provider"), True),)


class AIJob(BaseModel):
    """A generation run by a worker: pending → running → done | failed."""
    workspace = pw.ForeignKeyField(Workspace, backref="ai_jobs", on_delete="CASCADE")
    status = pw.CharField(max_length=16, default="pending")
    request = JSONField(default=dict)
    result = JSONField(null=True)
    error_code = pw.CharField(max_length=100, null=True)
    error_message = pw.TextField(null=True)
    attempts = pw.IntegerField(default=0)
    claim_token = pw.CharField(max_length=32, null=True)
    due_at = pw.DateTimeField(null=True)  # when the tick must look at it: now, or the lease end
    created_at = pw.DateTimeField(default=utcnow)
    started_at = pw.DateTimeField(null=True)
    finished_at = pw.DateTimeField(null=True)

    class Meta:
        indexes = ((("status", "due_at"), False),)


class AICall(BaseModel):
    """One call to an AI provider: prompt, raw answer, tokens, latency, outcome."""
    workspace = pw.ForeignKeyField(Workspace, backref="ai_calls", on_delete="CASCADE")
    job = pw.ForeignKeyField(AIJob, null=True, backref="calls", on_delete="SET NULL")
    template = pw.ForeignKeyField(PromptTemplate, null=True, backref="calls", on_delete="SET NULL")
    template_version = pw.IntegerField(null=True)
    purpose = pw.CharField(max_length=32)
    provider = pw.CharField(max_length=64)
    model = pw.CharField(max_length=200, default="")
    prompt = pw.TextField(default="")
    raw_answer = pw.TextField(null=True)
    status = pw.CharField(max_length=16)  # ok / invalid / error
    error = pw.TextField(null=True)
    input_tokens = pw.IntegerField(null=True)
    output_tokens = pw.IntegerField(null=True)
    latency_ms = pw.IntegerField(default=0)
    created_at = pw.DateTimeField(default=utcnow)

    class Meta:
        indexes = ((("workspace", "created_at"), False),)


class PipelineRun(BaseModel):
    workspace = pw.ForeignKeyField(Workspace, backref="pipeline_runs", on_delete="CASCADE")
    name = pw.CharField(max_length=200)
    status = pw.CharField(max_length=16, default="pending")
    inputs = JSONField(default=dict)
    outputs = JSONField(default=dict)
    progress = pw.FloatField(default=0.0)
    error = pw.TextField(null=True)
    created_at = pw.DateTimeField(default=utcnow)
    started_at = pw.DateTimeField(null=True)
    finished_at = pw.DateTimeField(null=True)


class StageRun(BaseModel):
    run = pw.ForeignKeyField(PipelineRun, backref="stages", on_delete="CASCADE")
    name = pw.CharField(max_length=100)
    position = pw.IntegerField()
    status = pw.CharField(max_length=16, default="pending")
    progress = pw.FloatField(default=0.0)
    inputs = JSONField(default=dict)
    outputs = JSONField(default=dict)
    logs = pw.TextField(default="")
    started_at = pw.DateTimeField(null=True)
    finished_at = pw.DateTimeField(null=True)


class Event(BaseModel):
    """Audit trail and logs panel. ``workspace`` is null for system-wide events."""
    workspace = pw.ForeignKeyField(Workspace, null=True, backref="events", on_delete="CASCADE")
    time = pw.DateTimeField(default=utcnow)
    level = pw.CharField(max_length=8, default="info")
    source = pw.CharField(max_length=64)
    subject_type = pw.CharField(max_length=32, null=True)
    subject_id = pw.IntegerField(null=True)
    message = pw.TextField()
    data = JSONField(default=dict)

    class Meta:
        indexes = (
            (("workspace", "time"), False),
            (("subject_type", "subject_id"), False),
        )


class OAuthState(BaseModel):
    """A started OAuth authorization: single use, bound to the user and workspace that began it."""
    state = pw.CharField(max_length=64, unique=True)
    workspace = pw.ForeignKeyField(Workspace, on_delete="CASCADE")
    user = pw.ForeignKeyField(User, on_delete="CASCADE")
    platform = pw.CharField(max_length=64)
    account = pw.ForeignKeyField(Account, null=True, on_delete="CASCADE")  # set on a reconnect
    code_verifier = pw.TextField(default="")  # Fernet-encrypted (PKCE)
    redirect_uri = pw.TextField()
    display_name = pw.CharField(max_length=200, default="")
    created_at = pw.DateTimeField(default=utcnow)
    expires_at = pw.DateTimeField()

    class Meta:
        table_name = "oauth_state"


class QuotaUsage(BaseModel):
    """Units of a platform quota an account spent on one UTC day."""
    account = pw.ForeignKeyField(Account, backref="quota_usage", on_delete="CASCADE")
    day = pw.DateField()
    unit = pw.CharField(max_length=64)
    used = pw.IntegerField(default=0)

    class Meta:
        indexes = ((("account", "day", "unit"), True),)


class PublicationMetrics(BaseModel):
    """One reading of a published post's numbers (a time series, for analytics)."""
    publication = pw.ForeignKeyField(Publication, backref="metrics", on_delete="CASCADE")
    fetched_at = pw.DateTimeField(default=utcnow)
    views = pw.BigIntegerField(null=True)
    likes = pw.BigIntegerField(null=True)
    comments = pw.BigIntegerField(null=True)
    shares = pw.BigIntegerField(null=True)
    raw = JSONField(default=dict)

    class Meta:
        indexes = ((("publication", "fetched_at"), False),)


class Heartbeat(BaseModel):
    """Liveness of the clock, the tick and each worker process."""
    name = pw.CharField(max_length=200, unique=True)
    kind = pw.CharField(max_length=16)  # clock / tick / worker
    hostname = pw.CharField(max_length=200, default="")
    pid = pw.IntegerField(default=0)
    started_at = pw.DateTimeField(default=utcnow)
    last_seen = pw.DateTimeField(default=utcnow)
    info = JSONField(default=dict)


ALL_MODELS = [
    Workspace, User, Membership, ApiToken, Account, MediaAsset, Post, Variant,
    Schedule, Occurrence, Reservation, Publication, PublishAttempt, Persona, PromptTemplate,
    PromptTemplateVersion, AIProviderConfig, AIJob, AICall,
    PipelineRun, StageRun, Event, Heartbeat, OAuthState, QuotaUsage, PublicationMetrics,
]
