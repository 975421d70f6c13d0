"""AI: prompt templates (versions, activation), personas, providers and their settings,
preferences, test-prompt, generation (in the request for offline providers, else a job).
"""
from __future__ import annotations

import marshmallow as ma
from flask import g
from flask.views import MethodView
from flask_smorest import Blueprint

from schedulerx.ai import generation, jobs, personas, provider_settings, templates
from schedulerx.ai.defaults import PERSONA_PRESETS, PURPOSES
from schedulerx.ai.variables import VARIABLES
from schedulerx.models import AICall, MediaAsset, Post

from ..app import runtime
from ..auth import require_role
from ..pagination import PageArgs, page_schema, paginate
from .platforms import SettingFieldSchema, settings_form
from .schemas import UTCDateTime

blp = Blueprint("ai", __name__, description="AI providers, prompt templates, personas, generation")
blp.url_prefix_name = "ai"

_purpose = ma.validate.OneOf(PURPOSES)
_id = dict(strict=True, validate=ma.validate.Range(min=1))


# --- schemas -------------------------------------------------------------------------

class TemplateSchema(ma.Schema):
    id = ma.fields.Integer(allow_none=True, metadata={"description": "null for the built-in default"})
    name = ma.fields.String()
    purpose = ma.fields.String(metadata={"enum": list(PURPOSES)})
    body = ma.fields.String(metadata={"description": "sandboxed Jinja; see GET /ai/variables"})
    provider = ma.fields.String(metadata={"description": "\"\": the workspace's default provider"})
    model = ma.fields.String(metadata={"description": "\"\": the provider settings' model"})
    params = ma.fields.Dict(metadata={"description": "temperature, max_tokens"})
    persona_id = ma.fields.Integer(allow_none=True)
    is_active = ma.fields.Boolean()
    version = ma.fields.Integer()
    builtin = ma.fields.Boolean(dump_default=False)
    created_at = UTCDateTime()
    updated_at = UTCDateTime()


class _TemplateFields(ma.Schema):
    name = ma.fields.String(validate=ma.validate.Length(min=1, max=templates.NAME_MAX))
    body = ma.fields.String(validate=ma.validate.Length(min=1, max=20_000))
    provider = ma.fields.String(validate=ma.validate.Length(max=64))
    model = ma.fields.String(validate=ma.validate.Length(max=200))
    params = ma.fields.Dict()
    persona_id = ma.fields.Integer(allow_none=True, **_id)


class TemplateCreateSchema(_TemplateFields):
    name = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=templates.NAME_MAX))
    purpose = ma.fields.String(required=True, validate=_purpose)
    body = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=20_000))
    activate = ma.fields.Boolean(load_default=False)


class VersionSchema(ma.Schema):
    version = ma.fields.Integer()
    name = ma.fields.String()
    body = ma.fields.String()
    provider = ma.fields.String()
    model = ma.fields.String()
    params = ma.fields.Dict()
    persona_id = ma.fields.Integer(allow_none=True)
    created_at = UTCDateTime()


class TemplateListArgs(PageArgs):
    purpose = ma.fields.String(validate=_purpose)


class ActiveArgs(ma.Schema):
    purpose = ma.fields.String(required=True, validate=_purpose)


class PersonaSchema(ma.Schema):
    id = ma.fields.Integer()
    name = ma.fields.String()
    instructions = ma.fields.String()
    tone = ma.fields.String()
    created_at = UTCDateTime()
    updated_at = UTCDateTime()


class PersonaUpdateSchema(ma.Schema):
    name = ma.fields.String(validate=ma.validate.Length(min=1, max=personas.NAME_MAX))
    instructions = ma.fields.String(validate=ma.validate.Length(max=personas.INSTRUCTIONS_MAX))
    tone = ma.fields.String(validate=ma.validate.Length(max=personas.TONE_MAX))


class PersonaCreateSchema(PersonaUpdateSchema):
    preset = ma.fields.String(validate=ma.validate.OneOf(list(PERSONA_PRESETS)), metadata={
        "description": "start from a preset voice; given fields override it"})

    @ma.validates_schema
    def name_or_preset(self, data, **kwargs):
        if not data.get("name") and not data.get("preset"):
            raise ma.ValidationError("give a name, or a preset", field_name="name")


