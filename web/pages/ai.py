"""AI: templates on the left; editor, variables, test panel and versions on the right;
personas, providers and preferences below. Every form goes through the core (schedulerx.ai)."""
from __future__ import annotations

from flask import Blueprint, flash, g, redirect, render_template, request, url_for

from schedulerx.ai import generation, personas, provider_settings, templates
from schedulerx.ai.defaults import PERSONA_PRESETS, PURPOSES
from schedulerx.ai.variables import VARIABLES
from schedulerx.errors import Forbidden, SchedulerXError
from schedulerx.models import AICall, Persona, PromptTemplate

from .accounts import settings_fields, settings_from_form
from .helpers import rt

bp = Blueprint("ai", __name__)


def _int(value):
    try:
        return int(value) if value not in (None, "") else None
    except ValueError:
        return None


def _render(*, selected: PromptTemplate | None = None, purpose: str | None = None, form=None,
            test=None, error: SchedulerXError | None = None):
    ws = g.workspace.id
    r = rt()
    rows = list(templates.listing(ws))
    if selected is None and purpose is None and rows and form is None:
        selected = rows[0]
    purpose = selected.purpose if selected else (purpose if purpose in PURPOSES else "metadata")
    providers = r.pm.ai_providers()
    prefs = provider_settings.preferences(g.workspace)
    body = render_template(
        "pages/ai.html", rows=rows, selected=selected, purpose=purpose, purposes=PURPOSES,
        builtin=templates.builtin(purpose), variables=VARIABLES,
        versions=list(templates.versions(selected).limit(20)) if selected else [],
        personas=list(personas.listing(ws)), presets=PERSONA_PRESETS, providers=providers,
        provider_fields={n: settings_fields(c) for n, c in providers.items()},
        stored={n: provider_settings.stored(ws, n) for n in providers}, prefs=prefs,
        platforms=sorted(r.pm.publishers()), form=form or {}, test=test,
        calls=list(AICall.select().where(AICall.workspace == ws).order_by(AICall.id.desc()).limit(10)),
        error=error.message if error else None, errors=error.errors if error else {})
    return (body, error.status) if error else body


@bp.route("/ai")
def index():
    tid = _int(request.args.get("template"))
    selected = templates.get(g.workspace.id, tid) if tid else None
    return _render(selected=selected, purpose=request.args.get("purpose"),
                   form={} if request.args.get("new") is None else {"new": True})


def _template_fields(form) -> dict:
    return {"name": form.get("name", ""), "body": form.get("body", ""),
            "provider": form.get("provider", ""), "model": form.get("model", ""),
            "persona_id": _int(form.get("persona_id"))}


@bp.route("/ai/templates", methods=["POST"])
def create():
    form = request.form
    try:
        t = templates.create(g.workspace.id, purpose=form.get("purpose", ""),
                             activate="activate" in form, **_template_fields(form))
    except SchedulerXError as exc:
        return _render(purpose=form.get("purpose"), form={**form, "new": True}, error=exc)
    flash(f"Template “{t.name}” created (version 1).")
    return redirect(url_for("ai.index", template=t.id))


@bp.route("/ai/templates/<int:template_id>", methods=["POST"])
def save(template_id: int):
    t = templates.get(g.workspace.id, template_id)
    try:
        t = templates.update(t, **_template_fields(request.form))
    except SchedulerXError as exc:
        return _render(selected=t, form=request.form, error=exc)
    flash(f"Saved “{t.name}”, version {t.version}.")
    return redirect(url_for("ai.index", template=t.id))


