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

docs/writing-a-publisher.md walks through a complete one.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Callable, ClassVar

import marshmallow
import regex

#: A hashtag as the platforms count it: "#" then letters, digits or "_", not inside a word.
HASHTAG = regex.compile(r"(?<![\w#])#(\w+)")


@dataclass(frozen=True)
class PlatformLimits:
    text_max: int | None = None
    title_max: int | None = None
    media_max_count: int | None = None
    media_types: tuple[str, ...] = ()
    media_max_bytes: int | None = None
    hashtags_max: int | None = None
    #: count user-perceived characters (grapheme clusters), as Bluesky does
    count_graphemes: bool = False
    text_max_bytes: int | None = None  # UTF-8 bytes, where a platform also caps those
    image_max_count: int | None = None
    image_max_bytes: int | None = None
    video_max_count: int | None = None
    video_max_bytes: int | None = None
    video_max_seconds: float | None = None
    #: False: a post carries images or one kind of media, never images and a video together
    mixed_media: bool = True
    #: True: the platform takes no text-only post (YouTube, TikTok, Instagram)
    media_required: bool = False

    def as_dict(self) -> dict:
        return {k: (list(v) if isinstance(v, tuple) else v) for k, v in self.__dict__.items()}


@dataclass(frozen=True)
class PlatformDescriptor:
    name: str
    label: str
    limits: PlatformLimits = field(default_factory=PlatformLimits)
    #: [{"weekday": 0-6, "time": "HH:MM"}]: defaults for an account's slots.
    best_times: tuple[dict, ...] = ()


@dataclass(frozen=True)
class OAuth2:
    """A platform's OAuth 2.0 authorization-code flow (see ``schedulerx.oauth``).

    The operator registers an app with the platform and gives its client id and
    secret as ``SCHEDULERX_<PLATFORM>_CLIENT_ID`` / ``…_CLIENT_SECRET``; the
    endpoints can be pointed elsewhere with ``…_AUTHORIZE_URL`` / ``…_TOKEN_URL``.
    """
    authorize_url: str
    token_url: str
    scopes: tuple[str, ...] = ()
    pkce: bool = True
    #: "basic": client id and secret in HTTP Basic auth; "body": in the form
    client_auth: str = "basic"
    scope_separator: str = " "
    extra_authorize_params: tuple[tuple[str, str], ...] = ()
    #: refresh a token this many seconds before it expires
    refresh_margin: float = 300.0
    #: the name the platform gives the client id in the authorize query and the token form
    #: (TikTok: "client_key")
    client_id_param: str = "client_id"


@dataclass(frozen=True)
class Quota:
    """A daily platform quota (reset at midnight UTC), tracked per account."""
    unit: str  # "posts", "units", …
    limit: int
    #: what one publish costs, unless ``Publisher.quota_cost`` says otherwise
    per_publish: int = 1
    #: an account setting holding this account's own limit (plan tiers), if any
    setting: str | None = None
    label: str = ""


@dataclass
class MediaItem:
    id: int
    filename: str
    mime: str
    size: int
    path: str | None  # local path when the storage backend has one
    url: str | None  # the API's content URL: needs SchedulerX's auth
    open: Any = None  # callable returning a binary file object
    width: int | None = None
    height: int | None = None
    duration: float | None = None  # seconds, for video and audio
    #: a signed link anyone can fetch until it expires (``schedulerx.media_links``), for
    #: platforms that pull media by URL; BASE_URL must be reachable by the platform
    public_url: str | None = None

    @property
    def kind(self) -> str:
        return self.mime.split("/", 1)[0]


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
    #: what the platform told us when the account was connected (ids, handle, limits)
    account_info: dict = field(default_factory=dict)
    #: OAuth accounts: refresh the token now (after a 401) and return the new credentials.
    #: Raises ``AuthError`` when the platform refuses; safe to call from any worker.
    refresh_credentials: Callable[[], dict] | None = None
    #: Keep the platform's id of an upload or post still in progress (a resumable upload
    #: session, a publish id) on the publication, before the outcome is known: ``reconcile``
    #: and the next attempt get it back as ``remote_id``. Set by the engine while publishing.
    note_remote_id: Callable[[str], None] | None = None


@dataclass
class PublishResult:
    remote_id: str
    url: str | None = None
    raw: Any = None


