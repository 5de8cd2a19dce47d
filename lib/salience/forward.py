"""Our own JAX forward passes over a keras-hub Gemma backbone.

keras-hub's `score()` is missing on Gemma 3 and ignores the intercept hook's return on Gemma, so
we run the backbone's own decoder blocks (Gemma 1, 2 and 3 alike) statelessly under `jax.jit`,
starting from the token embeddings *as looked up*, before Gemma's sqrt(d) scaling (LIT's
interception point). Weights are passed as arguments, never captured: captured constants would
copy the whole model into every compiled function.

The compiled functions, each cached per padded shape (lengths are bucketed so a new prompt
length rarely recompiles):
- `salience`: gradients of summed target cross-entropy w.r.t. the embeddings, for J targets at
  once (one forward, J backward passes batched with vmap), logits only at target positions, and
  nothing after the last target token.
- `logits_at`: plain forward with logits at chosen positions (tests, scoring).
- `token_logprobs`: teacher-forced log-probabilities of chosen tokens for a batch of sequences
  padded to one length (counterfactual edits of a prompt, lib/counterfactual.py).
- `step`: one generation step with a KV cache (prefill or one new token), logits at one position.
"""

from __future__ import annotations

import math
import os
import threading
from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import keras
import numpy as np

from lib.salience.fused_ce import token_nll
from lib.salience.gemma3_stack import Gemma3Stack
from lib.salience.layered import LayeredSalience, pull_back
from lib.salience.methods import scores_from_gradient
from lib.salience.padding import bucket_count, bucket_length, pad_targets

__all__ = ["ModelFunctions", "bucket_count", "bucket_length", "enable_compilation_cache"]
from lib.salience.precision import PRECISIONS, default_precision
from lib.salience.scoring import TeacherForcedScoring


def enable_compilation_cache() -> None:
    """Keep compiled functions on disk (under the model cache) so a restarted server or a new
    test process skips the ~10 s compiles of the 270M model. `STUDIO_JAX_CACHE=0` turns it off."""
    if os.environ.get("STUDIO_JAX_CACHE", "1") == "0" or jax.config.jax_compilation_cache_dir:
        return
    from lib.paths import cache_dir

    folder = cache_dir() / "jax-compiled"
    folder.mkdir(parents=True, exist_ok=True)
    jax.config.update("jax_compilation_cache_dir", str(folder))
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 1.0)


