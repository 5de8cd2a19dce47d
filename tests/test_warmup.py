"""The server's background warm-up (lib/warmup.py) compiles and caches the first clicks."""

from __future__ import annotations

from lib import pipeline
from lib.records import GenerationSettings
from lib.templates import BUILTIN_TEMPLATES
from lib.warmup import PAGE_MAX_NEW_TOKENS, warm_up


def test_warm_up_caches_the_default_templates_first_clicks():
    model = pipeline.get_model("tiny")
    done = warm_up(model)
    assert done["templates"] >= 1 and done["salience_calls"] >= 2
    # The page's first Generate on the default template gives the same output (greedy), and
    # a click on its last token then finds its scores already computed.
    template = BUILTIN_TEMPLATES[0]
    gen = pipeline.generate(model, template.render(),
                            GenerationSettings(max_new_tokens=PAGE_MAX_NEW_TOKENS,
                                               stop=template.stop))
    seq = gen.sequence
    assert len(seq.tokens) > seq.prompt_length
    assert pipeline.cached_salience(model, seq, [len(seq.tokens) - 1]) is not None


def test_warm_up_goes_one_model_call_at_a_time():
    """The server runs each step as its own low-priority job, so a reviewer's job never waits
    behind the whole warm-up: every step is one generation or one salience call."""
    from lib.warmup import warm_up_steps

    model = pipeline.get_model("tiny")
    calls = []
    real_generate, real_salience = pipeline.generate, pipeline.salience_batch

    def count(name, real):
        def wrapped(*args, **kwargs):
            calls.append(name)
            return real(*args, **kwargs)
        return wrapped

    import pytest

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(pipeline, "generate", count("generate", real_generate))
        mp.setattr(pipeline, "salience_batch", count("salience", real_salience))
        seen = 0
        for _ in warm_up_steps(model):
            assert len(calls) - seen <= 1  # at most one model call per step
            seen = len(calls)
    assert calls.count("generate") >= 1 and calls.count("salience") >= 2
