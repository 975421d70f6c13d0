"""Built-in prompt templates (used when a workspace has no active one) and persona presets.

A template's named blocks (``description``, ``caption``, ``script``, ``title``) are
drafts: a model sees them inline as part of the prompt, and the offline provider
uses them as they are. Editing a block is how a user shapes offline output.
"""
from __future__ import annotations

PURPOSES = ("metadata", "caption", "hashtags", "script")

_CONTEXT = """\
{% if persona %}Write as "{{ persona.name }}": {{ persona.instructions }}
{% endif %}
{% if tone %}Tone: {{ tone }}.
{% endif %}
Language: {{ language }}.
Topic: {{ topic }}
{% if media %}Media: a {{ media.type }} named "{{ file_name }}"{% if media.duration %}, {{ media.duration|round|int }} seconds long{% endif %}{% if media.tags %}, tagged {{ media.tags|join(", ") }}{% endif %}.
{% endif %}
{% if post and post.body %}Current text: {{ post.body }}
{% endif %}
{% if platforms %}It will be posted on: {% for p in platforms %}{{ p.label }}{% if p.limits.text_max %} (at most {{ p.limits.text_max }} characters{% if p.limits.hashtags_max %}, {{ p.limits.hashtags_max }} hashtags{% endif %}){% endif %}{{ ", " if not loop.last }}{% endfor %}.
{% endif %}
"""

BUILTIN: dict[str, str] = {
    "metadata": """\
Write the title, description and hashtags of a social media post.
""" + _CONTEXT + """
Start from this draft of the description and improve it:
{% block description %}{% if media and media.type == "video" %}New video: {{ title_hint }}. Watch it, try it yourself and ask your questions in the comments.{% elif media and media.type == "image" %}New picture: {{ title_hint }}.{% else %}{{ title_hint }}.{% endif %}{% endblock %}


The title is short and specific; the description is one or two sentences; give 3 to 8
hashtags without the # sign, most relevant first.
""",
    "caption": """\
Write a caption for a social media post, and hashtags for it.
""" + _CONTEXT + """
Start from this draft:
{% block caption %}{{ title_hint }}{% if media and media.type == "video" %} — watch now{% endif %}.{% endblock %}


Give 3 to 8 hashtags without the # sign, most relevant first.
""",
    "hashtags": """\
Suggest hashtags for a social media post, without the # sign, most relevant first.
""" + _CONTEXT,
    "script": """\
Write a short video script: a hook, three points and a call to action.
""" + _CONTEXT + """
Start from this outline:
{% block script %}Hook: what you will learn about {{ topic }}.
Point 1: why {{ topic }} matters.
Point 2: how it works, step by step.
Point 3: a common mistake and how to avoid it.
Call to action: follow for more.{% endblock %}
""",
}

#: Voices a workspace can start from (``POST /api/v1/ai/personas`` with ``preset``).
PERSONA_PRESETS: dict[str, dict] = {
    "personal": {"name": "Personal", "tone": "warm, first person",
                 "instructions": "Write as yourself, in the first person, like telling a "
                                 "friend. Short sentences, no jargon, no hype."},
    "coach": {"name": "Coach", "tone": "encouraging",
              "instructions": "Write as a coach: encouraging and direct, address the reader "
                              "as 'you', end with one concrete next step."},
    "pr": {"name": "PR professional", "tone": "polished, factual",
           "instructions": "Write as a communications professional: polished, factual, "
                           "third person, no slang, no exclamation marks."},
}
