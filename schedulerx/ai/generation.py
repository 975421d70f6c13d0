"""Generation: template + variables → provider → validated answer → a variant per platform.

The template is the one asked for, else the workspace's active one for the
purpose, else the built-in default. The answer is read against the purpose's
schema (``output.py``); an invalid answer is repaired, else asked for again once,
else the generation fails with ``InvalidOutput``. Every provider call is recorded
as an ``AICall`` row: prompt, raw answer, tokens, latency, outcome.

``generate_post`` is the entry point for recurring schedules: a topic in, a
post's fields out.
"""
from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field

from .. import events
from ..errors import ValidationError
from ..models import AICall, MediaAsset, Persona, Post, PromptTemplate, Workspace
from ..timeutil import isoformat, utcnow
from . import fitting, output, provider_settings, sandbox, templates, variables
from .providers import AIRequest, Completion, InvalidOutput, ProviderError

RAW_MAX = 100_000  # characters of a raw answer kept in the call record


@dataclass
class Generation:
    purpose: str
    title: str = ""
    description: str = ""
    hashtags: list[str] = field(default_factory=list)
    script: str = ""
    variants: list[dict] = field(default_factory=list)
    provider: str = ""
    model: str = ""
    template: dict = field(default_factory=dict)  # id, name, version, builtin
    persona: str | None = None
    prompt: str = ""
    input_tokens: int | None = None
    output_tokens: int | None = None
    latency_ms: int = 0
    call_ids: list[int] = field(default_factory=list)
    generated_at: str = ""

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass
class GeneratedPost:
    """What a recurring schedule's occurrence needs to create a post."""
    title: str
    body: str
    tags: list[str]
    variants: list[dict]  # {platform, title, body, options: {"hashtags": [...]}}
    ai_metadata: dict

    def post_fields(self) -> dict:
        """Keyword arguments for ``posts.create(workspace_id, **fields)``."""
        return {"title": self.title, "body": self.body, "tags": self.tags,
                "variants": self.variants, "ai_metadata": self.ai_metadata}


@dataclass
class Prepared:
    purpose: str
    provider_name: str
    provider: object
    request: AIRequest
    template: PromptTemplate | None
    template_info: dict
    platforms: list  # publisher classes
    persona: Persona | None


# --- preparing -----------------------------------------------------------------------

def _platform_classes(pm, names) -> list:
    publishers = pm.publishers()
    if names is None or len(names) == 0:
        return [publishers[n] for n in sorted(publishers)]
    unknown = [n for n in names if n not in publishers]
    if unknown:
        raise ValidationError(f"no publisher plugin for {', '.join(map(str, unknown))}",
                              field="platforms")
    return [publishers[n] for n in dict.fromkeys(names)]


def _media(workspace_id: int, media_id: int | None) -> MediaAsset | None:
    if media_id is None:
        return None
    asset = MediaAsset.get_or_none(MediaAsset.id == media_id, MediaAsset.workspace == workspace_id)
    if asset is None:
        raise ValidationError(f"unknown media {media_id}", field="media_id")
    return asset


def _post(workspace_id: int, post_id: int | None) -> Post | None:
    if post_id is None:
        return None
    post = Post.get_or_none(Post.id == post_id, Post.workspace == workspace_id)
    if post is None:
        raise ValidationError(f"unknown post {post_id}", field="post_id")
    return post


def _persona(workspace_id: int, persona_id: int | None) -> Persona | None:
    if persona_id is None:
        return None
    persona = Persona.get_or_none(Persona.id == persona_id, Persona.workspace == workspace_id)
    if persona is None:
        raise ValidationError(f"unknown persona {persona_id}", field="persona_id")
    return persona


