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
