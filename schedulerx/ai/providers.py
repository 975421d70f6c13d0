"""What an AI provider plugin implements, what it gets, and what it returns.

A provider is one class registered through the ``register_ai_providers`` hook.
Generation (``generation.py``) renders the prompt template, builds an
``AIRequest``, and calls ``complete``; the provider never touches the database.

Outcomes are told by return value or exception:
  * return ``Completion``            → the answer (validated by the caller)
  * raise ``ProviderTimeout``        → the provider did not answer in time (504)
  * raise ``ProviderRateLimited``    → the provider said slow down (429)
  * raise ``ProviderAuthError``      → the key is missing or refused (502)
  * raise ``ProviderError``          → anything else the provider refused (502)
A provider retries what is worth retrying itself (it knows its own error shapes).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

import marshmallow

from ..errors import SchedulerXError, ValidationError


class ProviderError(SchedulerXError):
    """The provider failed or refused; ``raw`` keeps what it answered."""
    status = 502
    code = "ai_provider_error"

    def __init__(self, message: str, *, raw: Any = None, **kw):
        super().__init__(message, **kw)
        self.raw = raw


class ProviderTimeout(ProviderError):
    status = 504
    code = "ai_provider_timeout"


class ProviderRateLimited(ProviderError):
    status = 429
    code = "ai_rate_limited"


class ProviderAuthError(ProviderError):
    code = "ai_provider_auth"


class InvalidOutput(ProviderError):
    """The answer did not match the output schema, even after repair and one retry."""
    code = "ai_invalid_output"


@dataclass
class AIRequest:
    """One generation call.

    ``prompt`` is the rendered template; ``system`` the fixed instructions about the
    answer's form; ``output_schema`` the JSON Schema the answer must match.
    ``variables`` and ``blocks`` (the template's named ``{% block %}``s, rendered) are
    there for providers that do not run a model (the offline one builds its answer
    from them); a model-backed provider sends ``messages``.
    """
    purpose: str
    prompt: str
    system: str
    output_schema: dict
    variables: dict = field(default_factory=dict)
    blocks: dict[str, str] = field(default_factory=dict)
    model: str = ""
    params: dict = field(default_factory=dict)  # temperature, max_tokens, ...
    timeout: float | None = None  # seconds; None: the provider's setting
    #: Earlier turns when retrying after an invalid answer: [{"role", "content"}].
    history: list[dict] = field(default_factory=list)

    @property
    def messages(self) -> list[dict]:
        return [{"role": "system", "content": self.system},
                {"role": "user", "content": self.prompt}, *self.history]


@dataclass
class Completion:
    text: str  # the raw answer text (JSON expected)
    model: str = ""
    input_tokens: int | None = None
    output_tokens: int | None = None
    raw: Any = None  # the provider's whole answer, for the call record


class EmptySettings(marshmallow.Schema):
    pass


class AIProvider:
    """Base class of an AI provider (see docs/ai.md and docs/plugins.md)."""

    name: ClassVar[str]
    label: ClassVar[str]
    #: marshmallow schema of the workspace's settings for it (rendered as a form).
    settings_schema: ClassVar[type[marshmallow.Schema]] = EmptySettings
    #: settings that are secrets (API keys): stored encrypted, never shown again.
    secret_fields: ClassVar[tuple[str, ...]] = ()
    #: True when it needs no network: it may run inside a web request.
    offline: ClassVar[bool] = False

    @classmethod
    def enabled(cls) -> bool:
        """False when an optional dependency is missing (the provider is listed, not usable)."""
        return True

    def __init__(self, settings: dict):
        self.settings = settings

    def complete(self, request: AIRequest) -> Completion:
        raise NotImplementedError


def provider_class(pm, name: str) -> type[AIProvider]:
    cls = pm.ai_providers().get(name)
    if cls is None:
        raise ValidationError(f"no AI provider plugin {name!r} is loaded", field="provider")
    if not cls.enabled():
        raise ValidationError(f"the AI provider {name!r} is installed without its optional "
                              "dependency; see docs/ai.md", field="provider")
    return cls


def load_settings(cls: type[AIProvider], settings: dict) -> dict:
    """Validate settings against the provider's schema (422 with the field errors)."""
    try:
        return cls.settings_schema().load(settings or {})
    except marshmallow.ValidationError as exc:
        raise ValidationError(f"settings for {cls.name} are invalid",
                              errors={"settings": exc.messages})
