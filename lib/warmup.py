"""Compile, in the background as soon as the model is ready, what the first clicks will need.

A fresh server compiles each new shape on first use (about 10 s for a salience shape on the
embedded model): the first click after "Ready" would wait for it. This job runs the built-in
short templates once (generation with the page's default settings, then salience for one target
and for a prefetch batch in every length bucket their answers reach), at prefetch priority, so
the shapes are compiled (and kept in the on-disk compile cache) and the answers' scores cached
before anyone asks. A reviewer's own jobs go first (the worker serves them between pieces).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from lib.cancel import checkpoint
from lib.models.loaded_model import LoadedModel
from lib.records import GenerationSettings

# What the Debug page uses before anyone changes it.
PAGE_MAX_NEW_TOKENS = 32
PREFETCH_BATCH = 4
WARM_TEMPLATES = 3  # the first short built-in templates (the ones a new reviewer opens first)

ProgressFn = Callable[[float, str], None]


def warm_up(model: LoadedModel, progress: ProgressFn | None = None) -> dict[str, int]:
    """Run the built-in templates' first generation and clicks; returns what was warmed."""
    return list(warm_up_steps(model, progress))[-1]


def warm_up_steps(model: LoadedModel, progress: ProgressFn | None = None
                  ) -> Iterator[dict[str, int]]:
    """The warm-up one model call at a time (a generation, or one salience call), yielding
    what was warmed so far after each: the server runs each step as its own low-priority job,
    so a reviewer's Generate or click waits for one step at most, never for the whole."""
    from lib import pipeline
    from lib.salience.blocked_attention import padded_length
    from lib.templates import BUILTIN_TEMPLATES

    templates = [t for t in BUILTIN_TEMPLATES if not t.document_variables][:WARM_TEMPLATES]
    calls = 0
    for k, template in enumerate(templates):
        settings = GenerationSettings(max_new_tokens=PAGE_MAX_NEW_TOKENS, stop=template.stop)
        gen = pipeline.generate(model, template.render(), settings)
        yield {"templates": k, "salience_calls": calls}
        seq = gen.sequence
        ends: dict[int, list[int]] = {}  # length bucket -> output token positions ending in it
        for i in range(seq.prompt_length, len(seq.tokens)):
            if i <= model.max_salience_tokens:
                ends.setdefault(padded_length(i + 1), []).append(i)
        for positions in ends.values():
            checkpoint()
            pipeline.salience(model, seq, [positions[-1]])  # a click: one target
            calls += 1
            yield {"templates": k, "salience_calls": calls}
            batch = [[p] for p in positions[-PREFETCH_BATCH:]]
            if len(batch) > 1:
                pipeline.salience_batch(model, seq, batch)  # a prefetch batch
                calls += 1
                yield {"templates": k, "salience_calls": calls}
        if progress:
            progress((k + 1) / len(templates), f"Warmed up {template.title}")
    yield {"templates": len(templates), "salience_calls": calls}
