"""Platform limits: every platform in the registry, cuts at word or grapheme boundaries only."""
from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from schedulerx import hookimpl
from schedulerx.ai import generation
from schedulerx.ai.fitting import ELLIPSIS, fit, graphemes, measure, variant
from schedulerx.ai.providers import AIProvider, Completion
from schedulerx.publishers import PlatformDescriptor, PlatformLimits, Publisher

# Text a model might write: emoji ZWJ sequences, flags, combining accents, CJK, long words.
LONG = ("Familie 👩‍👩‍👧‍👦 am Meer 🇩🇪🇫🇷! Cafe\u0301 au lait, na\u0308ive re\u0301sume\u0301s, "
        "長い文章は途中で切られます。" * 12 + "Supercalifragilisticexpialidocious" * 5)
TAGS = [f"tag{i}" for i in range(40)] + ["日本語", "Café"]


class Tight(Publisher):
    descriptor = PlatformDescriptor("tight", "Tight", PlatformLimits(
        text_max=60, title_max=12, hashtags_max=2))


class Graphemes(Publisher):
    descriptor = PlatformDescriptor("graphemes", "Counts graphemes", PlatformLimits(
        text_max=30, count_graphemes=True, hashtags_max=5))


class Tiny(Publisher):
    descriptor = PlatformDescriptor("tiny", "Tiny", PlatformLimits(text_max=3, title_max=1))


class Verbose(AIProvider):
    """Answers with far more than any platform takes."""
    name, label, offline = "verbose", "Verbose", True

    def complete(self, request):
        import json
        return Completion(text=json.dumps({"title": LONG, "description": LONG, "hashtags": TAGS}))


class Plugin:
    @hookimpl
    def register_publishers(self):
        return [Tight, Graphemes, Tiny]

    @hookimpl
    def register_ai_providers(self):
        return [Verbose]


@pytest.fixture
def extra(rt):
    rt.pm.register(Plugin(), name="fitting-test")
    yield
    rt.pm.unregister(name="fitting-test")


def is_clean_cut(original: str, cut: str) -> bool:
    """``cut`` is whole graphemes of ``original`` (then "…"), never half of one."""
    if cut == original.strip():
        return True
    assert cut.endswith(ELLIPSIS) or cut == "", cut
    head = cut[:-1] if cut else ""
    clusters = graphemes(original.strip())
    return any("".join(clusters[:k]) == head for k in range(len(clusters) + 1))


def test_limits_respected_for_every_platform_in_the_registry(rt, owner, extra):
    publishers = rt.pm.publishers()
    assert {"localfeed", "webhook", "tight", "graphemes", "tiny"} <= set(publishers)
    g = generation.generate(rt.config, rt.pm, owner[1].id, topic="anything", provider="verbose")
    assert {v["platform"] for v in g.variants} == set(publishers)
    for v in g.variants:
        lim = publishers[v["platform"]].descriptor.limits
        count = lim.count_graphemes
        if lim.text_max is not None:
            assert measure(v["body"], count) <= lim.text_max, v
        assert measure(v["title"], count) <= (lim.title_max or 500), v
        if lim.hashtags_max is not None:
            assert len(v["hashtags"]) <= lim.hashtags_max
            assert v["body"].count("#") <= lim.hashtags_max
        assert is_clean_cut(LONG, v["title"])
        text = v["body"].split("\n\n#")[0] if v["hashtags"] else v["body"]
        assert is_clean_cut(LONG, text), v
        assert all(f"#{t}" in v["body"] for t in v["hashtags"])


def test_a_cut_prefers_the_last_word_boundary():
    assert fit("the quick brown fox jumps", 16) == "the quick brown…"
    assert fit("the quick brown fox", 100) == "the quick brown fox"
    assert fit("Supercalifragilistic", 6) == "Super…"  # no space: cut at a grapheme
    assert fit("👩‍👩‍👧‍👦" * 3, 2, count_graphemes=True) == "👩‍👩‍👧‍👦…"
    # In code points a family emoji is 7 long: it is never split, so it is dropped whole.
    assert fit("👩‍👩‍👧‍👦👩‍👩‍👧‍👦", 9) == "👩‍👩‍👧‍👦…"
    assert fit("👩‍👩‍👧‍👦👩‍👩‍👧‍👦", 5) == "…"


def test_hashtags_fit_their_count_and_a_third_of_the_room():
    v = variant("p", PlatformLimits(text_max=30, hashtags_max=3), "T", "word " * 20, ["aa", "bb", "cc", "dd"])
    assert v.hashtags == ["aa", "bb"] and v.body.endswith("#aa #bb") and len(v.body) <= 30
    v = variant("p", PlatformLimits(), "T", "short", ["aa"])
    assert v.body == "short\n\n#aa"


clusters = st.sampled_from(["a", "b", " ", "é", "e\u0301", "👍🏽", "👩‍👩‍👧", "🇯🇵", "日", "\n", "-", "ก\u0e31"])


@settings(max_examples=300, deadline=None)
@given(st.lists(clusters, max_size=40).map("".join), st.integers(min_value=0, max_value=40),
       st.booleans())
def test_fit_never_exceeds_the_limit_nor_splits_a_grapheme(text, limit, count_graphemes):
    out = fit(text, limit, count_graphemes=count_graphemes)
    assert measure(out, count_graphemes) <= limit
    assert is_clean_cut(text, out)
