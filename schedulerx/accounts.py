"""Connected platform accounts: settings validated against the publisher's schema."""
from __future__ import annotations

import marshmallow

from . import events, states
from .crypto import decrypt_json, encrypt_json
from .db import database
from .errors import Conflict, NotFound, UpstreamError, ValidationError
from .models import Account, Publication
from .publishers import Connection, Publisher, PublishError, TemporaryError
from .retry import RetryPolicy
from .timeutil import is_zone, utcnow

HEALTH = ("connected", "needs_reconnect", "disabled")


def get(workspace_id: int, account_id: int) -> Account:
    acc = Account.get_or_none(Account.id == account_id, Account.workspace == workspace_id)
    if acc is None:
        raise NotFound(f"account {account_id} not found")
    return acc


def listing(workspace_id: int, *, platform: str | None = None):
    """A query of the workspace's accounts, by name, to paginate."""
    q = Account.select().where(Account.workspace == workspace_id)
    if platform:
        q = q.where(Account.platform == platform)
    return q.order_by(Account.display_name, Account.id)


def _split_settings(publisher_cls, settings: dict) -> tuple[dict, dict]:
    """Validate against the plugin's schema; return (plain settings, secrets)."""
    try:
        loaded = publisher_cls.settings_schema().load(settings or {})
    except marshmallow.ValidationError as exc:
        raise ValidationError("account settings are invalid", errors={"settings": exc.messages})
    secret = {k: loaded.pop(k) for k in list(loaded) if k in publisher_cls.secret_fields}
    return loaded, secret


def check_connection(config, publisher_cls, plain: dict, secret: dict) -> Connection | None:
    """Ask the platform whether the settings work (``Publisher.check_connection``)."""
    label = publisher_cls.descriptor.label
    try:
        return publisher_cls(config).check_connection(plain, secret)
    except TemporaryError as exc:
        raise UpstreamError(f"{label} could not be reached to check the account: {exc}") from exc
    except PublishError as exc:
        raise ValidationError(f"{label} refused these settings: {exc}",
                              errors={"settings": {"_": [str(exc)]}}) from exc


def create(config, pm, workspace_id: int, *, platform: str, display_name: str = "",
           settings: dict | None = None, timezone: str | None = None) -> Account:
    """Connect an account with settings (tokens, app passwords …); OAuth platforms use ``oauth``."""
    publisher_cls = pm.publisher(platform)
    if publisher_cls.oauth is not None:
        raise ValidationError(f"{publisher_cls.descriptor.label} accounts connect through "
                              f"{publisher_cls.descriptor.label}'s sign-in: use "
                              f"/accounts/connect/{platform}", field="platform")
    if timezone is not None and not is_zone(timezone):
        raise ValidationError(f"unknown IANA timezone {timezone!r}", field="timezone")
    plain, secret = _split_settings(publisher_cls, settings or {})
    if not (display_name or "").strip() and publisher_cls.check_connection is Publisher.check_connection:
        raise ValidationError("display_name is required", field="display_name")
    conn = check_connection(config, publisher_cls, plain, secret)
    name = (display_name or "").strip() or (conn.display_name if conn else "") or ""
    if not name:
        raise ValidationError("display_name is required", field="display_name")
    return Account.create(workspace=workspace_id, platform=platform, display_name=name[:200],
                          settings=plain, platform_info=dict(conn.info) if conn else {},
                          credentials=encrypt_json(config.secret_key, secret), timezone=timezone)


def update(config, pm, account: Account, *, display_name=None, settings=None, timezone=None,
           health=None, retry_policy=...) -> Account:
    if display_name is not None:
        if not display_name.strip():
            raise ValidationError("display_name cannot be empty", field="display_name")
        account.display_name = display_name.strip()
    if timezone is not None:
        if timezone and not is_zone(timezone):
            raise ValidationError(f"unknown IANA timezone {timezone!r}", field="timezone")
        account.timezone = timezone or None
    if retry_policy is not ...:
        if retry_policy:
            RetryPolicy(**retry_policy)  # 422 now, not when a post is scheduled
        # Stored as given: a publication's own policy is merged over it.
        account.retry_policy = dict(retry_policy) if retry_policy else None
    if health is not None:
        if health not in HEALTH:
            raise ValidationError(f"health must be one of {', '.join(HEALTH)}", field="health")
        account.health = health
    if settings is not None:
        publisher_cls = pm.publisher(account.platform)
        # A secret left out keeps its stored value: a reconnect never erases a refresh token.
        stored = decrypt_json(config.secret_key, account.credentials)
        # Only the schema's own secrets go through the schema; OAuth tokens stay as they are.
        kept = {k: v for k, v in stored.items() if k in publisher_cls.secret_fields}
        merged = {**kept, **(account.settings or {}), **settings}
        plain, secret = _split_settings(publisher_cls, merged)
        secret = {**stored, **secret}
        # New settings are checked with the platform; a good check is a reconnect.
        conn = check_connection(config, publisher_cls, plain, secret)
        if conn is not None:
            account.platform_info = {**(account.platform_info or {}), **conn.info}
        new_secret = any(k in settings for k in publisher_cls.secret_fields)
        if (conn is not None or new_secret) and account.health == "needs_reconnect" and health is None:
            account.health, account.health_message = "connected", ""
        account.settings = plain
        account.credentials = encrypt_json(config.secret_key, secret)
    account.updated_at = utcnow()
    account.save()
    return account


def set_queue_rules(account: Account, *, slots=None, timezone=..., min_gap_minutes=None,
                    max_per_day=..., blackout_dates=None) -> Account:
    """Set the queue's rules (see slots.py); an argument left out keeps its value."""
    from . import slots as slot_rules
    if slots is not None:
        account.slots = slot_rules.parse_slots(slots)
    if timezone is not ...:
        if timezone and not is_zone(timezone):
            raise ValidationError(f"unknown IANA timezone {timezone!r}", field="timezone")
        account.timezone = timezone or None
    if min_gap_minutes is not None:
        account.min_gap = int(min_gap_minutes) * 60
    if max_per_day is not ...:
        account.max_per_day = max_per_day
    if blackout_dates is not None:
        account.blackout_dates = slot_rules.parse_blackouts(blackout_dates)
    account.updated_at = utcnow()
    account.save()
    return account


def delete(account: Account) -> None:
    """Delete the account with its publications and variants; 409 while one is in flight."""
    with database.atomic():
        busy = [p.id for p in Publication.select(Publication.id).where(
            Publication.account == account,
            Publication.status.in_((states.QUEUED, states.PUBLISHING)))]
        if busy:
            raise Conflict(f"publications {busy} of this account are being published; "
                           "try again when they are done", errors={"publications": busy})
        # delete_nullable: a variant for this account would otherwise be left with
        # neither account nor platform.
        account.delete_instance(recursive=True, delete_nullable=True)
        events.record(account.workspace_id, "user",
                      f"deleted account {account.display_name} ({account.platform})",
                      subject=("account", account.id))