class ProviderSchema(ma.Schema):
    name = ma.fields.String()
    label = ma.fields.String()
    offline = ma.fields.Boolean(metadata={"description": "needs no network; runs inside a request"})
    enabled = ma.fields.Boolean(metadata={"description": "false: its optional dependency is missing"})
    is_default = ma.fields.Boolean()
    configured = ma.fields.Boolean(metadata={"description": "settings are stored for it"})
    settings = ma.fields.Dict(metadata={"description": "the stored non-secret settings"})
    has_credentials = ma.fields.Boolean(metadata={"description": "secrets are stored (never shown)"})
    form = ma.fields.List(ma.fields.Nested(SettingFieldSchema))


class ProviderSettingsSchema(ma.Schema):
    settings = ma.fields.Dict(required=True, metadata={
        "description": "validated by the provider's schema; a secret left out keeps its value"})


class PreferencesSchema(provider_settings.PreferencesSchema):
    pass


class PreferencesPatchSchema(ma.Schema):
    default_provider = ma.fields.String(validate=ma.validate.Length(min=1, max=64))
    auto_generate = ma.fields.Boolean()
    auto_platforms = ma.fields.List(ma.fields.String(validate=ma.validate.Length(min=1, max=64)))
    language = ma.fields.String(validate=ma.validate.Length(min=2, max=35))
    tone = ma.fields.String(validate=ma.validate.Length(max=100))
    persona_id = ma.fields.Integer(allow_none=True, **_id)


class _Subject(ma.Schema):
    purpose = ma.fields.String(load_default="metadata", validate=_purpose)
    topic = ma.fields.String(validate=ma.validate.Length(max=2000))
    media_id = ma.fields.Integer(**_id)
    post_id = ma.fields.Integer(**_id)
    platforms = ma.fields.List(ma.fields.String(validate=ma.validate.Length(min=1, max=64)),
                               validate=ma.validate.Length(max=50),
                               metadata={"description": "platform names; default: every loaded one"})
    template_id = ma.fields.Integer(**_id)
    persona_id = ma.fields.Integer(**_id)
    provider = ma.fields.String(validate=ma.validate.Length(min=1, max=64),
                                metadata={"description": "default: the template's, else the workspace's"})
    language = ma.fields.String(validate=ma.validate.Length(min=2, max=35))
    tone = ma.fields.String(validate=ma.validate.Length(max=100))


class TestPromptSchema(_Subject):
    body = ma.fields.String(validate=ma.validate.Length(min=1, max=20_000), metadata={
        "description": "a template text to try unsaved; else template_id, else the active one"})
    variables = ma.fields.Dict(metadata={"description": "replace variables by name"})
    timeout = ma.fields.Float(load_default=30.0, validate=ma.validate.Range(min=1, max=120))


class GenerateSchema(_Subject):
    apply = ma.fields.Boolean(load_default=False, metadata={
        "description": "write the result into the post (title, body, tags, variants) or the "
                       "media file's meta.ai"})
    run_async = ma.fields.Boolean(data_key="async", load_default=None, allow_none=True, metadata={
        "description": "true: always a job; false: in this request (offline providers only); "
                       "default: in the request for offline providers, else a job"})


class VariantOutSchema(ma.Schema):
    platform = ma.fields.String()
    title = ma.fields.String()
    body = ma.fields.String()
    hashtags = ma.fields.List(ma.fields.String())


class GenerationSchema(ma.Schema):
    purpose = ma.fields.String()
    title = ma.fields.String()
    description = ma.fields.String()
    hashtags = ma.fields.List(ma.fields.String())
    script = ma.fields.String()
    variants = ma.fields.List(ma.fields.Nested(VariantOutSchema))
    provider = ma.fields.String()
    model = ma.fields.String()
    template = ma.fields.Dict()
    persona = ma.fields.String(allow_none=True)
    prompt = ma.fields.String()
    input_tokens = ma.fields.Integer(allow_none=True)
    output_tokens = ma.fields.Integer(allow_none=True)
    latency_ms = ma.fields.Integer()
    call_ids = ma.fields.List(ma.fields.Integer())
    generated_at = ma.fields.String()


class JobSchema(ma.Schema):
    id = ma.fields.Integer()
    status = ma.fields.String(metadata={"enum": ["pending", "queued", "running", "done", "failed"]})
    request = ma.fields.Dict()
    result = ma.fields.Nested(GenerationSchema, allow_none=True)
    error_code = ma.fields.String(allow_none=True)
    error_message = ma.fields.String(allow_none=True)
    attempts = ma.fields.Integer()
    created_at = UTCDateTime()
    started_at = UTCDateTime()
    finished_at = UTCDateTime()
    url = ma.fields.Function(lambda j: f"/api/v1/ai/jobs/{j.id}")


