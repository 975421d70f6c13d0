"""Per-workspace AI settings: each provider's settings (secrets encrypted) and preferences.

Provider settings live in ``AIProviderConfig`` rows, validated by the provider's
``settings_schema`` before saving; fields in ``secret_fields`` are Fernet-encrypted
(``crypto.py``) and never returned. Preferences (the default provider, automatic
generation on ingest, language, tone, persona) live under ``Workspace.settings["ai"]``.
"""
from __future__ import annotations

import marshmallow as ma

from ..crypto import decrypt_json, encrypt_json
from ..db import database, is_sqlite
from ..errors import NotFound, ValidationError
from ..models import AIProviderConfig, Persona, Workspace
from ..timeutil import utcnow
from .providers import AIProvider, load_settings, provider_class

DEFAULT_PROVIDER = "offline"


class PreferencesSchema(ma.Schema):
    default_provider = ma.fields.String(load_default=DEFAULT_PROVIDER,
                                        validate=ma.validate.Length(min=1, max=64))
    auto_generate = ma.fields.Boolean(load_default=False, metadata={
        "description": "generate metadata for every uploaded media file, in a worker"})
    auto_platforms = ma.fields.List(ma.fields.String(validate=ma.validate.Length(min=1, max=64)),
                                    load_default=list, metadata={
        "description": "platforms the automatic generation writes variants for; empty: all"})
    language = ma.fields.String(load_default="en", validate=ma.validate.Length(min=2, max=35))
    tone = ma.fields.String(load_default="", validate=ma.validate.Length(max=100))
    persona_id = ma.fields.Integer(load_default=None, allow_none=True, strict=True)


def preferences(workspace: Workspace) -> dict:
    stored = dict((workspace.settings or {}).get("ai") or {})
    known = PreferencesSchema().fields
    return PreferencesSchema().load({k: v for k, v in stored.items() if k in known})


def set_preferences(config, pm, workspace_id: int, changes: dict) -> dict:
    with database.atomic():
        q = Workspace.select().where(Workspace.id == workspace_id)
        ws = (q if is_sqlite() else q.for_update()).get()
        merged = {**preferences(ws), **changes}
        try:
            prefs = PreferencesSchema().load(merged)
        except ma.ValidationError as exc:
            raise ValidationError("AI preferences are invalid", errors=exc.messages)
        if "default_provider" in changes:
            provider(config, pm, workspace_id, prefs["default_provider"])  # usable, or 422
        if prefs["persona_id"] is not None and not Persona.select().where(
                Persona.id == prefs["persona_id"], Persona.workspace == workspace_id).exists():
            raise ValidationError(f"unknown persona {prefs['persona_id']}", field="persona_id")
        unknown = sorted(set(prefs["auto_platforms"]) - set(pm.publishers()))
        if unknown:
            raise ValidationError(f"no publisher plugin for {', '.join(unknown)}",
                                  field="auto_platforms")
        ws.settings = {**(ws.settings or {}), "ai": prefs}
        Workspace.update(settings=ws.settings).where(Workspace.id == workspace_id).execute()
    return prefs


# --- provider settings ---------------------------------------------------------------

def stored(workspace_id: int, name: str) -> AIProviderConfig | None:
    return AIProviderConfig.get_or_none(AIProviderConfig.workspace == workspace_id,
                                        AIProviderConfig.provider == name)


def save(config, pm, workspace_id: int, name: str, settings: dict) -> AIProviderConfig:
    """Validate and store; a secret left out keeps its stored value."""
    cls = provider_class(pm, name)
    with database.atomic():
        row = stored(workspace_id, name)
        old_secret = decrypt_json(config.secret_key, row.credentials) if row else {}
        old_plain = row.settings if row else {}
        loaded = load_settings(cls, {**old_secret, **old_plain, **(settings or {})})
        secret = {k: loaded.pop(k) for k in list(loaded) if k in cls.secret_fields}
        now = utcnow()
        if row is None:
            row = AIProviderConfig(workspace=workspace_id, provider=name, created_at=now)
        row.settings = loaded
        row.credentials = encrypt_json(config.secret_key, secret)
        row.updated_at = now
        row.save()
    return row


def remove(workspace_id: int, name: str) -> None:
    row = stored(workspace_id, name)
    if row is None:
        raise NotFound(f"no settings stored for provider {name!r}")
    row.delete_instance()


def settings_of(config, workspace_id: int, name: str) -> dict:
    """Stored settings with secrets decrypted (for calling the provider only)."""
    row = stored(workspace_id, name)
    if row is None:
        return {}
    return {**row.settings, **decrypt_json(config.secret_key, row.credentials)}


def provider(config, pm, workspace_id: int, name: str | None = None) -> AIProvider:
    """The provider ``name`` (else the workspace's default), set up with its settings.

    422 when it is unknown, missing its optional dependency, or not configured.
    """
    if name is None:
        name = preferences(Workspace.get_by_id(workspace_id))["default_provider"]
    cls = provider_class(pm, name)
    try:
        loaded = cls.settings_schema().load(settings_of(config, workspace_id, name))
    except ma.ValidationError as exc:
        raise ValidationError(f"the AI provider {name!r} is not set up: save its settings first",
                              errors={"settings": exc.messages})
    return cls(loaded)
