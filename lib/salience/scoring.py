"""Teacher-forced scoring forwards of `lib.salience.forward.ModelFunctions`: logits at chosen
positions, and log-probabilities of chosen tokens for a batch of padded sequences.

A mixin, kept apart so forward.py stays about salience and generation: it uses the forward
pieces that `ModelFunctions` defines (`_scaled`, `_hidden`, `_logits`, `_token_losses`,
`_packed_for`, the stack) on the same instance, and is never used on its own.
"""

from __future__ import annotations

from collections.abc import Sequence

import jax
import jax.numpy as jnp
import numpy as np

from lib.salience.padding import bucket_count, bucket_length

# token_logprobs: rows x padded length^2 per compiled call (a 320-token prompt: 40 rows).
LOGPROB_BUDGET = 2**22


class TeacherForcedScoring:
    """`logits_at` and `token_logprobs` for `ModelFunctions` (see the module docstring)."""

    def _logits_at_impl(self, weights, packed, ids, length, positions):
        x_emb = jnp.take(weights[self.embedding_index], ids, axis=0)[None]
        if packed is not None:
            hidden = self.stack.hidden_at(packed, self._scaled(x_emb[0]), length, positions)
            with self._scope(weights):
                return self._logits(hidden)
        padding_mask = (jnp.arange(ids.shape[0]) < length).astype("int32")[None]
        with self._scope(weights):
            hidden = self._hidden(x_emb, padding_mask)
            return self._logits(hidden[0, positions])

    def logits_at(self, ids: Sequence[int], positions: Sequence[int],
                  precision: str = "float32") -> np.ndarray:
        """Logits [len(positions), V] of the next token after each position (full forward, on
        the same stack as salience; float32 like generation unless `precision` says `mixed`)."""
        n = len(ids)
        t_pad = bucket_length(n)
        ids_arr = np.zeros(t_pad, dtype=np.int32)
        ids_arr[:n] = ids
        pos = np.asarray(positions, dtype=np.int32)
        packed = self._packed_for(self.weights, precision)
        return np.asarray(self._logits_at(self.weights, packed, ids_arr, np.int32(n), pos))

    def _logprobs_impl(self, weights, packed, ids, lengths, positions):
        """ids [B, T] (padded), lengths [B], positions [B, P] (token indices >= 1) ->
        log p(ids[b, p] | ids[b, :p]) [B, P], on the salience forward (one row at a time)."""
        table = weights[self.embedding_index]

        def one(row, length, pos):
            x = jnp.take(table, row, axis=0)[None]
            return -self._token_losses(weights, packed, x, length, pos, row[pos])

        return jax.vmap(one)(ids, lengths, positions)

    def token_logprobs(self, sequences: Sequence[tuple[Sequence[int], Sequence[int]]], *,
                       pad_id: int = 0, precision: str = "float32",
                       budget: int = LOGPROB_BUDGET) -> list[np.ndarray]:
        """Teacher-forced log-probabilities: for each (ids, positions), log p(ids[p] | ids[:p])
        at each position (1 <= p < len(ids)), as float64 [len(positions)]. The sequences go
        through padded to a common length, as many per compiled call as `budget` allows
        (rows x padded length^2: attention is dense here), float32 unless `precision` says."""
        if not sequences:
            return []
        for ids, pos in sequences:
            if not pos or any(not 1 <= p < len(ids) for p in pos):
                raise ValueError(f"positions must be in 1..{len(ids) - 1}, got {list(pos)}")
        t_pad = bucket_length(max(len(ids) for ids, _ in sequences))
        rows = max(1, budget // (t_pad * t_pad))
        packed = self._packed_for(self.weights, precision)
        out: list[np.ndarray] = []
        for start in range(0, len(sequences), rows):
            chunk = sequences[start:start + rows]
            b_pad = bucket_count(len(chunk)) if bucket_count(len(chunk)) <= rows else len(chunk)
            p_pad = bucket_count(max(len(pos) for _, pos in chunk))
            ids_arr = np.full((b_pad, t_pad), pad_id, dtype=np.int32)
            lengths = np.ones(b_pad, dtype=np.int32)
            pos_arr = np.ones((b_pad, p_pad), dtype=np.int32)
            for b, (ids, pos) in enumerate(chunk):
                ids_arr[b, : len(ids)] = ids
                lengths[b] = len(ids)
                pos_arr[b, : len(pos)] = pos
            if self._logprobs is None:
                self._logprobs = jax.jit(self._logprobs_impl)
            lp = np.asarray(self._logprobs(self.weights, packed, ids_arr, lengths, pos_arr),
                            dtype=np.float64)
            out.extend(lp[b, : len(pos)] for b, (_, pos) in enumerate(chunk))
        return out
