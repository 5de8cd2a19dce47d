"""Salience methods, found by string id so the UI and the command line list what exists.

Each entry declares what the engine must compute for it (`needs`) and how its per-token scores
come from that (`scores_from`). Grad-L2 and Grad·Input need one gradient at the token
embeddings, so switching between them never recomputes: the engine computes the gradient once
and derives every such method's scores (`scores_from_gradient`). Methods that need more (a foil
target, several interpolation steps) declare it: `INTEGRATED_GRADIENTS` is registered (the
engine loops over its steps: lib.salience.integrated); `CONTRASTIVE` is not (see below).

`scores_from` works on NumPy and JAX arrays alike (only `**`, `*`, `.sum`), so the engine may
call it inside a jitted function.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Needs:
    """What the engine computes for a method, beyond the forward pass."""

    gradient: bool = True  # the target loss's gradient at the token embeddings
    foil: bool = False  # the same for a contrasting target (contrastive salience)
    interpolation_steps: int = 0  # gradients along a path of scaled embeddings (IG)


ONE_GRADIENT = Needs()


@dataclass(frozen=True)
class Gradients:
    """What the engine hands to `scores_from`. Shapes: J targets, T tokens, D embedding width,
    S interpolation steps."""

    grads: Any  # [J, T, D] gradient of each target's summed loss at the embeddings
    embeddings: Any  # [T, D] the token embeddings as looked up (before any scaling)
    foil_grads: Any = None  # [J, T, D] the foil target's gradient (needs.foil)
    path_grads: Any = None  # [S, J, T, D] gradients along the path (needs steps)
    baseline: Any = None  # [T, D] the path's start (None: zero embeddings)


ScoresFn = Callable[[Gradients], Any]


@dataclass(frozen=True)
class MethodInfo:
    id: str
    label: str
    signed: bool
    description: str
    needs: Needs = ONE_GRADIENT
    scores_from: ScoresFn | None = None  # -> [J, T] scores


def grad_l2(g: Gradients) -> Any:
    return (g.grads ** 2).sum(-1) ** 0.5


def grad_dot_input(g: Gradients) -> Any:
    return (g.grads * g.embeddings[None]).sum(-1)


def integrated_gradients(g: Gradients) -> Any:
    """Mean gradient along the straight path from the baseline to the embeddings, times
    (embeddings - baseline)."""
    steps = g.path_grads.shape[0]
    delta = g.embeddings if g.baseline is None else g.embeddings - g.baseline
    return (g.path_grads.sum(0) / steps * delta[None]).sum(-1)


def contrastive(g: Gradients) -> Any:
    """Grad·Input of the target's loss minus the foil's: what favours the target over it."""
    return ((g.grads - g.foil_grads) * g.embeddings[None]).sum(-1)


METHODS: dict[str, MethodInfo] = {
    m.id: m
    for m in (
        MethodInfo(
            id="grad_l2",
            label="Grad L2",
            signed=False,
            description="L2 norm of the loss gradient at each token's embedding: how strongly a "
            "small change to that token would move the target's probability (unsigned).",
            scores_from=grad_l2,
        ),
        MethodInfo(
            id="grad_dot_input",
            label="Grad · Input",
            signed=True,
            description="Dot product of the gradient and the token's embedding (LIT's sign: "
            "gradient of the loss, so negative means the token made the target more likely).",
            scores_from=grad_dot_input,
        ),
    )
}

INTEGRATED_GRADIENTS = MethodInfo(
    id="integrated_gradients", label="Integrated Gradients", signed=True,
    description="Gradient averaged along the straight path from a baseline (the pad token's "
    "embedding at every prompt and earlier output token) to the input, times the difference "
    "(Sundararajan et al. 2017; LIT's sign, like Grad · Input). Costs one gradient per step.",
    needs=Needs(interpolation_steps=128), scores_from=integrated_gradients)
METHODS[INTEGRATED_GRADIENTS.id] = INTEGRATED_GRADIENTS

# Contrastive salience needs a foil, which a method id cannot carry (a click sends only the id):
# it is a mode of its own (lib.analysis.contrastive_salience) that applies the one-gradient
# methods to the gradient of the contrast. This entry documents the Grad·Input form.
CONTRASTIVE = MethodInfo(
    id="contrastive", label="Contrastive Grad · Input", signed=True,
    description="Grad·Input of the target's loss minus that of a foil: which tokens favour "
    "the target over the foil.",
    needs=Needs(foil=True), scores_from=contrastive)


def one_gradient_methods(methods: Mapping[str, MethodInfo] | None = None
                         ) -> dict[str, MethodInfo]:
    """The registered methods whose scores come from the one gradient alone."""
    return {k: m for k, m in (METHODS if methods is None else methods).items()
            if m.needs == ONE_GRADIENT}


def scores_from_gradient(grads: Any, embeddings: Any,
                         methods: Mapping[str, MethodInfo] | None = None) -> dict[str, Any]:
    """Every one-gradient method's [J, T] scores from one gradient [J, T, D] and the
    embeddings [T, D]: the engine computes the gradient once and calls this."""
    g = Gradients(grads=grads, embeddings=embeddings)
    return {k: m.scores_from(g) for k, m in one_gradient_methods(methods).items()
            if m.scores_from is not None}


def get_method(method_id: str) -> MethodInfo:
    try:
        return METHODS[method_id]
    except KeyError:
        known = ", ".join(METHODS)
        from lib.errors import InputError

        raise InputError(f"Unknown salience method {method_id!r}; choose one of: {known}.",
                         field="method") from None
