"""Analyses built on the pipeline's salience: contrastive salience ("why this and not that")
and the output x prompt matrix. `lib.pipeline` re-exports these names.

Contrastive salience: for an output segment S (contiguous target tokens) and a foil F (token
ids), both are teacher-forced after the same context (the prompt and the output before S). The
objective is log p(S | context) - log p(F | context); scores use LIT's sign (the gradient of the
loss -(log p(S) - log p(F)) = NLL(S) - NLL(F), so Grad·Input < 0 means the token pushes toward
S rather than F). Any one-gradient method applies to that gradient: Grad·Input (signed) and
Grad-L2 (unsigned). Scores cover the context tokens only: S's and F's own positions are not
shared by the two sequences, so they are excluded (`token_scores` gives them 0).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from lib import pipeline
from lib.errors import InputError, LimitError
from lib.generation import check_text
from lib.models.loaded_model import LoadedModel
from lib.records import Segment, TokenSequence
from lib.salience.methods import METHODS, Gradients, one_gradient_methods
from lib.segments import segment_scores, segment_sequence

ProgressFn = Callable[[float, str], None]


@dataclass(frozen=True)
class ContrastiveSalience:
    method: str
    target_token_indices: tuple[int, ...]
    foil_ids: tuple[int, ...]
    foil_text: str
    scores: tuple[float, ...]  # one per context token: indices 0 .. target start - 1
    target_logprob: float  # log p(S | context), summed over S's tokens
    foil_logprob: float  # log p(F | context)

    @property
    def logprob_difference(self) -> float:
        return self.target_logprob - self.foil_logprob

    def token_scores(self, n: int) -> tuple[float, ...]:
        """The scores over a sequence of n tokens: 0 at S's positions and after."""
        return self.scores + (0.0,) * (n - len(self.scores))


def foil_ids(model: LoadedModel, text: str) -> list[int]:
    """The foil's token ids, tokenised as typed (a leading space counts, as in the output)."""
    if not isinstance(text, str) or not text:
        raise InputError("The foil is empty: type the text to contrast the selection with.",
                         field="foil")
    check_text(text, "foil")
    ids = list(model.tokenizer.encode(text))
    if not ids:
        raise InputError(f"The foil {text[:40]!r} tokenises to nothing; type some text.",
                         field="foil")
    return ids


def contrast_gradient(fns: Any, context: Sequence[int], target: Sequence[int],
                      foil: Sequence[int], pad_id: int = 0, **options: Any
                      ) -> tuple[np.ndarray, float, float]:
    """(gradient [C, D] of NLL(target) - NLL(foil) at the C context embeddings,
    log p(target | context), log p(foil | context)); `fns` is a `ModelFunctions`, `options`
    go to its `embedding_gradients` (precision, layered)."""
    c = len(context)
    grads, logps = [], []
    for tokens in (target, foil):
        ids = [*context, *tokens]
        g, loss = fns.embedding_gradients(ids, [range(c, len(ids))], pad_id=pad_id, **options)
        grads.append(g[0, 0, :c])
        logps.append(-float(loss[0, 0]))
    return grads[0] - grads[1], logps[0], logps[1]


def contrastive_salience(model: LoadedModel, seq: TokenSequence,
                         target_token_indices: Sequence[int], foil: Sequence[int],
                         method: str = "grad_dot_input") -> ContrastiveSalience:
    """Contrastive scores over the context of the output segment `target_token_indices`
    against the foil token ids `foil` (`foil_ids` tokenises typed text). A foil equal to the
    target is allowed: every score is 0."""
    if method not in one_gradient_methods():
        raise InputError(f"Contrastive salience takes one of {', '.join(one_gradient_methods())}"
                         f" (got {method!r}).", field="method")
    t = pipeline.check_target(model, seq, target_token_indices)
    if t != list(range(t[0], t[-1] + 1)):
        raise InputError("Contrastive salience needs one contiguous output segment.",
                         field="selection")
    foil = [int(i) for i in foil]
    vocab = int(model.backbone.vocabulary_size)
    if not foil or any(not 0 <= i < vocab for i in foil):
        raise InputError(f"The foil needs 1 or more token ids in 0..{vocab - 1}.", field="foil")
    if t[0] + len(foil) - 1 > model.max_salience_tokens:
        raise LimitError(f"The foil ends past the salience limit of {model.max_salience_tokens} "
                         "tokens; use a shorter foil.", field="foil")
    fns = model.functions
    ids = seq.ids
    grad, target_lp, foil_lp = contrast_gradient(fns, ids[: t[0]], ids[t[0]: t[-1] + 1], foil,
                                                 pad_id=model.tokenizer.pad_id)
    table = np.asarray(fns.weights[fns.embedding_index], np.float64)
    g = Gradients(grads=grad[None], embeddings=table[ids[: t[0]]])
    scores = np.asarray(METHODS[method].scores_from(g))[0]
    return ContrastiveSalience(
        method=method, target_token_indices=tuple(t), foil_ids=tuple(foil),
        foil_text=model.tokenizer.decode(foil), scores=tuple(float(s) for s in scores),
        target_logprob=target_lp, foil_logprob=foil_lp)


@dataclass(frozen=True)
class Matrix:
    """scores[i][j]: the score of prompt segment `columns[j]` for output segment `rows[i]`."""

    method: str
    granularity: str
    rows: tuple[Segment, ...]
    columns: tuple[Segment, ...]
    scores: tuple[tuple[float, ...], ...]


def salience_matrix(model: LoadedModel, seq: TokenSequence, granularity: str,
                    method: str = "grad_l2", pattern: str | None = None,
                    progress: ProgressFn | None = None) -> Matrix:
    """Every output segment's salience over the prompt's segments (special tokens left out),
    from one `salience_batch` (shared forward passes, cached per segment)."""
    segments = segment_sequence(seq, granularity, pattern)
    rows = [s for s in segments if not s.in_prompt and s.token_indices]
    columns = [s for s in segments if s.in_prompt]
    if not rows:
        raise InputError("The output has no segment to explain.", field="target")
    sals = pipeline.salience_batch(model, seq, [r.token_indices for r in rows], method,
                                   progress=progress)
    scores = tuple(tuple(segment_scores(columns, s.scores)) for s in sals)
    return Matrix(method=method, granularity=granularity, rows=tuple(rows),
                  columns=tuple(columns), scores=scores)
