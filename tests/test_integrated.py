"""Integrated Gradients: completeness in float64, the pipeline's cache and the request path."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from lib import pipeline
from lib.errors import InputError
from lib.salience.integrated import DEFAULT_STEPS, MAX_STEPS

PROMPT = "Analyze a menu item.\nSuggestion: Quiche Lorraine\nAnalysis:"
TEXT = "Analyze a menu item. Suggestion: Quiche Lorraine. Recommendation: Avoid. It has eggs."

# float64 needs jax_enable_x64, a process-wide switch: run it in a fresh interpreter (as the
# finite-difference test of test_forward.py does), so x64 never leaks into other tests.
_F64_SCRIPT = textwrap.dedent("""
    import json, sys
    import jax
    jax.config.update("jax_enable_x64", True)
    from lib.models.loaded_model import LoadedModel, weights_fingerprint
    from lib.models.tiny import tiny_backbone
    from lib.models.tiny_vocab import tiny_vocab_proto
    from lib.salience.integrated import integrated_gradients
    from lib.tokenizer import TextTokenizer
    import keras
    from keras import ops

    # keras-hub keeps norms and softmax in float32 on purpose: widen them for a float64 run.
    _cast = ops.cast
    ops.cast = lambda x, dtype: _cast(x, "float64" if str(dtype) == "float32" else dtype)
    backbone = tiny_backbone("gemma3", dtype="float64")
    for layer in backbone._flatten_layers(include_self=False):
        layer.dtype_policy = keras.DTypePolicy("float64")
    model = LoadedModel(spec="f64", name="f64", backbone=backbone,
                        tokenizer=TextTokenizer(tiny_vocab_proto()),
                        fingerprint=weights_fingerprint(backbone))
    tok = model.tokenizer
    ids = [tok.bos_id, *tok.encode(sys.argv[1])]
    steps_list = json.loads(sys.argv[2])
    out = []
    for target in ([len(ids) - 4, len(ids) - 3], [len(ids) - 1], [10, 11, 12]):
        interpolate = [i != 0 and i not in target for i in range(len(ids))]
        for layered in (True, False):
            for steps in steps_list:
                r = integrated_gradients(model.functions, ids, target, interpolate, tok.pad_id,
                                         steps, batch=16, layered=layered)
                out.append({"target": target, "layered": layered, "steps": steps,
                            "gap": r.completeness_gap, "delta": r.loss - r.baseline_loss,
                            "kept": [float(r.scores[i]) for i in [0, *target]]})
    print(json.dumps(out))
