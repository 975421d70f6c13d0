"""What a publisher plugin implements, and what it gets and returns.

A publisher is one class per platform, registered through the
``register_publishers`` hook. The engine calls it with ids already resolved into
a ``PublishContext``; the publisher never touches the database.

Outcomes are told by return value or exception:
  * return ``PublishResult``       → published
  * raise ``TemporaryError``       → retry by the publication's policy
  * raise ``RateLimited``          → retry no sooner than ``retry_after`` seconds
  * raise ``PermanentError``       → failed, no retry
  * raise ``AuthError``            → the account needs reconnecting; failed
  * raise anything else            → outcome unknown: reconciled, never blindly retried
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

import marshmallow


@dataclass(frozen=True)
class PlatformLimits:
    text_max: int | None = None
    title_max: int | None = None
    media_max_count: int | None = None
    media_types: tuple[str, ...] = ()
    media_max_bytes: int | None = None
    hashtags_max: int | None = None
    count_graphemes: bool = False

    def as_dict(self) -> dict:
        return {k: (list(v) if isinstance(v, tuple) else v) for k, v in self.__dict__.items()}


@dataclass(frozen=True)
class PlatformDescriptor:
    name: str
    label: str
    limits: PlatformLimits = field(default_factory=PlatformLimits)
    #: [{"weekday": 0-6, "time": "HH:MM"}]: defaults for an account's slots.
    best_times: tuple[dict, ...] = ()


@dataclass
class MediaItem:
    id: int
    filename: str
    mime: str
    size: int
    path: str | None  # local path when the storage backend has one
    url: str | None
    open: Any = None  # callable returning a binary file object


@dataclass
class PublishContext:
    publication_id: int
    idempotency_key: str
    attempt: int
    account_id: int
    account_settings: dict
    credentials: dict
    title: str
    body: str
    tags: list[str]
    media: list[MediaItem]
    options: dict
    scheduled_at: Any
    base_url: str
    data_dir: str
    remote_id: str | None = None  # set when reconciling a known remote object


@dataclass
class PublishResult:
    remote_id: str
    url: str | None = None
    raw: Any = None


class PublishError(Exception):
    code = "publish_error"

    def __init__(self, message: str, *, code: str | None = None, raw: Any = None):
        super().__init__(message)
        self.message = message
        self.code = code or self.code
        self.raw = raw


class TemporaryError(PublishError):
    code = "temporary"


class RateLimited(TemporaryError):
    code = "rate_limited"

    def __init__(self, message: str, *, retry_after: float | None = None, **kw):
        super().__init__(message, **kw)
        self.retry_after = retry_after


class PermanentError(PublishError):
    code = "permanent"


class AuthError(PermanentError):
    code = "auth"


class EmptySettings(marshmallow.Schema):
    pass


class Publisher:
    """Base class of a platform publisher."""

    descriptor: ClassVar[PlatformDescriptor]
    #: marshmallow schema of the account's non-secret settings (rendered as a form).
    settings_schema: ClassVar[type[marshmallow.Schema]] = EmptySettings
    #: names of settings fields that are secrets: stored encrypted, never shown.
    secret_fields: ClassVar[tuple[str, ...]] = ()
    #: True when the platform honours our idempotency key, so a retry after an
    #: unknown outcome cannot double-post.
    idempotent: ClassVar[bool] = False

    name: ClassVar[str]  # registries key on it; taken from the descriptor

    def __init_subclass__(cls, **kw):
        super().__init_subclass__(**kw)
        if "descriptor" in cls.__dict__:
            cls.name = cls.descriptor.name

    def __init__(self, config):
        self.config = config

    def validate(self, title: str, body: str, media: list[MediaItem], settings: dict) -> list[str]:
        """Problems that would make the post fail on this platform (empty: fine)."""
        problems = []
        lim = self.descriptor.limits
        if lim.text_max is not None and len(body) > lim.text_max:
            problems.append(f"text is {len(body)} characters; {self.descriptor.label} allows {lim.text_max}")
        if lim.title_max is not None and len(title) > lim.title_max:
            problems.append(f"title is {len(title)} characters; {self.descriptor.label} allows {lim.title_max}")
        if lim.media_max_count is not None and len(media) > lim.media_max_count:
            problems.append(f"{len(media)} media files; {self.descriptor.label} allows {lim.media_max_count}")
        for m in media:
            if lim.media_types and not any(m.mime.startswith(t) for t in lim.media_types):
                problems.append(f"{m.filename}: {m.mime} is not accepted by {self.descriptor.label}")
            if lim.media_max_bytes is not None and m.size > lim.media_max_bytes:
                problems.append(f"{m.filename}: {m.size} bytes; limit is {lim.media_max_bytes}")
        return problems

    def publish(self, ctx: PublishContext) -> PublishResult:
        raise NotImplementedError

    def reconcile(self, ctx: PublishContext) -> PublishResult | bool | None:
        """After an unknown outcome: look the post up on the platform.

        Return the ``PublishResult`` when found, ``False`` when the platform
        shows it was not posted (so a retry is safe), ``None`` when it cannot
        tell (the publication then waits for the user).
        """
        return None