def prepare(config, pm, workspace_id: int, *, purpose: str = "metadata", topic: str | None = None,
            media_id: int | None = None, post_id: int | None = None, platforms=None,
            template_id: int | None = None, body: str | None = None,
            persona_id: int | None = None, provider: str | None = None,
            language: str | None = None, tone: str | None = None,
            sample: bool = False, overrides: dict | None = None,
            timeout: float | None = None) -> Prepared:
    """Resolve template, persona, provider and variables; render the prompt.

    ``body`` renders a template text that is not saved (test-prompt); ``sample``
    starts from sample variables instead of real media; ``overrides`` replace
    variables by name.
    """
    templates.check_purpose(purpose)
    prefs = provider_settings.preferences(Workspace.get_by_id(workspace_id))
    if template_id is not None:
        template = templates.get(workspace_id, template_id)
    else:
        template = templates.active(workspace_id, purpose) if body is None else None
    if template is not None and template.purpose != purpose:
        raise ValidationError(f"template {template.id} is for {template.purpose}, not {purpose}",
                              field="template_id")
    edited = body is not None and (template is None or body != template.body)
    text = body if body is not None else (template.body if template else templates.builtin(purpose)["body"])
    if template is None:
        info = {"id": None, "name": "(unsaved)" if edited else f"Built-in {purpose}",
                "version": None, "builtin": not edited}
    else:
        # An unsaved edit of a saved template is not that template's version.
        info = {"id": template.id, "name": template.name,
                "version": None if edited else template.version, "builtin": False}
    # The persona: asked for, else the template's, else the workspace's (a deleted one is none).
    persona = _persona(workspace_id, persona_id)
    if persona is None and template is not None and template.persona_id is not None:
        persona = Persona.get_or_none(Persona.id == template.persona_id)
    if persona is None and persona_id is None and prefs["persona_id"] is not None:
        persona = Persona.get_or_none(Persona.id == prefs["persona_id"],
                                      Persona.workspace == workspace_id)
    plats = _platform_classes(pm, platforms)
    values = variables.build(purpose=purpose, topic=topic, media=_media(workspace_id, media_id),
                             post=_post(workspace_id, post_id), platforms=plats, persona=persona,
                             tone=tone or prefs["tone"], language=language or prefs["language"])
    if sample and not (topic or media_id or post_id):
        values = {**variables.sample(purpose),
                  **{k: values[k] for k in ("platforms", "platform", "persona", "tone", "language")}}
    if overrides:
        unknown = sorted(set(overrides) - set(variables.VARIABLES))
        if unknown:
            raise ValidationError(f"unknown variables: {', '.join(unknown)}", field="variables")
        values.update(overrides)
    if not values["topic"]:
        raise ValidationError("say what to write about: a topic, a media_id or a post_id",
                              field="topic")
    rendered = sandbox.render(text, values)
    name = provider or (template.provider if template and template.provider else None)
    instance = provider_settings.provider(config, pm, workspace_id, name)
    params = dict(template.params) if template else {}
    request = AIRequest(purpose=purpose, prompt=rendered.text, system=output.system_prompt(purpose),
                        output_schema=output.schema(purpose), variables=values,
                        blocks=rendered.blocks, model=(template.model if template else "") or "",
                        params=params, timeout=timeout)
    return Prepared(purpose, instance.name, instance, request, None if edited else template, info,
                    plats, persona)


# --- calling -------------------------------------------------------------------------

def _record(workspace_id: int, p: Prepared, *, status: str, completion: Completion | None = None,
            error: str | None = None, raw=None, latency_ms: int, job_id: int | None) -> AICall:
    answer = completion.raw if completion is not None and completion.raw is not None else raw
    if completion is not None and answer is None:
        answer = completion.text
    if answer is not None and not isinstance(answer, str):
        answer = json.dumps(answer, default=str)
    return AICall.create(
        workspace=workspace_id, job=job_id, template=p.template.id if p.template else None,
        template_version=p.template.version if p.template else None, purpose=p.purpose,
        provider=p.provider_name,
        model=(completion.model if completion and completion.model else p.request.model) or "",
        prompt=p.request.prompt, raw_answer=answer[:RAW_MAX] if answer is not None else None,
        status=status, error=error, latency_ms=latency_ms,
        input_tokens=completion.input_tokens if completion else None,
        output_tokens=completion.output_tokens if completion else None)


def _call_once(workspace_id: int, p: Prepared, job_id: int | None):
    """One provider call, recorded. Returns (completion, data or None, problems, call)."""
    started = time.monotonic()
    try:
        completion = p.provider.complete(p.request)
    except ProviderError as exc:
        _record(workspace_id, p, status="error", error=f"{exc.code}: {exc.message}", raw=exc.raw,
                latency_ms=int((time.monotonic() - started) * 1000), job_id=job_id)
        raise
    latency = int((time.monotonic() - started) * 1000)
    data, problems = output.read(p.purpose, completion.text)
    call = _record(workspace_id, p, status="ok" if data is not None else "invalid",
                   error="; ".join(problems) or None, completion=completion, latency_ms=latency,
                   job_id=job_id)
    return completion, data, problems, call


def run(workspace_id: int, p: Prepared, *, job_id: int | None = None) -> Generation:
    """Call the provider; ask once more when the answer is invalid; fit every platform."""
    completion, data, problems, call = _call_once(workspace_id, p, job_id)
    calls, completions = [call], [completion]
    if data is None:
        p.request.history = [
            {"role": "assistant", "content": completion.text or ""},
            {"role": "user", "content": "That answer is not usable: " + "; ".join(problems)
             + ". Answer again with only the JSON object."}]
        completion, data, problems, call = _call_once(workspace_id, p, job_id)
        calls.append(call)
        completions.append(completion)
        p.request.history = []
        if data is None:
            raise InvalidOutput(f"{p.provider_name} answered twice with output that does not fit "
                                f"the {p.purpose} schema: " + "; ".join(problems),
                                raw=completion.text)
    return _result(p, data, calls, completions)


def _sum(values):
    known = [v for v in values if v is not None]
    return sum(known) if known else None