class ModelFunctions(TeacherForcedScoring):
    """Compiled functions over one backbone's weights (thread-safe: all state is arguments).
    The plain scoring forwards (`logits_at`, `token_logprobs`) are in lib/salience/scoring.py."""

    def __init__(self, backbone: Any, precision: str | None = None) -> None:
        enable_compilation_cache()
        self.precision = default_precision() if precision is None else precision
        if self.precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {PRECISIONS}, got {self.precision!r}")
        self.backbone = backbone
        self.variables = list(backbone.variables)
        self.weights = [jnp.asarray(v.value) for v in self.variables]
        embedding = backbone.token_embedding.embeddings
        self.embedding_index = next(
            i for i, v in enumerate(self.variables) if v is embedding
        )
        self.hidden_dim = int(backbone.hidden_dim)
        self.is_gemma3 = type(backbone).__name__ == "Gemma3Backbone"
        layer = backbone.token_embedding
        self._tied_output = bool(getattr(layer, "tie_weights", False)) and \
            getattr(layer, "reverse_dtype", None) is None
        # Gemma 3 runs on our own stack (gemma3_stack.py); other families on keras-hub's blocks.
        self.stack = Gemma3Stack(backbone, self.variables) if Gemma3Stack.supports(backbone) \
            else None
        self.layered = LayeredSalience(self.stack, self.embedding_index,
                                       layer.logit_soft_cap) if self.stack is not None else None
        self._packed: dict[str, Any] = {}
        self._pack_lock = threading.Lock()
        self._salience = jax.jit(self._salience_impl, static_argnames=("full_vocab_logits",))
        self._gradients = jax.jit(self._gradients_impl)
        self._logits_at = jax.jit(self._logits_at_impl)
        self._step = jax.jit(self._step_impl, donate_argnums=(1,))
        self._stack_step = jax.jit(self._stack_step_impl, donate_argnums=(2,))
        self._target_loss = None  # built on first use (tests only)
        self._logprobs = None  # built on first use (counterfactual scoring)

    def _check_layered(self, layered: bool) -> None:
        if layered and self.layered is None:
            raise ValueError("the layered path needs a Gemma 3 backbone")

    # -- shared pieces (traced inside jit) -------------------------------------------------

    def _scope(self, weights: Sequence[jax.Array]) -> keras.StatelessScope:
        return keras.StatelessScope(state_mapping=list(zip(self.variables, weights, strict=True)))

    def _scaled(self, x: jax.Array) -> jax.Array:
        return x * jnp.asarray(math.sqrt(self.hidden_dim), x.dtype).astype(x.dtype)

    def _packed_for(self, weights: Sequence[jax.Array], precision: str | None = None):
        """The stack's packed weights (built once for the model's own weights), or None."""
        if self.stack is None:
            return None
        precision = precision or self.precision
        if weights is not self.weights:
            return self.stack.pack(list(weights), precision)
        # One packing per precision for the model's own weights (generation runs float32, the
        # salience default mixed); float32 shares the arrays but for the query projection.
        with self._pack_lock:
            if precision not in self._packed:
                self._packed[precision] = self.stack.pack(self.weights, precision)
            return self._packed[precision]

    def _hidden(self, x_emb: jax.Array, padding_mask: jax.Array) -> jax.Array:
        """Final-norm hidden states from looked-up embeddings (call inside `_scope`)."""
        x = self._scaled(x_emb)
        for layer in self.backbone.transformer_layers:
            x = layer(x, padding_mask=padding_mask)
        return self.backbone.layer_norm(x)

    def _logits(self, hidden: jax.Array) -> jax.Array:
        """The tied embedding in reverse, with Gemma 2's final soft cap when it has one.

        keras computes `hidden @ transpose(E)`, which makes XLA on CPU copy the 671 MB table
        (2x slower); contracting on E's own axis reads it in place.
        """
        layer = self.backbone.token_embedding
        if not self._tied_output:
            return layer(hidden, reverse=True)
        table = layer.embeddings.value  # the scope's value inside StatelessScope
        logits = jax.lax.dot_general(hidden, table.astype(hidden.dtype),
                                     (((hidden.ndim - 1,), (1,)), ((), ())))
        cap = layer.logit_soft_cap
        if cap is not None:
            logits = jnp.tanh(logits / cap) * cap
        return logits

    # -- salience ------------------------------------------------------------------------

    def _token_losses(self, weights, packed, x, length, positions, labels,
                      full_vocab_logits=False):
        """Cross-entropy [P] of `labels` at `positions` from looked-up embeddings x [1, T, D]."""
        layer = self.backbone.token_embedding
        if packed is not None:  # our Gemma 3 stack: hidden states at the rows needed only
            hidden = self.stack.hidden_at(packed, self._scaled(x[0]), length, positions - 1)
            table = packed.get("table", weights[self.embedding_index])
            return token_nll(hidden, table, labels, layer.logit_soft_cap)
        padding_mask = (jnp.arange(x.shape[1]) < length).astype("int32")[None]
        with self._scope(weights):
            hidden = self._hidden(x, padding_mask)
            if not full_vocab_logits and self._tied_output:
                # One pass over the vocabulary table for loss and gradient (fused_ce.py).
                return token_nll(hidden[0, positions - 1], layer.embeddings.value, labels,
                                 layer.logit_soft_cap)
            if full_vocab_logits:  # the naive variant, for the benchmark only
                logits = self._logits(hidden[0])[positions - 1]
            else:
                logits = self._logits(hidden[0, positions - 1])
        # At least float32 (bf16 models), float64 in x64 reference runs.
        logp = jax.nn.log_softmax(logits.astype(jnp.promote_types(logits.dtype, jnp.float32)),
                                  axis=-1)
        return -jnp.take_along_axis(logp, labels[:, None], axis=-1)[:, 0]

    def _salience_impl(self, weights, packed, ids, length, positions, target_matrix,
                       full_vocab_logits=False):
        """ids [T] (padded), length: real tokens, positions [P] (token index predicted; >= 1),
        target_matrix [J, P] (1 where position p belongs to target j).
        Returns ({method id: scores [J, T]} for every one-gradient method, loss [J])."""
        x_emb = jnp.take(weights[self.embedding_index], ids, axis=0)[None]
        labels = ids[positions]
        losses, vjp = jax.vjp(lambda x: self._token_losses(
            weights, packed, x, length, positions, labels, full_vocab_logits), x_emb)
        (grads,) = jax.vmap(vjp)(target_matrix.astype(losses.dtype))
        grads = grads[:, 0]  # [J, T, D]
        return scores_from_gradient(grads, x_emb[0]), target_matrix @ losses

    def _gradients_impl(self, weights, packed, inputs, length, positions, labels,
                        target_matrix):
        """inputs [B, T, D] looked-up embeddings -> (grads [B, J, T, D], loss [B, J])."""
        def one(x):
            losses, vjp = jax.vjp(lambda x: self._token_losses(
                weights, packed, x[None], length, positions, labels), x)
            matrix = target_matrix.astype(losses.dtype)
            return pull_back(vjp, matrix), matrix @ losses

        return jax.vmap(one)(inputs)

    def salience(self, ids: Sequence[int], targets: Sequence[Sequence[int]], **options: Any
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(grad_l2 [J, N], grad_dot_input [J, N], summed loss [J]): `salience_scores` for the
        two gradient methods (the form the tests and benchmarks read)."""
        scores, loss = self.salience_scores(ids, targets, **options)
        return scores["grad_l2"], scores["grad_dot_input"], loss

    def salience_scores(
        self, ids: Sequence[int], targets: Sequence[Sequence[int]], *, pad_id: int = 0,
        truncate: bool = True, weights: Sequence[jax.Array] | None = None,
        full_vocab_logits: bool = False, precision: str | None = None,
        layered: bool | None = None, progress: Callable[[float, str], None] | None = None,
        block: int | None = None,
    ) -> tuple[dict[str, np.ndarray], np.ndarray]:
        """Every registered one-gradient method's scores ({id: [J, N]}, from one gradient:
        lib.salience.methods) and the summed target loss [J] for each target (a set of token
        indices >= 1) over all N = `len(ids)` tokens.

        With `truncate` (the fast path) the sequence is cut after the last target token: later
        tokens cannot influence it (their scores are exactly 0). `weights` replaces the model's
        weights (same shapes), e.g. for finite-difference checks; `precision` overrides the
        model's (`float32` or `mixed`; Gemma 3 only).

        Gemma 3 runs the layered path (layered.py: pieces per layer, blocked attention, memory
        linear in length, cancellable between pieces) at every length; `layered=False` runs the
        plain single-call path instead, which tests compare it with. Other families always run
        the plain path over keras-hub's blocks. `block` overrides the attention block size
        (tests use small ones so that blocks and windows are crossed at a few dozen tokens).
        """
        layered = self.layered is not None and not full_vocab_logits if layered is None \
            else layered
        n = len(ids)
        self._check_layered(layered)
        cut, block, ids_arr, pos_arr, matrix = pad_targets(ids, targets, pad_id, truncate,
                                                           layered, block)
        weights = self.weights if weights is None else list(weights)
        # The naive benchmark variant keeps keras-hub's full forward.
        packed = None if full_vocab_logits else self._packed_for(weights, precision)
        if layered:
            scores, loss = self.layered.run(weights, packed, ids_arr, cut + 1, pos_arr, matrix,
                                            block, progress)
        else:
            scores, loss = self._salience(weights, packed, ids_arr, np.int32(cut + 1), pos_arr,
                                          matrix, full_vocab_logits=full_vocab_logits)
        out = {}
        for method, values in scores.items():  # cut to the real targets and tokens
            full = np.zeros((len(targets), n))
            full[:, : cut + 1] = np.asarray(values, dtype=np.float64)[: len(targets), : cut + 1]
            out[method] = full
        return out, np.asarray(loss, dtype=np.float64)[: len(targets)]

    def embedding_gradients(
        self, ids: Sequence[int], targets: Sequence[Sequence[int]],
        inputs: np.ndarray | None = None, *, pad_id: int = 0, precision: str | None = None,
        layered: bool | None = None, progress: Callable[[float, str], None] | None = None,
        block: int | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """The raw gradients [B, J, N, D] of each target's summed loss at the input embeddings
        (as looked up, before the sqrt(d) scaling) and the losses [B, J], for B inputs at once.

        `inputs` [B, N, D] replaces the looked-up embeddings (points on Integrated Gradients'
        path; the labels stay `ids`); None means the lookup itself (B = 1). Methods that need
        more than one gradient (lib.salience.integrated, .contrastive) build on this. Tokens
        after the last target are cut off (gradient 0), as in `salience_scores`.
        """
        layered = self.layered is not None if layered is None else layered
        n = len(ids)
        self._check_layered(layered)
        cut, block, ids_arr, pos_arr, matrix = pad_targets(ids, targets, pad_id, True, layered,
                                                           block)
        table = self.weights[self.embedding_index]
        x = np.asarray(table)[ids_arr][None] if inputs is None else np.asarray(inputs)
        if x.ndim != 3 or x.shape[1] < cut + 1 or x.shape[2] != table.shape[1]:
            raise ValueError(f"inputs must be [B, {n}, {table.shape[1]}], got {x.shape}")
        padded = np.zeros((x.shape[0], len(ids_arr), table.shape[1]), dtype=table.dtype)
        padded[:, : cut + 1] = x[:, : cut + 1]
        labels = ids_arr[pos_arr]
        packed = self._packed_for(self.weights, precision)
        if layered:
            grads, loss = self.layered.run_inputs(self.weights, packed, padded, cut + 1,
                                                  pos_arr, labels, matrix, block, progress)
        else:
            grads, loss = self._gradients(self.weights, packed, padded, np.int32(cut + 1),
                                          pos_arr, labels, matrix)
        full = np.zeros((x.shape[0], len(targets), n, table.shape[1]))
        full[:, :, : cut + 1] = np.asarray(grads, np.float64)[:, : len(targets), : cut + 1]
        return full, np.asarray(loss, np.float64)[:, : len(targets)]

    # -- plain forward -------------------------------------------------------------------

    def reference_gradient(self, ids: Sequence[int], target: Sequence[int]) -> np.ndarray:
        """d(target loss)/d(looked-up embeddings) [N, D] by plain `jax.grad` of the unpadded,
        untruncated forward: a second implementation to check the batched salience path."""
        ids_arr = np.asarray(ids, dtype=np.int32)
        pos = np.asarray(sorted(set(target)), dtype=np.int32)
        table = self.weights[self.embedding_index]
        zero = np.zeros((len(ids), table.shape[1]), dtype=table.dtype)
        return np.asarray(jax.grad(self._target_loss_impl, argnums=3)(
            self.weights, ids_arr, pos, zero))

    def _target_loss_impl(self, weights, ids, positions, input_delta):
        x_emb = jnp.take(weights[self.embedding_index], ids, axis=0)[None] + input_delta[None]
        with self._scope(weights):
            hidden = self._hidden(x_emb, jnp.ones((1, ids.shape[0]), "int32"))
            logits = self._logits(hidden[0, positions - 1])
        logp = jax.nn.log_softmax(logits, axis=-1)
        return -jnp.sum(jnp.take_along_axis(logp, ids[positions][:, None], axis=-1))

    def target_loss(self, ids: Sequence[int], target: Sequence[int],
                    input_delta: np.ndarray | None = None) -> float:
        """Summed cross-entropy of the target tokens, with `input_delta` [N, D] added to the
        looked-up embeddings (forward only: the reference for finite-difference checks)."""
        if self._target_loss is None:
            self._target_loss = jax.jit(self._target_loss_impl)
        ids_arr = np.asarray(ids, dtype=np.int32)
        table = self.weights[self.embedding_index]
        delta = np.zeros((len(ids), table.shape[1]), dtype=table.dtype) if input_delta is None \
            else np.asarray(input_delta, dtype=table.dtype)
        pos = np.asarray(sorted(set(target)), dtype=np.int32)
        return float(self._target_loss(self.weights, ids_arr, pos, delta))

    # -- generation ----------------------------------------------------------------------

    def empty_cache(self, length: int) -> list[Any]:
        b = self.backbone
        shape = (1, length, int(b.num_key_value_heads), int(b.head_dim))
        dtype = self.weights[self.embedding_index].dtype
        if self.stack is not None:
            return self.stack.empty_cache(length, dtype)
        if self.is_gemma3:
            return [(jnp.zeros(shape, dtype), jnp.zeros(shape, dtype)) for _ in range(b.num_layers)]
        return [jnp.zeros((1, 2, *shape[1:]), dtype) for _ in range(b.num_layers)]

    def _step_impl(self, weights, cache, ids, index, last):
        """ids [1, L] written at cache positions index..index+L-1; logits after ids[0, last]."""
        with self._scope(weights):
            x = self._scaled(self.backbone.token_embedding(ids))
            new_cache = []
            for layer, layer_cache in zip(self.backbone.transformer_layers, cache, strict=True):
                x, layer_cache = layer(x, cache=layer_cache, cache_update_index=index)
                new_cache.append(layer_cache)
            hidden = self.backbone.layer_norm(jax.lax.dynamic_index_in_dim(x, last, axis=1))
            logits = self._logits(hidden)[0, 0]
        return logits.astype(jnp.float32), new_cache

    def _stack_step_impl(self, weights, packed, cache, ids, index, last):
        """The same step on our Gemma 3 stack (float32 weights): keras-hub's cached attention
        builds cache x cache masks, which made an 8k-token prefill take minutes."""
        x = self._scaled(jnp.take(weights[self.embedding_index], ids, axis=0))
        hidden, new_cache = self.stack.cached_step(packed, cache, x, index, last)
        with self._scope(weights):
            logits = self._logits(hidden[None])[0]
        return logits.astype(jnp.float32), new_cache

    def step(self, cache: list[Any], ids: Sequence[int], index: int, last: int):
        """Run one cached step; returns (logits [V] as numpy float32, new cache)."""
        if self.stack is not None:
            arr = np.asarray(ids, dtype=np.int32)
            packed = self._packed_for(self.weights, "float32")
            logits, cache = self._stack_step(self.weights, packed, cache, arr, np.int32(index),
                                             np.int32(last))
            return np.asarray(logits), cache
        arr = np.asarray(ids, dtype=np.int32)[None]
        logits, cache = self._step(self.weights, cache, arr, np.int32(index), np.int32(last))
        return np.asarray(logits), cache
