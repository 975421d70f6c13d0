"""Prompt templates: per workspace and purpose, a version row per edit, one active per purpose.

Saving renders the template with sample variables first, so a syntax error, an
unknown variable or a sandbox escape is refused (422) before it is stored.

Activation takes the workspace row's lock (``FOR UPDATE`` on PostgreSQL; SQLite
transactions take the write lock at BEGIN), and a partial unique index on
``(workspace, purpose) WHERE is_active`` backs it: concurrent activations end
with exactly one active template.
"""
from __future__ import annotations

from ..db import database, is_sqlite
from ..errors import NotFound, ValidationError
from ..models import Persona, PromptTemplate, PromptTemplateVersion, Workspace
from ..timeutil import utcnow
from . import sandbox, variables
from .defaults import BUILTIN, PURPOSES

NAME_MAX = 200
PARAM_KEYS = {"temperature": (int, float), "max_tokens": int}


def get(workspace_id: int, template_id: int) -> PromptTemplate:
    row = PromptTemplate.get_or_none(PromptTemplate.id == template_id,
                                     PromptTemplate.workspace == workspace_id)
    if row is None:
        raise NotFound(f"template {template_id} not found")
    return row


def listing(workspace_id: int, *, purpose: str | None = None):
    q = PromptTemplate.select().where(PromptTemplate.workspace == workspace_id)
    if purpose:
        q = q.where(PromptTemplate.purpose == check_purpose(purpose))
    return q.order_by(PromptTemplate.purpose, PromptTemplate.name, PromptTemplate.id)


def check_purpose(purpose: str) -> str:
    if purpose not in PURPOSES:
        raise ValidationError(f"purpose must be one of {', '.join(PURPOSES)}", field="purpose")
    return purpose


def active(workspace_id: int, purpose: str) -> PromptTemplate | None:
    return PromptTemplate.get_or_none(PromptTemplate.workspace == workspace_id,
                                      PromptTemplate.purpose == check_purpose(purpose),
                                      PromptTemplate.is_active == True)  # noqa: E712


def builtin(purpose: str) -> dict:
    """The built-in default for ``purpose``, shaped like a template row in the API."""
    return {"id": None, "name": f"Built-in {purpose}", "purpose": purpose,
            "body": BUILTIN[check_purpose(purpose)], "provider": "", "model": "", "params": {},
            "persona_id": None, "is_active": True, "version": 0, "builtin": True}


def check_body(body: str, purpose: str, persona_id: int | None = None) -> None:
    """Render with sample variables (and the template's persona): refuse what cannot render."""
    if not (body or "").strip():
        raise ValidationError("the template is empty", field="body")
    values = variables.sample(purpose)
    if persona_id is not None:
        values["persona"] = variables.persona_dict(Persona.get_or_none(Persona.id == persona_id))
    sandbox.render(body, values)


def _check_fields(workspace_id: int, fields: dict) -> dict:
    if "name" in fields:
        fields["name"] = (fields["name"] or "").strip()
        if not fields["name"] or len(fields["name"]) > NAME_MAX:
            raise ValidationError(f"a template needs a name of 1 to {NAME_MAX} characters",
                                  field="name")
    if fields.get("persona_id") is not None and not Persona.select().where(
            Persona.id == fields["persona_id"], Persona.workspace == workspace_id).exists():
        raise ValidationError(f"unknown persona {fields['persona_id']}", field="persona_id")
    for key, value in (fields.get("params") or {}).items():
        kinds = PARAM_KEYS.get(key)
        if kinds is None or isinstance(value, bool) or not isinstance(value, kinds):
            raise ValidationError(f"params may hold {', '.join(PARAM_KEYS)} (numbers)",
                                  errors={"params": {key: ["unknown or not a number"]}})
    return fields


def _snapshot(t: PromptTemplate) -> None:
    PromptTemplateVersion.create(template=t, version=t.version, name=t.name, body=t.body,
                                 provider=t.provider, model=t.model, params=t.params,
                                 persona_id=t.persona_id, created_at=t.updated_at)