def _result(p: Prepared, data: dict, calls: list[AICall], completions: list[Completion]) -> Generation:
    hint = p.request.variables.get("title_hint") or ""
    title = data.get("title") or hint
    description = data.get("description") or data.get("caption") or ""
    hashtags = data.get("hashtags", [])
    g = Generation(purpose=p.purpose, title=title, description=description, hashtags=hashtags,
                   script=data.get("script", ""), provider=p.provider_name,
                   model=calls[-1].model, template=p.template_info,
                   persona=p.persona.name if p.persona else None, prompt=p.request.prompt,
                   input_tokens=_sum(c.input_tokens for c in completions),
                   output_tokens=_sum(c.output_tokens for c in completions),
                   latency_ms=sum(c.latency_ms for c in calls), call_ids=[c.id for c in calls],
                   generated_at=isoformat(utcnow()))
    if p.purpose != "script":
        g.variants = [fitting.variant(cls.descriptor.name, cls.descriptor.limits, title,
                                      description, hashtags).as_dict() for cls in p.platforms]
    return g


def generate(config, pm, workspace_id: int, *, job_id: int | None = None, **kw) -> Generation:
    """Prepare and run one generation (see ``prepare`` for the arguments)."""
    p = prepare(config, pm, workspace_id, **kw)
    try:
        result = run(workspace_id, p, job_id=job_id)
    except ProviderError as exc:
        events.record(workspace_id, "ai", f"{p.purpose} generation with {p.provider_name} failed: "
                      f"{exc.message}", level="warning", data={"code": exc.code, "job_id": job_id})
        raise
    return result


def test_prompt(config, pm, workspace_id: int, **kw) -> dict:
    """Render (with sample variables unless real ones are named), call once, report all."""
    p = prepare(config, pm, workspace_id, **kw)
    started = time.monotonic()
    completion, data, problems, call = _call_once(workspace_id, p, None)
    return {"prompt": p.request.prompt, "system": p.request.system, "blocks": p.request.blocks,
            "provider": p.provider_name, "model": call.model, "raw": completion.text,
            "output": data, "valid": data is not None, "problems": problems,
            "latency_ms": call.latency_ms or int((time.monotonic() - started) * 1000),
            "usage": {"input_tokens": completion.input_tokens,
                      "output_tokens": completion.output_tokens},
            "call_id": call.id, "template": p.template_info}


# --- applying --------------------------------------------------------------------------

def apply_to_media(asset: MediaAsset, g: Generation) -> MediaAsset:
    """Keep the result with the media file (``meta["ai"]``), where compose picks it up."""
    meta = dict(asset.meta or {})
    meta["ai"] = {k: v for k, v in g.as_dict().items() if k != "prompt"}
    MediaAsset.update(meta=meta).where(MediaAsset.id == asset.id).execute()
    asset.meta = meta
    return asset


def as_post(g: Generation) -> GeneratedPost:
    variants = [{"platform": v["platform"], "title": v["title"], "body": v["body"],
                 "options": {"hashtags": v["hashtags"]}} for v in g.variants]
    tag_line = " ".join(f"#{t}" for t in g.hashtags)
    body = f"{g.description}\n\n{tag_line}" if g.description and tag_line else (g.description or tag_line)
    meta = {k: v for k, v in g.as_dict().items() if k not in ("prompt", "variants")}
    return GeneratedPost(title=fitting.fit(g.title, fitting.TITLE_MAX_DEFAULT), body=body,
                         tags=list(g.hashtags), variants=variants, ai_metadata=meta)


def apply_to_post(post: Post, g: Generation) -> Post:
    """Write title, body, tags and platform variants into ``post`` (other variants stay)."""
    from .. import posts
    gp = as_post(g)
    mine = {v["platform"] for v in gp.variants}
    kept = [{"platform": v.platform, "account_id": v.account_id, "title": v.title, "body": v.body,
             "options": v.options} for v in post.variants if v.account_id is not None
            or v.platform not in mine]
    return posts.update(post, title=gp.title, body=gp.body, tags=gp.tags,
                        variants=kept + gp.variants, ai_metadata=gp.ai_metadata)


def generate_post(config, pm, workspace_id: int, *, topic: str, platforms, media_ids=(),
                  template_id: int | None = None, persona_id: int | None = None) -> GeneratedPost:
    """An AI-written post about ``topic`` for ``platforms`` (names), e.g. for a schedule.

    Uses the metadata template (given, else active, else built-in) and the
    workspace's default provider; the first media id, when given, is described too.
    Raises ``ValidationError`` (bad input) or ``ProviderError`` (the provider failed).
    Does not write the post: ``posts.create(workspace_id, **result.post_fields(),
    media=list(media_ids))`` does.
    """
    media_ids = list(media_ids)
    g = generate(config, pm, workspace_id, purpose="metadata", topic=topic,
                 media_id=media_ids[0] if media_ids else None, platforms=list(platforms),
                 template_id=template_id, persona_id=persona_id)
    return as_post(g)