class GenerateAnswerSchema(ma.Schema):
    status = ma.fields.String(metadata={"description": "done (result here) or pending (poll job.url)"})
    result = ma.fields.Nested(GenerationSchema, allow_none=True)
    job = ma.fields.Nested(JobSchema, allow_none=True)


class TestPromptAnswerSchema(ma.Schema):
    prompt = ma.fields.String(metadata={"description": "the rendered template"})
    system = ma.fields.String()
    blocks = ma.fields.Dict(metadata={"description": "each named block, rendered"})
    provider = ma.fields.String()
    model = ma.fields.String()
    raw = ma.fields.String(metadata={"description": "the provider's answer as it came"})
    output = ma.fields.Dict(allow_none=True, metadata={"description": "the answer read and repaired"})
    valid = ma.fields.Boolean()
    problems = ma.fields.List(ma.fields.String())
    latency_ms = ma.fields.Integer()
    usage = ma.fields.Dict()
    call_id = ma.fields.Integer()
    template = ma.fields.Dict()


class CallSchema(ma.Schema):
    id = ma.fields.Integer()
    job_id = ma.fields.Integer(allow_none=True)
    template_id = ma.fields.Integer(allow_none=True)
    template_version = ma.fields.Integer(allow_none=True)
    purpose = ma.fields.String()
    provider = ma.fields.String()
    model = ma.fields.String()
    prompt = ma.fields.String()
    raw_answer = ma.fields.String(allow_none=True)
    status = ma.fields.String(metadata={"enum": ["ok", "invalid", "error"]})
    error = ma.fields.String(allow_none=True)
    input_tokens = ma.fields.Integer(allow_none=True)
    output_tokens = ma.fields.Integer(allow_none=True)
    latency_ms = ma.fields.Integer()
    created_at = UTCDateTime()


class CallListArgs(PageArgs):
    job_id = ma.fields.Integer(validate=ma.validate.Range(min=1))
    template_id = ma.fields.Integer(validate=ma.validate.Range(min=1))
    status = ma.fields.String(validate=ma.validate.OneOf(["ok", "invalid", "error"]))


class JobListArgs(PageArgs):
    status = ma.fields.String(validate=ma.validate.OneOf(["pending", "queued", "running", "done",
                                                          "failed"]))


class ReferenceSchema(ma.Schema):
    purposes = ma.fields.List(ma.fields.String())
    variables = ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.String())
    persona_presets = ma.fields.Dict()


# --- templates -----------------------------------------------------------------------

@blp.route("/variables")
class Reference(MethodView):
    @blp.response(200, ReferenceSchema)
    def get(self):
        """The purposes, every template variable with what it holds, and persona presets."""
        return {"purposes": list(PURPOSES), "variables": VARIABLES, "persona_presets": PERSONA_PRESETS}


@blp.route("/templates")
class Templates(MethodView):
    @blp.arguments(TemplateListArgs, location="query")
    @blp.response(200, page_schema(TemplateSchema))
    def get(self, args):
        """List the workspace's prompt templates by purpose and name."""
        return paginate(templates.listing(g.workspace.id, purpose=args.get("purpose")),
                        args["page"], args["page_size"])

    @blp.arguments(TemplateCreateSchema)
    @blp.response(201, TemplateSchema)
    def post(self, data):
        """Create a template (version 1); refused (422) when it cannot render in the sandbox."""
        return templates.create(g.workspace.id, **data)


@blp.route("/templates/active")
class ActiveTemplate(MethodView):
    @blp.arguments(ActiveArgs, location="query")
    @blp.response(200, TemplateSchema)
    def get(self, args):
        """The template generation uses for ``purpose``: the active one, else the built-in."""
        return templates.active(g.workspace.id, args["purpose"]) or templates.builtin(args["purpose"])


@blp.route("/templates/<int:template_id>")
class Template(MethodView):
    @blp.response(200, TemplateSchema)
    def get(self, template_id):
        """One template."""
        return templates.get(g.workspace.id, template_id)

    @blp.arguments(_TemplateFields)
    @blp.response(200, TemplateSchema)
    def put(self, data, template_id):
        """Edit a template: a new version when anything changed; fields left out stay."""
        return templates.update(templates.get(g.workspace.id, template_id), **data)

    @blp.response(204)
    def delete(self, template_id):
        """Delete a template and its versions (the built-in default takes over if it was active)."""
        templates.delete(templates.get(g.workspace.id, template_id))