def _lock_workspace(workspace_id: int) -> None:
    if not is_sqlite():
        Workspace.select(Workspace.id).where(Workspace.id == workspace_id).for_update().execute()


def create(workspace_id: int, *, name: str, purpose: str, body: str, provider: str = "",
           model: str = "", params: dict | None = None, persona_id: int | None = None,
           activate: bool = False) -> PromptTemplate:
    check_purpose(purpose)
    fields = _check_fields(workspace_id, {"name": name, "persona_id": persona_id,
                                          "params": params or {}})
    check_body(body, purpose, persona_id)
    with database.atomic():
        now = utcnow()
        t = PromptTemplate.create(workspace=workspace_id, purpose=purpose, body=body,
                                  provider=provider or "", model=model or "", version=1,
                                  created_at=now, updated_at=now, **fields)
        _snapshot(t)
        if activate:
            _activate(t)
    return t


EDITABLE = ("name", "body", "provider", "model", "params", "persona_id")


def update(template: PromptTemplate, **changes) -> PromptTemplate:
    """Apply changes as a new version; an edit that changes nothing keeps the version."""
    changes = _check_fields(template.workspace_id,
                            {k: ("" if v is None and k in ("provider", "model") else v)
                             for k, v in changes.items() if k in EDITABLE})
    if "body" in changes or "persona_id" in changes:
        check_body(changes.get("body", template.body), template.purpose,
                   changes.get("persona_id", template.persona_id))
    with database.atomic():
        # The row lock orders concurrent edits: each gets its own version number.
        if not is_sqlite():
            template = (PromptTemplate.select().where(PromptTemplate.id == template.id)
                        .for_update().get())
        else:
            template = PromptTemplate.get_by_id(template.id)
        changed = {k: v for k, v in changes.items() if getattr(template, k) != v}
        if not changed:
            return template
        for k, v in changed.items():
            setattr(template, k, v)
        template.version += 1
        template.updated_at = utcnow()
        template.save()
        _snapshot(template)
    return template


def restore(template: PromptTemplate, version: int) -> PromptTemplate:
    """Make an old version current again: a new version with its content."""
    old = PromptTemplateVersion.get_or_none(PromptTemplateVersion.template == template,
                                            PromptTemplateVersion.version == version)
    if old is None:
        raise NotFound(f"template {template.id} has no version {version}")
    persona_id = old.persona_id
    if persona_id is not None and not Persona.select().where(Persona.id == persona_id).exists():
        persona_id = None
    return update(template, name=old.name, body=old.body, provider=old.provider,
                  model=old.model, params=old.params, persona_id=persona_id)


def versions(template: PromptTemplate):
    return (PromptTemplateVersion.select().where(PromptTemplateVersion.template == template)
            .order_by(PromptTemplateVersion.version.desc()))


def _activate(template: PromptTemplate) -> None:
    _lock_workspace(template.workspace_id)
    (PromptTemplate.update(is_active=False)
     .where(PromptTemplate.workspace == template.workspace_id,
            PromptTemplate.purpose == template.purpose, PromptTemplate.id != template.id,
            PromptTemplate.is_active == True)  # noqa: E712
     .execute())
    PromptTemplate.update(is_active=True).where(PromptTemplate.id == template.id).execute()
    template.is_active = True


def activate(template: PromptTemplate) -> PromptTemplate:
    """Make ``template`` the one active for its purpose (the others are deactivated)."""
    with database.atomic():
        _activate(template)
    return PromptTemplate.get_by_id(template.id)


def deactivate(template: PromptTemplate) -> PromptTemplate:
    """No template active for the purpose: generation uses the built-in default."""
    with database.atomic():
        PromptTemplate.update(is_active=False).where(PromptTemplate.id == template.id).execute()
    return PromptTemplate.get_by_id(template.id)


def delete(template: PromptTemplate) -> None:
    """Delete with its versions; call records keep their text and lose the link."""
    with database.atomic():
        template.delete_instance()
