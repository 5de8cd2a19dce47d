"""Salience as a host loop of small compiled pieces, so memory grows linearly with length and a
long job can be cancelled (or let others' clicks through) between pieces.

1. forward, layer by layer, keeping only each layer's input [T, D] (18 x 21 MB at 8k tokens);
2. the last layer at the target rows, the final norm and the blocked cross-entropy, with their
   backward pass, for J targets at once (one forward, J cotangents through vmap);
3. backward, layer by layer from the top: each piece recomputes its layer's forward from the kept
   input and pulls the J cotangents through it (rematerialisation: one layer's working set at a
   time instead of all of them);
4. per-token Grad-L2 and Grad-Input from the cotangents at the looked-up embeddings.

Attention runs in blocks (blocked_attention.py), so no piece holds a T x T array. One compiled
piece serves every layer of the same kind (weights are arguments): a model with local and global
layers compiles a handful of pieces per length bucket. `lib.cancel.checkpoint()` runs between
pieces: Cancel stops the job there, and the worker may serve other sessions' short jobs.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from lib.cancel import checkpoint
from lib.salience.fused_ce import token_nll
from lib.salience.gemma3_stack import Gemma3Stack
from lib.salience.methods import scores_from_gradient

ProgressFn = Callable[[float, str], None]
ROW_CHUNK = 1024  # rows per feed-forward backward chunk: 8 MB per [rows, 2048] array


def pull_back(vjp, cotangents):
    """Apply a VJP to J stacked cotangents; J = 1 (one click) skips the batching."""
    if cotangents.shape[0] == 1:
        return vjp(cotangents[0])[0][None]
    return jax.vmap(vjp)(cotangents)[0]


class LayeredSalience:
    """Gradients of summed target cross-entropy w.r.t. the looked-up embeddings, piece by piece."""

    def __init__(self, stack: Gemma3Stack, table_index: int, output_cap: float | None) -> None:
        self.stack = stack
        self.table_index = table_index
        self.output_cap = output_cap
        self.scale = math.sqrt(stack.hidden_dim)
        self._layer_fwd: dict[tuple, Any] = {}
        self._layer_bwd: dict[tuple, Any] = {}
        self._batched: dict[tuple, Any] = {}  # the same pieces over B inputs (vmap)
        self._embed = jax.jit(self._embed_impl)
        self._head = jax.jit(self._head_impl)
        self._scores = jax.jit(self._scores_impl)
        self._head_batched = jax.jit(jax.vmap(self._head_impl,
                                              in_axes=(None, None, None, 0, None, None, None,
                                                       None)))

    # -- pieces (traced) -----------------------------------------------------------------

    def _embed_impl(self, table, ids):
        x = jnp.take(table, ids, axis=0)
        return x * jnp.asarray(self.scale, x.dtype).astype(x.dtype)

    def _head_impl(self, w_last, final_norm, table, x, length, rows, labels, matrix):
        def losses_of(x):
            hidden = self.stack.last_layer_rows(w_last, final_norm, x, length, rows)
            return token_nll(hidden, table, labels, self.output_cap)

        losses, vjp = jax.vjp(losses_of, x)
        matrix = matrix.astype(losses.dtype)
        return matrix @ losses, pull_back(vjp, matrix)

    def _scores_impl(self, table, ids, grads):
        x_emb = jnp.take(table, ids, axis=0)
        grads = grads * jnp.asarray(self.scale, grads.dtype).astype(grads.dtype)
        return scores_from_gradient(grads, x_emb)  # every registered one-gradient method

    def _pieces(self, k: int):
        """The compiled forward and backward pieces for layer k's kind."""
        key = self.stack.spec_key(k)
        if key not in self._layer_fwd:
            stack = self.stack

            def forward(w, x, length, block):
                return stack.blocked_layer(k, w, x, length, block)

            def backward(w, x, length, grads, block):
                # The attention half's residuals are kept (linear in T: blocked attention keeps
                # no T x T array); the feed-forward half, 4x wider, is pulled back in chunks of
                # rows (it is row-wise), so its working set does not grow with T.
                mid, vjp_attention = jax.vjp(
                    lambda x: stack.attention_half(k, w, x, length, block), x)
                rows = min(ROW_CHUNK, x.shape[0])
                while x.shape[0] % rows:
                    rows //= 2

                def chunk(i, out):
                    start = i * rows
                    x_rows = jax.lax.dynamic_slice_in_dim(mid, start, rows, axis=0)
                    g_rows = jax.lax.dynamic_slice_in_dim(grads, start, rows, axis=1)
                    _, vjp = jax.vjp(lambda r: stack.mlp_half(k, w, r), x_rows)
                    return jax.lax.dynamic_update_slice_in_dim(out, pull_back(vjp, g_rows),
                                                               start, axis=1)

                grads_mid = jax.lax.fori_loop(0, x.shape[0] // rows, chunk, jnp.zeros_like(grads))
                return pull_back(vjp_attention, grads_mid)

            def forward_batched(w, x, length, block):
                return jax.vmap(lambda x: forward(w, x, length, block))(x)

            def backward_batched(w, x, length, grads, block):
                return jax.vmap(lambda x, g: backward(w, x, length, g, block))(x, grads)

            self._layer_fwd[key] = jax.jit(forward, static_argnames=("block",))
            self._layer_bwd[key] = jax.jit(backward, static_argnames=("block",))
            self._batched[key] = (jax.jit(forward_batched, static_argnames=("block",)),
                                  jax.jit(backward_batched, static_argnames=("block",)))
        return self._layer_fwd[key], self._layer_bwd[key]

    def _batched_pieces(self, k: int):
        self._pieces(k)
        return self._batched[self.stack.spec_key(k)]

    # -- the host loop -----------------------------------------------------------------

    def _stepper(self, total: int, progress: ProgressFn | None):
        done = 0

        def step(label: str, value):
            nonlocal done
            jax.block_until_ready(value)
            done += 1
            if progress:
                progress(done / total, label)
            checkpoint()

        return step

    def run(self, weights, packed: dict[str, Any], ids: np.ndarray, length: int,
            positions: np.ndarray, matrix: np.ndarray, block: int,
            progress: ProgressFn | None = None):
        """({method id: scores [J, T]}, summed loss [J]) as numpy, for padded `ids`
        [T] with `length` real tokens, target `positions` [P] (token predicted, >= 1) and
        `matrix` [J, P] (1 where position p belongs to target j)."""
        layers = packed["layers"]
        n = len(layers)
        step = self._stepper(2 * n - 1, progress)
        table = weights[self.table_index]
        length = np.int32(length)
        x = self._embed(table, ids)
        inputs = []
        for k in range(n - 1):
            inputs.append(x)
            x = self._pieces(k)[0](layers[k], x, length, block=block)
            step(f"Forward pass: layer {k + 1} of {n}", x)
        rows = np.asarray(positions, np.int32) - 1
        labels = np.asarray(ids)[np.asarray(positions)]
        out_table = packed.get("table", table)
        loss, grads = self._head(layers[-1], packed["final_norm"], out_table, x, length, rows,
                                 labels, matrix)
        step(f"Backward pass: layer {n} of {n}", grads)
        for k in range(n - 2, -1, -1):
            grads = self._pieces(k)[1](layers[k], inputs.pop(), length, grads, block=block)
            step(f"Backward pass: layer {k + 1} of {n}", grads)
        scores = self._scores(table, ids, grads)
        return {k: np.asarray(v) for k, v in scores.items()}, np.asarray(loss)

    def run_inputs(self, weights, packed: dict[str, Any], inputs: np.ndarray, length: int,
                   positions: np.ndarray, labels: np.ndarray, matrix: np.ndarray, block: int,
                   progress: ProgressFn | None = None):
        """(raw gradients [B, J, T, D] at the looked-up embeddings, summed loss [B, J]) for B
        padded inputs [B, T, D] given as looked-up embeddings (`run`'s pieces, vmapped over B)."""
        layers = packed["layers"]
        n = len(layers)
        step = self._stepper(2 * n - 1, progress)
        length = np.int32(length)
        x = jnp.asarray(inputs) * jnp.asarray(self.scale, inputs.dtype).astype(inputs.dtype)
        kept = []
        for k in range(n - 1):
            kept.append(x)
            x = self._batched_pieces(k)[0](layers[k], x, length, block=block)
            step(f"Forward pass: layer {k + 1} of {n}", x)
        rows = np.asarray(positions, np.int32) - 1
        out_table = packed.get("table", weights[self.table_index])
        loss, grads = self._head_batched(layers[-1], packed["final_norm"], out_table, x, length,
                                         rows, np.asarray(labels), matrix)
        step(f"Backward pass: layer {n} of {n}", grads)
        for k in range(n - 2, -1, -1):
            grads = self._batched_pieces(k)[1](layers[k], kept.pop(), length, grads,
                                               block=block)
            step(f"Backward pass: layer {k + 1} of {n}", grads)
        # d/d(looked-up) = sqrt(d) * d/d(scaled), as `_scores_impl` does.
        return np.asarray(grads) * self.scale, np.asarray(loss)