@blp.route("/templates/<int:template_id>/activate")
class Activate(MethodView):
    @blp.response(200, TemplateSchema)
    def post(self, template_id):
        """Make this the one active template of its purpose."""
        return templates.activate(templates.get(g.workspace.id, template_id))


@blp.route("/templates/<int:template_id>/deactivate")
class Deactivate(MethodView):
    @blp.response(200, TemplateSchema)
    def post(self, template_id):
        """Deactivate: the built-in default is used for the purpose again."""
        return templates.deactivate(templates.get(g.workspace.id, template_id))


@blp.route("/templates/<int:template_id>/versions")
class Versions(MethodView):
    @blp.arguments(PageArgs, location="query")
    @blp.response(200, page_schema(VersionSchema))
    def get(self, args, template_id):
        """Every saved version of the template, newest first."""
        return paginate(templates.versions(templates.get(g.workspace.id, template_id)),
                        args["page"], args["page_size"])


@blp.route("/templates/<int:template_id>/versions/<int:version>/restore")
class Restore(MethodView):
    @blp.response(200, TemplateSchema)
    def post(self, template_id, version):
        """Make an old version current again (saved as a new version)."""
        return templates.restore(templates.get(g.workspace.id, template_id), version)


# --- personas ------------------------------------------------------------------------

@blp.route("/personas")
class Personas(MethodView):
    @blp.arguments(PageArgs, location="query")
    @blp.response(200, page_schema(PersonaSchema))
    def get(self, args):
        """List the workspace's personas by name."""
        return paginate(personas.listing(g.workspace.id), args["page"], args["page_size"])

    @blp.arguments(PersonaCreateSchema)
    @blp.response(201, PersonaSchema)
    def post(self, data):
        """Create a persona, from scratch or from a preset (personal, coach, pr)."""
        return personas.create(g.workspace.id, **data)


@blp.route("/personas/<int:persona_id>")
class PersonaItem(MethodView):
    @blp.response(200, PersonaSchema)
    def get(self, persona_id):
        """One persona."""
        return personas.get(g.workspace.id, persona_id)

    @blp.arguments(PersonaUpdateSchema)
    @blp.response(200, PersonaSchema)
    def put(self, data, persona_id):
        """Edit a persona; fields left out stay."""
        return personas.update(personas.get(g.workspace.id, persona_id), **data)

    @blp.response(204)
    def delete(self, persona_id):
        """Delete a persona; templates that used it go on without one."""
        personas.delete(personas.get(g.workspace.id, persona_id))


# --- providers and preferences -------------------------------------------------------

def describe_provider(cls, ws_id: int, default: str) -> dict:
    row = provider_settings.stored(ws_id, cls.name)
    return {"name": cls.name, "label": cls.label, "offline": cls.offline,
            "enabled": cls.enabled(), "is_default": cls.name == default,
            "configured": row is not None, "settings": row.settings if row else {},
            "has_credentials": bool(row and row.credentials), "form": settings_form(cls)}


def _providers() -> list[dict]:
    found = runtime().pm.ai_providers()
    default = provider_settings.preferences(g.workspace)["default_provider"]
    return [describe_provider(found[n], g.workspace.id, default) for n in sorted(found)]


@blp.route("/providers")
class Providers(MethodView):
    @blp.response(200, ProviderSchema(many=True))
    def get(self):
        """Every loaded AI provider: settings form, stored settings (no secrets), default."""
        return _providers()


def _provider_cls(name: str):
    from schedulerx.errors import NotFound
    cls = runtime().pm.ai_providers().get(name)
    if cls is None:
        raise NotFound(f"no AI provider {name!r} is loaded")
    return cls


