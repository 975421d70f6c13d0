"""Personas ("voices"): named style instructions that prompt templates include."""
from __future__ import annotations

import peewee

from ..db import database
from ..errors import Conflict, NotFound, ValidationError
from ..models import Persona
from ..timeutil import utcnow
from .defaults import PERSONA_PRESETS

NAME_MAX, INSTRUCTIONS_MAX, TONE_MAX = 100, 4000, 100


def get(workspace_id: int, persona_id: int) -> Persona:
    row = Persona.get_or_none(Persona.id == persona_id, Persona.workspace == workspace_id)
    if row is None:
        raise NotFound(f"persona {persona_id} not found")
    return row


def listing(workspace_id: int):
    return Persona.select().where(Persona.workspace == workspace_id).order_by(Persona.name, Persona.id)


def _clean(name, instructions, tone) -> dict:
    out = {}
    if name is not None:
        name = name.strip()
        if not name or len(name) > NAME_MAX:
            raise ValidationError(f"a persona needs a name of 1 to {NAME_MAX} characters", field="name")
        out["name"] = name
    if instructions is not None:
        if len(instructions) > INSTRUCTIONS_MAX:
            raise ValidationError(f"instructions have at most {INSTRUCTIONS_MAX} characters",
                                  field="instructions")
        out["instructions"] = instructions.strip()
    if tone is not None:
        if len(tone) > TONE_MAX:
            raise ValidationError(f"tone has at most {TONE_MAX} characters", field="tone")
        out["tone"] = tone.strip()
    return out


def _save(fn):
    try:
        with database.atomic():
            return fn()
    except peewee.IntegrityError:
        raise Conflict("a persona with this name exists in the workspace", field="name")


def create(workspace_id: int, *, name: str | None = None, instructions: str | None = None,
           tone: str | None = None, preset: str | None = None) -> Persona:
    """Create a persona; ``preset`` (personal, coach, pr) fills what is not given."""
    base = {}
    if preset is not None:
        if preset not in PERSONA_PRESETS:
            raise ValidationError(f"preset must be one of {', '.join(PERSONA_PRESETS)}", field="preset")
        base = PERSONA_PRESETS[preset]
    fields = _clean(name if name is not None else base.get("name", ""),
                    instructions if instructions is not None else base.get("instructions", ""),
                    tone if tone is not None else base.get("tone", ""))
    return _save(lambda: Persona.create(workspace=workspace_id, **fields))


def update(persona: Persona, *, name=None, instructions=None, tone=None) -> Persona:
    for k, v in _clean(name, instructions, tone).items():
        setattr(persona, k, v)
    persona.updated_at = utcnow()
    _save(persona.save)
    return persona


def delete(persona: Persona) -> None:
    """Templates that named it keep working without a persona (SET NULL)."""
    with database.atomic():
        persona.delete_instance()
