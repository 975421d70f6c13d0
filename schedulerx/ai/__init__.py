"""AI: providers (plugins), prompt templates, personas, generation (see docs/ai.md).

Modules:
  providers          the provider base class, request/answer types and errors
  provider_settings  per-workspace provider settings (secrets encrypted) and preferences
  templates          prompt templates: versions, activation; sandbox renders them
  personas           named voices templates include
  variables          the documented template variables
  output             the answer's schema per purpose; parse, repair, validate
  fitting            cutting text and hashtags to a platform's limits
  generation         template → provider → validated answer → variant per platform
  jobs               generations run by a worker
"""