@blp.route("/providers/<name>")
class ProviderItem(MethodView):
    @blp.response(200, ProviderSchema)
    def get(self, name):
        """One provider with its stored settings (secrets never shown)."""
        cls = _provider_cls(name)
        default = provider_settings.preferences(g.workspace)["default_provider"]
        return describe_provider(cls, g.workspace.id, default)

    @require_role("owner")
    @blp.arguments(ProviderSettingsSchema)
    @blp.response(200, ProviderSchema)
    def put(self, data, name):
        """Save the workspace's settings for a provider (owners); validated by its schema (422)."""
        rt = runtime()
        cls = _provider_cls(name)
        provider_settings.save(rt.config, rt.pm, g.workspace.id, name, data["settings"])
        default = provider_settings.preferences(g.workspace)["default_provider"]
        return describe_provider(cls, g.workspace.id, default)

    @require_role("owner")
    @blp.response(204)
    def delete(self, name):
        """Forget the stored settings (owners); refused (409) for the default provider."""
        from schedulerx.errors import Conflict
        _provider_cls(name)
        if provider_settings.preferences(g.workspace)["default_provider"] == name:
            raise Conflict("this is the default provider: choose another default first")
        provider_settings.remove(g.workspace.id, name)


@blp.route("/settings")
class Preferences(MethodView):
    @blp.response(200, PreferencesSchema)
    def get(self):
        """The workspace's AI preferences: default provider, automatic generation, voice."""
        return provider_settings.preferences(g.workspace)

    @blp.arguments(PreferencesPatchSchema)
    @blp.response(200, PreferencesSchema)
    def patch(self, data):
        """Change preferences; the default provider must be usable (set up) or it is a 422."""
        rt = runtime()
        return provider_settings.set_preferences(rt.config, rt.pm, g.workspace.id, data)


# --- running -------------------------------------------------------------------------

@blp.route("/test-prompt")
class TestPrompt(MethodView):
    @blp.arguments(TestPromptSchema)
    @blp.response(200, TestPromptAnswerSchema)
    def post(self, data):
        """Render a template (sample variables unless a topic, media or post is given), run it
        once, and show the prompt, the raw answer, the read output, latency and usage."""
        rt = runtime()
        overrides = data.pop("variables", None)
        return generation.test_prompt(rt.config, rt.pm, g.workspace.id, sample=True,
                                      overrides=overrides, **data)


@blp.route("/generate")
class Generate(MethodView):
    @blp.arguments(GenerateSchema)
    @blp.response(200, GenerateAnswerSchema)
    @blp.alt_response(202, schema=GenerateAnswerSchema, description="queued as a job: poll job.url")
    def post(self, data):
        """Write title, description, hashtags and a variant per platform for a topic, a media
        file or a post. Offline providers answer here; others run in a worker (202)."""
        rt = runtime()
        apply, run_async = data.pop("apply"), data.pop("run_async")
        prepared = generation.prepare(rt.config, rt.pm, g.workspace.id, **data)  # 422 early
        if run_async is False and not prepared.provider.offline:
            from schedulerx.errors import ValidationError
            raise ValidationError(f"{prepared.provider_name} calls a network service: it runs in "
                                  "a worker; leave async out or set it to true", field="async")
        if run_async or not prepared.provider.offline:
            job = jobs.create(rt.pm, g.workspace.id, data, apply=apply)
            return {"status": "pending", "result": None, "job": job}, 202
        result = generation.run(g.workspace.id, prepared)
        if apply and data.get("post_id"):
            generation.apply_to_post(Post.get_by_id(data["post_id"]), result)
        elif apply and data.get("media_id"):
            generation.apply_to_media(MediaAsset.get_by_id(data["media_id"]), result)
        return {"status": "done", "result": result, "job": None}


@blp.route("/jobs")
class Jobs(MethodView):
    @blp.arguments(JobListArgs, location="query")
    @blp.response(200, page_schema(JobSchema))
    def get(self, args):
        """Generation jobs, newest first."""
        return paginate(jobs.listing(g.workspace.id, status=args.get("status")),
                        args["page"], args["page_size"])


@blp.route("/jobs/<int:job_id>")
class Job(MethodView):
    @blp.response(200, JobSchema)
    def get(self, job_id):
        """A generation job: poll until status is done (result) or failed (error)."""
        return jobs.get(g.workspace.id, job_id)


@blp.route("/calls")
class Calls(MethodView):
    @blp.arguments(CallListArgs, location="query")
    @blp.response(200, page_schema(CallSchema))
    def get(self, args):
        """Every provider call: prompt, raw answer, tokens, latency, outcome. Newest first."""
        q = AICall.select().where(AICall.workspace == g.workspace.id)
        if args.get("job_id"):
            q = q.where(AICall.job == args["job_id"])
        if args.get("template_id"):
            q = q.where(AICall.template == args["template_id"])
        if args.get("status"):
            q = q.where(AICall.status == args["status"])
        return paginate(q.order_by(AICall.id.desc()), args["page"], args["page_size"])
