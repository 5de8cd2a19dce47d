"""The method registry: every entry says what it needs and turns that into per-token scores."""

from __future__ import annotations

import numpy as np
import pytest

from lib.salience.methods import (
    CONTRASTIVE,
    INTEGRATED_GRADIENTS,
    METHODS,
    ONE_GRADIENT,
    Gradients,
    MethodInfo,
    Needs,
    one_gradient_methods,
    scores_from_gradient,
)

RNG = np.random.default_rng(0)
GRADS = RNG.normal(size=(2, 5, 3))  # J=2 targets, T=5 tokens, D=3
EMB = RNG.normal(size=(5, 3))


def test_every_registered_method_has_a_scores_function_and_its_needs():
    for m in METHODS.values():
        assert m.scores_from is not None, m.id
        assert isinstance(m.needs, Needs)


def test_grad_l2_is_the_gradient_norm_per_token():
    want = np.linalg.norm(GRADS, axis=-1)
    assert METHODS["grad_l2"].scores_from(Gradients(GRADS, EMB)) == pytest.approx(want)


def test_grad_dot_input_is_the_dot_product_with_the_embedding():
    want = np.einsum("jtd,td->jt", GRADS, EMB)
    assert METHODS["grad_dot_input"].scores_from(Gradients(GRADS, EMB)) == pytest.approx(want)


def test_scores_from_one_gradient_gives_every_one_gradient_method():
    got = scores_from_gradient(GRADS, EMB)
    assert set(got) == set(one_gradient_methods()) == {"grad_l2", "grad_dot_input"}
    assert got["grad_l2"].shape == (2, 5)


def test_a_new_one_gradient_method_is_one_entry():
    extra = dict(METHODS)
    extra["grad_sum"] = MethodInfo("grad_sum", "Grad sum", True, "sum of the gradient",
                                   scores_from=lambda g: g.grads.sum(-1))
    got = scores_from_gradient(GRADS, EMB, extra)
    assert got["grad_sum"] == pytest.approx(GRADS.sum(-1))


def test_methods_that_need_more_are_not_derived_from_one_gradient():
    assert INTEGRATED_GRADIENTS.needs != ONE_GRADIENT and CONTRASTIVE.needs.foil
    extra = {**METHODS, "contrastive": CONTRASTIVE}
    assert "contrastive" not in scores_from_gradient(GRADS, EMB, extra)


def test_integrated_gradients_with_constant_gradients_is_grad_dot_input():
    path = np.stack([GRADS] * 4)  # the same gradient at every step of the path
    got = INTEGRATED_GRADIENTS.scores_from(Gradients(GRADS, EMB, path_grads=path))
    assert got == pytest.approx(np.einsum("jtd,td->jt", GRADS, EMB))


def test_integrated_gradients_goes_from_the_baseline():
    base = RNG.normal(size=EMB.shape)
    path = RNG.normal(size=(3, *GRADS.shape))
    got = INTEGRATED_GRADIENTS.scores_from(Gradients(GRADS, EMB, path_grads=path, baseline=base))
    assert got == pytest.approx(np.einsum("sjtd,td->jt", path, EMB - base) / 3)


def test_integrated_gradients_is_registered_but_not_a_one_gradient_method():
    assert METHODS["integrated_gradients"] is INTEGRATED_GRADIENTS
    assert "integrated_gradients" not in one_gradient_methods()
    assert "contrastive" not in METHODS  # needs a foil: a mode (lib.analysis), not a method


def test_contrastive_is_zero_when_the_foil_has_the_same_gradient():
    got = CONTRASTIVE.scores_from(Gradients(GRADS, EMB, foil_grads=GRADS.copy()))
    assert got == pytest.approx(np.zeros((2, 5)))
    foil = np.zeros_like(GRADS)
    got = CONTRASTIVE.scores_from(Gradients(GRADS, EMB, foil_grads=foil))
    assert got == pytest.approx(np.einsum("jtd,td->jt", GRADS, EMB))


def test_the_ui_and_the_cli_list_methods_and_granularities_from_the_registries():
    from lib.cli import build_parser
    from lib.segments import GRANULARITY_REGISTRY
    from lib.ui import common

    assert list(common.methods()) == list(METHODS)
    assert common.granularities() == tuple(GRANULARITY_REGISTRY)
    assert [g for g in GRANULARITY_REGISTRY if common.needs_pattern(g)] == ["regex"]
    parser = build_parser()
    for m in METHODS:
        assert parser.parse_args(["salience", "--prompt", "x", "--method", m]).method == m
    for g in GRANULARITY_REGISTRY:
        args = parser.parse_args(["salience", "--prompt", "x", "--granularity", g])
        assert args.granularity == g
    with pytest.raises(SystemExit):  # a mode with its own option (--foil), not a method
        parser.parse_args(["salience", "--prompt", "x", "--method", "contrastive"])


@pytest.mark.parametrize("layered", [True, False])
def test_the_engine_computes_every_registered_method(monkeypatch, layered):
    """Registering an entry is all it takes: the engine (both paths) returns its scores, from
    the same gradient as the others, and the pipeline caches them."""
    from lib import pipeline
    from lib.salience import methods
    from lib.salience.forward import ModelFunctions

    model = pipeline.get_model("tiny-gemma3")
    extra = MethodInfo("grad_l1", "Grad L1", False, "sum of |gradient|",
                       scores_from=lambda g: abs(g.grads).sum(-1))
    monkeypatch.setitem(methods.METHODS, "grad_l1", extra)
    fns = ModelFunctions(model.backbone, precision="float32")  # traces with the new registry
    ids = [model.tokenizer.bos_id, *model.tokenizer.encode("The policy applies to everyone.")]
    target = [len(ids) - 2, len(ids) - 1]
    scores, _ = fns.salience_scores(ids, [target], layered=layered)
    assert set(scores) == {"grad_l2", "grad_dot_input", "grad_l1"}
    ref = fns.reference_gradient(ids, target)  # jax.grad of a plain forward
    want = np.abs(ref).sum(-1)
    live = slice(0, max(target))
    assert scores["grad_l1"][0, live] == pytest.approx(want[live], rel=1e-4, abs=1e-6)
    assert scores["grad_l2"][0, live] == pytest.approx(np.linalg.norm(ref, axis=-1)[live],
                                                      rel=1e-4, abs=1e-6)