@bp.route("/ai/templates/<int:template_id>/<action>", methods=["POST"])
def template_action(template_id: int, action: str):
    t = templates.get(g.workspace.id, template_id)
    if action == "activate":
        templates.activate(t)
        flash(f"“{t.name}” is now the active {t.purpose} template.")
    elif action == "deactivate":
        templates.deactivate(t)
        flash(f"No {t.purpose} template is active: the built-in default is used.")
    elif action == "delete":
        templates.delete(t)
        flash(f"Deleted “{t.name}”.")
        return redirect(url_for("ai.index"))
    elif action == "restore":
        version = _int(request.form.get("version")) or 0
        try:
            t = templates.restore(t, version)
        except SchedulerXError as exc:
            return _render(selected=t, error=exc)
        flash(f"Version {version} restored as version {t.version}.")
    else:
        from flask import abort
        abort(404)
    return redirect(url_for("ai.index", template=t.id))


@bp.route("/ai/test", methods=["POST"])
def test():
    """Run the editor's text (saved or not) with sample variables and show what came back."""
    form = request.form
    r = rt()
    selected = templates.get(g.workspace.id, _int(form.get("template_id"))) \
        if _int(form.get("template_id")) else None
    try:
        result = generation.test_prompt(
            r.config, r.pm, g.workspace.id, purpose=form.get("purpose", "metadata"),
            body=form.get("body", ""), topic=form.get("topic") or None,
            persona_id=_int(form.get("persona_id")), provider=form.get("provider") or None,
            platforms=[p for p in form.getlist("platforms") if p] or None, sample=True, timeout=30)
    except SchedulerXError as exc:
        return _render(selected=selected, purpose=form.get("purpose"),
                       form={**form, "new": selected is None}, error=exc)
    return _render(selected=selected, purpose=form.get("purpose"),
                   form={**form, "new": selected is None}, test=result)


@bp.route("/ai/personas", methods=["POST"])
def create_persona():
    form = request.form
    try:
        p = personas.create(g.workspace.id, name=form.get("name") or None,
                            instructions=form.get("instructions") or None,
                            tone=form.get("tone") or None, preset=form.get("preset") or None)
    except SchedulerXError as exc:
        return _render(error=exc)
    flash(f"Persona “{p.name}” added.")
    return redirect(url_for("ai.index"))


@bp.route("/ai/personas/<int:persona_id>/delete", methods=["POST"])
def delete_persona(persona_id: int):
    p = personas.get(g.workspace.id, persona_id)
    personas.delete(p)
    flash(f"Persona “{p.name}” deleted.")
    return redirect(url_for("ai.index"))


@bp.route("/ai/providers/<name>", methods=["POST"])
def save_provider(name: str):
    if g.role != "owner":
        raise Forbidden("only owners change AI provider settings")
    r = rt()
    try:
        cls = r.pm.ai_providers().get(name)
        if cls is None:
            from schedulerx.errors import NotFound
            raise NotFound(f"no AI provider {name!r} is loaded")
        provider_settings.save(r.config, r.pm, g.workspace.id, name, settings_from_form(cls, request.form))
        if "make_default" in request.form:
            provider_settings.set_preferences(r.config, r.pm, g.workspace.id,
                                              {"default_provider": name})
    except SchedulerXError as exc:
        return _render(error=exc)
    flash(f"Saved the settings of {cls.label}.")
    return redirect(url_for("ai.index"))


@bp.route("/ai/settings", methods=["POST"])
def save_preferences():
    form = request.form
    r = rt()
    changes = {"default_provider": form.get("default_provider", "offline"),
               "auto_generate": "auto_generate" in form,
               "auto_platforms": [p for p in form.getlist("auto_platforms") if p],
               "language": form.get("language", "en").strip() or "en",
               "tone": form.get("tone", "").strip(),
               "persona_id": _int(form.get("persona_id"))}
    if changes["persona_id"] is not None and not Persona.select().where(
            Persona.id == changes["persona_id"], Persona.workspace == g.workspace.id).exists():
        changes["persona_id"] = None
    try:
        provider_settings.set_preferences(r.config, r.pm, g.workspace.id, changes)
    except SchedulerXError as exc:
        return _render(error=exc)
    flash("AI preferences saved.")
    return redirect(url_for("ai.index"))