""")


def test_completeness_gap_shrinks_with_steps_and_is_under_1_percent_at_the_default():
    root = Path(__file__).resolve().parents[1]
    steps_list = [8, 32, DEFAULT_STEPS]
    result = subprocess.run(
        [sys.executable, "-c", _F64_SCRIPT, TEXT, json.dumps(steps_list)], cwd=root,
        capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(root)},
        timeout=900)
    assert result.returncode == 0, result.stderr[-3000:]
    rows = json.loads(result.stdout.strip().splitlines()[-1])
    by = {(tuple(r["target"]), r["layered"], r["steps"]): r for r in rows}
    for (target, layered, steps), row in by.items():
        assert abs(row["delta"]) > 1e-3  # the path changes the loss: the gap is meaningful
        assert row["kept"] == [0.0] * len(row["kept"])  # <bos> and the target stay fixed
        if steps == DEFAULT_STEPS:
            assert row["gap"] < 0.01, row
            assert row["gap"] < by[(target, layered, 8)]["gap"], row
        other = by[(target, not layered, steps)]  # both engine paths: the same numbers
        assert row["gap"] == pytest.approx(other["gap"], rel=1e-6, abs=1e-9)


@pytest.fixture(scope="module")
def model():
    return pipeline.get_model("tiny")


@pytest.fixture(scope="module")
def seq(model):
    return pipeline.sequence_for_target(model, PROMPT, " Avoid. It has eggs.")


def test_pipeline_integrated_gradients_is_cached_apart_and_keeps_the_gradient_cache(model, seq):
    pipeline.clear_cache()
    target = [len(seq.tokens) - 3, len(seq.tokens) - 2]
    assert pipeline.cached_salience(model, seq, target, "integrated_gradients") is None
    plain = pipeline.salience(model, seq, target, "grad_l2")
    # The one-gradient entry does not answer for IG, and asking for IG does not crash.
    assert pipeline.cached_salience(model, seq, target, "integrated_gradients") is None
    sal = pipeline.salience(model, seq, target, "integrated_gradients")
    assert sal.method == "integrated_gradients" and len(sal.scores) == len(seq.tokens)
    hit = pipeline.cached_salience(model, seq, target, "integrated_gradients")
    assert hit is not None and hit.scores == sal.scores
    assert pipeline.cached_salience(model, seq, target, "grad_l2").scores == plain.scores
    # Special tokens, the target and everything after it score 0; the context does not.
    assert sal.scores[0] == 0.0 and all(sal.scores[i] == 0.0 for i in target)
    assert all(s == 0.0 for s in sal.scores[max(target):])
    assert any(s != 0.0 for s in sal.scores[1:target[0]])
    result = pipeline.integrated_gradients(model, seq, target)
    assert result.steps == DEFAULT_STEPS and tuple(result.scores.tolist()) == sal.scores
    other = pipeline.integrated_gradients(model, seq, target, steps=4)  # its own cache entry
    assert other.steps == 4 and not np.array_equal(other.scores, result.scores)
    print(f"float32/mixed completeness gap on tiny: {result.completeness_gap:.2e} at "
          f"{DEFAULT_STEPS} steps, {other.completeness_gap:.2e} at 4")


def test_integrated_gradients_reports_progress_between_step_batches(model, seq):
    from lib.cancel import CancelToken, JobContext, running
    from lib.errors import Cancelled

    pipeline.clear_cache()
    target = [len(seq.tokens) - 1]
    seen: list[float] = []
    pipeline.integrated_gradients(model, seq, target, steps=40,
                                  progress=lambda f, m: seen.append(f))
    assert seen and seen == sorted(seen) and seen[-1] == pytest.approx(1.0)
    token, calls = CancelToken(), []

    def between() -> None:
        calls.append(1)
        if len(calls) == 3:
            token.cancel()

    with running(JobContext(token=token, between_pieces=between)), pytest.raises(Cancelled):
        pipeline.integrated_gradients(model, seq, target, steps=41)
    assert len(calls) == 3  # stopped at the checkpoint where it was cancelled


@pytest.mark.parametrize("steps", [0, -1, MAX_STEPS + 1, 2.5, True])
def test_bad_steps_are_refused_with_the_field(model, seq, steps):
    with pytest.raises(InputError) as err:
        pipeline.integrated_gradients(model, seq, [len(seq.tokens) - 1], steps=steps)
    assert err.value.field == "steps"


def test_the_request_path_computes_ig_on_click_and_never_prefetches_it(model, seq):
    from concurrent.futures import Future

    from lib.salience_requests import prefetch_salience, request_salience

    class Service:  # the worker's interface that the request path uses
        def __init__(self):
            self.model = model
            self.submitted = []

        def submit(self, job, **kwargs):
            self.submitted.append(kwargs)
            fut: Future = Future()
            fut.set_result(job(self.model))
            return fut

        def cancel_prefetch(self, owner):
            pass

    pipeline.clear_cache()
    svc = Service()
    target = [len(seq.tokens) - 2]
    fut = request_salience(svc, seq, target, "integrated_gradients",
                           lambda m, s, t, meth: pipeline.salience_batch(m, s, [t], meth)[0])
    assert fut.result().method == "integrated_gradients"
    again = request_salience(svc, seq, target, "integrated_gradients", None)  # from the cache
    assert again.result().scores == fut.result().scores and len(svc.submitted) == 1
    assert prefetch_salience(svc, seq, [[len(seq.tokens) - 1]], "integrated_gradients",
                             pipeline.salience_batch, owner="o") == []
    assert len(prefetch_salience(svc, seq, [[len(seq.tokens) - 1]], "grad_l2",
                                 pipeline.salience_batch, owner="o")) == 1