@dataclass
class PostMetrics:
    """A published post's numbers; ``None`` where the platform does not tell."""
    views: int | None = None
    likes: int | None = None
    comments: int | None = None
    shares: int | None = None
    raw: Any = None


@dataclass
class Connection:
    """What ``Publisher.check_connection`` learnt: a name to show and facts to keep."""
    display_name: str | None = None
    info: dict = field(default_factory=dict)


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


def grapheme_count(text: str) -> int:
    """User-perceived characters (extended grapheme clusters, Unicode's own rules)."""
    return len(regex.findall(r"\X", text))


def hashtags(body: str, tags: list[str] = ()) -> set[str]:
    """The distinct hashtags a post carries: those in the text and its tags (case-insensitive)."""
    found = {m.lower() for m in HASHTAG.findall(body or "")}
    return found | {t.lstrip("#").lower() for t in tags or () if t.strip("#")}


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
    #: True when ``reconcile`` can look a post up on the platform. False: after an
    #: unknown outcome the publication waits for the user (unless ``idempotent``).
    can_look_up: ClassVar[bool] = False
    #: set when accounts connect through OAuth 2.0 (``/accounts/connect/<platform>``)
    oauth: ClassVar[OAuth2 | None] = None
    #: daily quotas the platform counts per account
    quotas: ClassVar[tuple[Quota, ...]] = ()
    #: the platform's base URLs by name ({"api": "https://api.x.com"}). The operator can
    #: point one elsewhere (a fake, a proxy) with SCHEDULERX_<PLATFORM>_<NAME>_URL.
    base_urls: ClassVar[dict[str, str]] = {}

    name: ClassVar[str]  # registries key on it; taken from the descriptor

    def __init_subclass__(cls, **kw):
        super().__init_subclass__(**kw)
        if "descriptor" in cls.__dict__:
            cls.name = cls.descriptor.name

    def __init__(self, config):
        self.config = config

    # --- where the platform is ------------------------------------------------

    def url(self, name: str = "api") -> str:
        """The base URL ``name``, as configured (``SCHEDULERX_<PLATFORM>_<NAME>_URL``) or declared."""
        given = self.config.platform_setting(self.name, f"{name}_url")
        return (given or self.base_urls[name]).rstrip("/")

    # --- connecting -------------------------------------------------------------

    def check_connection(self, settings: dict, credentials: dict) -> Connection | None:
        """Ask the platform whether these settings and secrets work; say who they are.

        Called when an account is connected (settings form or OAuth) and when its
        secrets change. Raise ``AuthError`` (bad token) or ``PermanentError`` (bad
        settings) to refuse the connection with the message; ``TemporaryError`` when
        the platform cannot be reached. The default trusts the settings.
        """
        return None

    # --- OAuth tokens the platform's own way --------------------------------------

    def connected_tokens(self, tokens: dict, settings: dict) -> dict:
        """After the authorization code was exchanged: the token answer to keep.

        Platforms whose code gives a short-lived token to be traded for a longer one
        (Meta's ``fb_exchange_token`` / ``ig_exchange_token``) do the trade here and
        return the new answer (``access_token``, ``expires_in``, …). ``settings`` are
        the account's (a reconnect) or empty (a new account). Default: as given.
        """
        return tokens

    def refresh_tokens(self, credentials: dict) -> dict | None:
        """Renew the access token without the standard ``refresh_token`` grant.

        Return the token answer (``access_token``, ``expires_in``, …) for platforms
        that renew tokens their own way (Instagram's ``ig_refresh_token``); raise
        ``PermanentError`` when the platform refuses. ``None`` (the default): use the
        OAuth ``refresh_token`` grant at the token endpoint. Called under the
        account's refresh lease, like the standard grant.
        """
        return None

    # --- before scheduling ------------------------------------------------------

    def limits_for(self, settings: dict, info: dict) -> PlatformLimits:
        """The limits of one account (e.g. a Mastodon instance's own text limit)."""
        return self.descriptor.limits

    def text_length(self, text: str) -> int:
        """Text length as the platform counts it (graphemes, weighted characters, …)."""
        if self.descriptor.limits.count_graphemes:
            return grapheme_count(text)
        return len(text)

    def validate(self, title: str, body: str, media: list[MediaItem], settings: dict,
                 info: dict | None = None, tags: list[str] = ()) -> list[str]:
        """Problems that would make the post fail on this platform (empty: fine)."""
        problems = []
        lim = self.limits_for(settings, info or {})
        label = self.descriptor.label
        if lim.text_max is not None:
            n = self.text_length(body)
            if n > lim.text_max:
                problems.append(f"text is {n} characters; {label} allows {lim.text_max}")
        if lim.text_max_bytes is not None and len(body.encode()) > lim.text_max_bytes:
            problems.append(f"text is {len(body.encode())} bytes; {label} allows {lim.text_max_bytes}")
        if lim.title_max is not None and len(title) > lim.title_max:
            problems.append(f"title is {len(title)} characters; {label} allows {lim.title_max}")
        if lim.hashtags_max is not None:
            n = len(hashtags(body, tags))
            if n > lim.hashtags_max:
                problems.append(f"{n} hashtags; {label} allows {lim.hashtags_max}")
        problems += self._media_problems(media, lim)
        return problems

    def _media_problems(self, media: list[MediaItem], lim: PlatformLimits) -> list[str]:
        problems, label = [], self.descriptor.label
        if lim.media_required and not media:
            kinds = sorted({t.split("/")[0] for t in lim.media_types}) or ["media"]
            what = " or ".join(("an " if k[0] in "aeiou" else "a ") + k for k in kinds)
            problems.append(f"{label} takes no text-only post: add {what}")
        images = [m for m in media if m.kind == "image"]
        videos = [m for m in media if m.kind == "video"]
        if lim.media_max_count is not None and len(media) > lim.media_max_count:
            problems.append(f"{len(media)} media files; {label} allows {lim.media_max_count}")
        if lim.image_max_count is not None and len(images) > lim.image_max_count:
            problems.append(f"{len(images)} images; {label} allows {lim.image_max_count}")
        if lim.video_max_count is not None and len(videos) > lim.video_max_count:
            problems.append(f"{len(videos)} videos; {label} allows {lim.video_max_count}")
        if not lim.mixed_media and images and len(images) != len(media):
            problems.append(f"{label} takes images or a video in one post, not both")
        for m in media:
            if lim.media_types and not any(m.mime.startswith(t) for t in lim.media_types):
                problems.append(f"{m.filename}: {m.mime} is not accepted by {label}")
                continue
            cap = {"image": lim.image_max_bytes, "video": lim.video_max_bytes}.get(m.kind)
            for limit in (lim.media_max_bytes, cap):
                if limit is not None and m.size > limit:
                    problems.append(f"{m.filename}: {m.size} bytes; {label} allows {limit}")
                    break
            # A duration not probed yet (no media pipeline ran) is not held against the post.
            if m.kind == "video" and lim.video_max_seconds is not None and m.duration is not None:
                if m.duration > lim.video_max_seconds:
                    problems.append(f"{m.filename}: {m.duration:g} s; {label} allows "
                                    f"{lim.video_max_seconds:g} s")
        return problems

    def quota_cost(self, media: list[MediaItem]) -> dict[str, int]:
        """Units of each quota one publish of this post spends."""
        return {q.unit: q.per_publish for q in self.quotas}

    # --- publishing -------------------------------------------------------------

    def publish(self, ctx: PublishContext) -> PublishResult:
        raise NotImplementedError

    def reconcile(self, ctx: PublishContext) -> PublishResult | bool | None:
        """After an unknown outcome: look the post up on the platform.

        Return the ``PublishResult`` when found, ``False`` when the platform
        shows it was not posted (so a retry is safe), ``None`` when it cannot
        tell (the publication then waits for the user). Only called when
        ``can_look_up`` is True.
        """
        return None

    def metrics(self, ctx: PublishContext) -> PostMetrics | None:
        """Views, likes, comments and shares of the published post (``ctx.remote_id``).

        ``None``: the platform offers none. Raise a ``PublishError`` when asking failed.
        """
        return None

    @classmethod
    def offers_metrics(cls) -> bool:
        return cls.metrics is not Publisher.metrics


def replace_limits(limits: PlatformLimits, **changes) -> PlatformLimits:
    """A copy of ``limits`` with ``changes`` (for ``limits_for``)."""
    return dataclasses.replace(limits, **changes)
