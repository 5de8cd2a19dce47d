"""Gemma 3's decoder stack written directly in JAX, over a keras-hub `Gemma3Backbone`'s weights.

Salience spends almost all its time here, so this path does what keras-hub's layers cannot:
- the rotary tables and attention masks are built once per call, not once per layer;
- the last layer runs its queries, attention output and MLP only at the rows whose logits are
  needed (the target positions); every row still feeds them through keys and values;
- matrix products can take bfloat16 inputs with float32 accumulation ("mixed" precision): this
  CPU (AVX-512 BF16) runs those at twice the float32 rate. Everything else (norms, softmax, rope,
  residuals, the loss) stays float32. The float32 mode is exact to keras-hub's own layers.

It reads the same variables as keras-hub (no copy in float32 mode except the query projection,
which is transposed once) and is checked against keras-hub's logits in tests/test_forward.py.
Backbones it does not cover (Gemma 1/2, bidirectional or non-linear rope variants) keep the
keras-hub path in forward.py.
"""

from __future__ import annotations

import math
from typing import Any

import jax
import jax.numpy as jnp

from lib.salience.blocked_attention import blocked_attention
from lib.salience.fused_ce import table_blocks
from lib.salience.precision import PRECISIONS


def _dot(x: jax.Array, w: jax.Array) -> jax.Array:
    """x [..., K] @ w [K, N] in x's dtype; a bfloat16 `w` makes it a mixed-precision product."""
    if w.dtype == x.dtype:
        return jnp.matmul(x, w)
    return _mixed_dot(x, w)


@jax.custom_vjp
def _mixed_dot(x: jax.Array, w: jax.Array) -> jax.Array:
    return jax.lax.dot_general(x.astype(w.dtype), w, (((x.ndim - 1,), (0,)), ((), ())),
                               preferred_element_type=x.dtype)


def _mixed_dot_fwd(x, w):
    return _mixed_dot(x, w), (w, jnp.zeros((), x.dtype))


def _mixed_dot_bwd(residuals, g):
    # The input gradient is again a bfloat16 product (autodiff's default would run it in float32
    # against a converted copy of w). Weight gradients are never used: salience differentiates
    # with respect to the input embeddings only, and XLA drops the unused zeros.
    w, like = residuals
    dx = jax.lax.dot_general(g.astype(w.dtype), w, (((g.ndim - 1,), (1,)), ((), ())),
                             preferred_element_type=like.dtype)
    return dx, jnp.zeros_like(w)


_mixed_dot.defvjp(_mixed_dot_fwd, _mixed_dot_bwd)


def _rms_norm(x: jax.Array, scale: jax.Array, eps: float) -> jax.Array:
    """keras-hub's Gemma RMSNorm: statistics in at least float32, scaled by (1 + scale)."""
    dtype = jnp.promote_types(x.dtype, jnp.float32)
    xf = x.astype(dtype)
    var = jnp.mean(jnp.square(xf), axis=-1, keepdims=True)
    out = xf * jax.lax.rsqrt(var + eps) * (1 + scale.astype(dtype))
    return out.astype(x.dtype)


def _rope_tables(length: int, head_dim: int, wavelength: float, scaling: float, dtype,
                 start: jax.Array | int = 0):
    """cos/sin [T, head_dim] as keras-hub's RotaryEmbedding (linear scaling) builds them, for
    positions start .. start + length - 1."""
    inv = jnp.power(jnp.asarray(wavelength, dtype),
                    -(jnp.arange(0, head_dim, 2, dtype=dtype) / jnp.asarray(head_dim, dtype)))
    inv = inv / jnp.asarray(scaling, dtype)
    positions = (jnp.arange(length) + start).astype(dtype)
    freq = positions[:, None] * inv[None, :]
    angles = jnp.concatenate([freq, freq], axis=-1)
    return jnp.cos(angles), jnp.sin(angles)


def _rope(x: jax.Array, cos: jax.Array, sin: jax.Array) -> jax.Array:
    """x [T, heads, head_dim]; rotate-half form, as keras-hub."""
    x1, x2 = jnp.split(x, 2, axis=-1)
    rotated = jnp.concatenate([-x2, x1], axis=-1)
    return x * cos[:, None, :].astype(x.dtype) + rotated * sin[:, None, :].astype(x.dtype)


class Gemma3Stack:
    """Gemma 3 decoder layers + final norm as pure functions of packed weights."""

    @staticmethod
    def supports(backbone: Any) -> bool:
        """True for text Gemma 3 backbones this module reproduces exactly."""
        if type(backbone).__name__ != "Gemma3Backbone":
            return False
        embedding = backbone.token_embedding
        if not getattr(embedding, "tie_weights", False) or embedding.reverse_dtype is not None:
            return False
        for block in backbone.transformer_layers:
            attention = block.attention
            if getattr(attention, "use_bidirectional_attention", False) or attention.dropout:
                return False
            if getattr(attention.rope_layer, "rope_type", "linear") != "linear":
                return False
            if not (block.use_post_attention_norm and block.use_post_ffw_norm):
                return False
        return True

    def __init__(self, backbone: Any, variables: list[Any]) -> None:
        if not self.supports(backbone):
            raise ValueError(f"{type(backbone).__name__} is not a Gemma 3 text backbone this "
                             "stack reproduces; use the keras-hub path")
        index = {id(v): i for i, v in enumerate(variables)}
        self.hidden_dim = int(backbone.hidden_dim)
        self.num_heads = int(backbone.num_query_heads)
        self.num_kv_heads = int(backbone.num_key_value_heads)
        self.head_dim = int(backbone.head_dim)
        self.final_norm = index[id(backbone.layer_norm.scale)]
        self.table = index[id(backbone.token_embedding.embeddings)]
        self.final_eps = float(backbone.layer_norm.epsilon)
        self.layers = []
        for block in backbone.transformer_layers:
            att = block.attention
            spec = {
                "eps": float(block.layer_norm_epsilon),
                "sliding": bool(att.use_sliding_window_attention),
                "window": int(att.sliding_window_size),
                "rope": (float(att.rope_layer.max_wavelength),
                         float(att.rope_layer.scaling_factor)),
                "soft_cap": att.logit_soft_cap,
                "qk_norm": bool(att.use_query_key_norm),
                "query_scale": 1 / math.sqrt(self.head_dim),
            }
            names = {
                "pre_att": block.pre_attention_norm.scale,
                "post_att": block.post_attention_norm.scale,
                "pre_ffw": block.pre_ffw_norm.scale,
                "post_ffw": block.post_ffw_norm.scale,
                "q": att.query_dense.kernel,
                "k": att.key_dense.kernel,
                "v": att.value_dense.kernel,
                "o": att.output_dense.kernel,
                "gate": block.gating_ffw.kernel,
                "up": block.gating_ffw_2.kernel,
                "down": block.ffw_linear.kernel,
            }
            if spec["qk_norm"]:
                names["q_norm"] = att.query_norm.scale
                names["k_norm"] = att.key_norm.scale
            spec["index"] = {k: index[id(v)] for k, v in names.items()}
            self.layers.append(spec)

    # -- weights ------------------------------------------------------------------------

    def pack(self, weights: list[Any], precision: str = "float32") -> dict[str, Any]:
        """Matmul-ready weights from the backbone's variable values (call outside jit, once).

        float32 shares the arrays (only the query projection is transposed); mixed stores the
        projection matrices and the output table as bfloat16 copies.
        """
        if precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {PRECISIONS}, got {precision!r}")
        d, h = self.hidden_dim, self.head_dim

        def low(x) -> bool:  # stored as bfloat16 (float64 reference runs stay exact)
            return precision == "mixed" and jnp.asarray(x).dtype == jnp.float32

        def matrix(x):
            return jnp.asarray(x, jnp.bfloat16) if low(x) else jnp.asarray(x)

        def heads_in(kernel):  # [heads, d, h] -> [d, heads * h]
            kernel = jnp.asarray(kernel)
            n = kernel.shape[0]
            if n == 1:
                return kernel.reshape(d, h)
            return jnp.transpose(kernel, (1, 0, 2)).reshape(d, n * h)

        layers = []
        for spec in self.layers:
            w = {k: weights[i] for k, i in spec["index"].items()}
            packed = {k: jnp.asarray(w[k]) for k in ("pre_att", "post_att", "pre_ffw", "post_ffw")}
            if spec["qk_norm"]:
                packed["q_norm"] = jnp.asarray(w["q_norm"])
                packed["k_norm"] = jnp.asarray(w["k_norm"])
            packed["q"] = matrix(heads_in(w["q"]))
            packed["k"] = matrix(heads_in(w["k"]))
            packed["v"] = matrix(heads_in(w["v"]))
            packed["o"] = matrix(jnp.asarray(w["o"]).reshape(self.num_heads * h, d))
            for k in ("gate", "up", "down"):
                packed[k] = matrix(w[k])
            layers.append(packed)
        packed = {"layers": layers, "final_norm": jnp.asarray(weights[self.final_norm])}
        if low(weights[self.table]):
            # The output table again, as separate bfloat16 blocks (+335 MB for Gemma 3 270M):
            # the cross-entropy then reads half the bytes and copies nothing (fused_ce.py).
            packed["table"] = table_blocks(weights[self.table], jnp.bfloat16)
        return packed

    # -- forward (traced inside jit) ----------------------------------------------------

    def hidden_at(self, packed: dict[str, Any], x: jax.Array, length: jax.Array,
                  rows: jax.Array) -> jax.Array:
        """Final-norm hidden states [R, D] at `rows`, from the scaled input embeddings x [T, D]
        (T padded; `length` real tokens), in one traced function with dense T x T masks: the
        plain path, which the layered one (lib/salience/layered.py) is checked against."""
        t = x.shape[0]
        dtype = jnp.promote_types(x.dtype, jnp.float32)
        i = jnp.arange(t)
        allowed = (i[None, :] <= i[:, None]) & (i[None, :] < length)
        window_masks: dict[int, jax.Array] = {}
        tables: dict[tuple[float, float], tuple[jax.Array, jax.Array]] = {}
        n = len(self.layers)
        for k, (spec, w) in enumerate(zip(self.layers, packed["layers"], strict=True)):
            mask = allowed
            if spec["sliding"]:
                size = spec["window"]
                if size not in window_masks:
                    window_masks[size] = allowed & (i[:, None] - i[None, :] < size)
                mask = window_masks[size]
            if spec["rope"] not in tables:
                tables[spec["rope"]] = _rope_tables(t, self.head_dim, *spec["rope"], dtype)
            cos, sin = tables[spec["rope"]]
            last = k == n - 1
            x = self._layer(spec, w, x, cos, sin, rows if last else None,
                            _dense(mask[rows] if last else mask, spec["soft_cap"]))
        return _rms_norm(x, packed["final_norm"], self.final_eps)

    # -- the layered path's pieces (each traced in its own compiled call) ---------------

    def spec_key(self, k: int) -> tuple:
        """What makes layer k's compiled piece differ from another's (weights are arguments)."""
        s = self.layers[k]
        return (s["eps"], s["sliding"], s["window"], s["rope"], s["soft_cap"], s["qk_norm"],
                s["query_scale"])

    def blocked_layer(self, k: int, w: dict[str, Any], x: jax.Array, length: jax.Array,
                      block: int) -> jax.Array:
        """Layer k over every row of x [T, D], attention in blocks (no T x T array)."""
        return self.mlp_half(k, w, self.attention_half(k, w, x, length, block))

    def attention_half(self, k: int, w: dict[str, Any], x: jax.Array, length: jax.Array,
                       block: int) -> jax.Array:
        """Layer k up to and including the attention residual: x [T, D] -> x_mid [T, D]."""
        spec = self.layers[k]
        dtype = jnp.promote_types(x.dtype, jnp.float32)
        cos, sin = _rope_tables(x.shape[0], self.head_dim, *spec["rope"], dtype)
        window = spec["window"] if spec["sliding"] else None

        # Mixed precision (bfloat16 weights) multiplies in bfloat16 inside attention too.
        low = w["q"].dtype if w["q"].dtype != x.dtype else None

        def attend(q, key, value):
            return blocked_attention(q, key, value, length, window, spec["soft_cap"], block, low)

        return self._attention(spec, w, x, cos, sin, None, attend)

    def mlp_half(self, k: int, w: dict[str, Any], x: jax.Array) -> jax.Array:
        """Layer k's feed-forward block with its residual; row-wise, so rows may go in chunks."""
        return self._mlp(self.layers[k], w, x)

    def last_layer_rows(self, w: dict[str, Any], final_norm: jax.Array, x: jax.Array,
                        length: jax.Array, rows: jax.Array) -> jax.Array:
        """The last layer (weights `w`) at `rows` only, dense over R x T, then the final norm:
        hidden [R, D]."""
        spec = self.layers[-1]
        t = x.shape[0]
        dtype = jnp.promote_types(x.dtype, jnp.float32)
        cos, sin = _rope_tables(t, self.head_dim, *spec["rope"], dtype)
        cols = jnp.arange(t)[None, :]
        mask = (cols <= rows[:, None]) & (cols < length)
        if spec["sliding"]:
            mask &= rows[:, None] - cols < spec["window"]
        x = self._layer(spec, w, x, cos, sin, rows, _dense(mask, spec["soft_cap"]))
        return _rms_norm(x, final_norm, self.final_eps)

    # -- generation: one cached step (a prefill chunk or one new token) ---------------------

    def empty_cache(self, length: int, dtype) -> list[tuple[jax.Array, jax.Array]]:
        """Keys and values [length, K, H] per layer."""
        shape = (length, self.num_kv_heads, self.head_dim)
        return [(jnp.zeros(shape, dtype), jnp.zeros(shape, dtype)) for _ in self.layers]

    def cached_step(self, packed: dict[str, Any], cache: list, x: jax.Array, start: jax.Array,
                    last: jax.Array):
        """Scaled embeddings x [C, D] of positions start .. start + C - 1 through every layer,
        writing their keys and values into `cache`; returns (final-norm hidden [D] of row
        `last`, new cache). Sliding-window layers attend to a window-sized slice of the cache
        only, so a step's cost does not grow with the cache beyond the global layers."""
        c = x.shape[0]
        dtype = jnp.promote_types(x.dtype, jnp.float32)
        rows = start + jnp.arange(c)
        new_cache = []
        for spec, w, (k_cache, v_cache) in zip(self.layers, packed["layers"], cache, strict=True):
            cos, sin = _rope_tables(c, self.head_dim, *spec["rope"], dtype, start)
            written = {}

            def attend(q, k, v, spec=spec, k_cache=k_cache, v_cache=v_cache, written=written):
                keys = jax.lax.dynamic_update_slice_in_dim(k_cache, k.astype(k_cache.dtype),
                                                           start, 0)
                values = jax.lax.dynamic_update_slice_in_dim(v_cache, v.astype(v_cache.dtype),
                                                             start, 0)
                written["kv"] = (keys, values)
                span = keys.shape[0]
                first = 0
                if spec["sliding"] and c + spec["window"] < span:
                    span = c + spec["window"]
                    first = jnp.clip(start - spec["window"] + 1, 0, keys.shape[0] - span)
                    keys = jax.lax.dynamic_slice_in_dim(keys, first, span, 0)
                    values = jax.lax.dynamic_slice_in_dim(values, first, span, 0)
                cols = first + jnp.arange(span)[None, :]
                mask = cols <= rows[:, None]
                if spec["sliding"]:
                    mask &= rows[:, None] - cols < spec["window"]
                return _dense(mask, spec["soft_cap"])(q, keys, values)

            x = self._layer(spec, w, x, cos, sin, None, attend)
            new_cache.append(written["kv"])
        hidden = _rms_norm(jax.lax.dynamic_index_in_dim(x, last, 0, keepdims=False),
                           packed["final_norm"], self.final_eps)
        return hidden, new_cache

    def _layer(self, spec, w, x, cos, sin, rows, attend):
        return self._mlp(spec, w, self._attention(spec, w, x, cos, sin, rows, attend))

    def _attention(self, spec, w, x, cos, sin, rows, attend):
        eps, h = spec["eps"], self.head_dim
        t = x.shape[0]
        normed = _rms_norm(x, w["pre_att"], eps)
        q_in = normed if rows is None else normed[rows]
        residual = x if rows is None else x[rows]
        q_cos, q_sin = (cos, sin) if rows is None else (cos[rows], sin[rows])
        q = _dot(q_in, w["q"]).reshape(q_in.shape[0], self.num_heads, h)
        k = _dot(normed, w["k"]).reshape(t, self.num_kv_heads, h)
        v = _dot(normed, w["v"]).reshape(t, self.num_kv_heads, h)
        if spec["qk_norm"]:
            q = _rms_norm(q, w["q_norm"], eps)
            k = _rms_norm(k, w["k_norm"], eps)
        q = _rope(q, q_cos, q_sin) * jnp.asarray(spec["query_scale"], q.dtype)
        k = _rope(k, cos, sin)
        groups = self.num_heads // self.num_kv_heads
        q = q.reshape(q.shape[0], self.num_kv_heads, groups, h)
        attended = attend(q, k, v).reshape(q.shape[0], self.num_heads * h)
        return residual + _rms_norm(_dot(attended, w["o"]), w["post_att"], eps)

    def _mlp(self, spec, w, x):
        eps = spec["eps"]
        normed = _rms_norm(x, w["pre_ffw"], eps)
        hidden = jax.nn.gelu(_dot(normed, w["gate"]), approximate=True) * _dot(normed, w["up"])
        return x + _rms_norm(_dot(hidden, w["down"]), w["post_ffw"], eps)


def _dense(mask: jax.Array, soft_cap: float | None):
    """Plain masked attention over a [R, T] (or [T, T]) mask: q [R, K, G, H] -> [R, K, G, H]."""

    def attend(q, k, v):
        logits = jnp.einsum("tkgh,skh->kgts", q, k)
        if soft_cap is not None:
            logits = jnp.tanh(logits / soft_cap) * soft_cap
        soft_dtype = jnp.promote_types(logits.dtype, jnp.float32)
        # A large finite value, not -inf: padding rows past a sliding window see no key at
        # all, and must stay finite (0 * NaN in the next product would poison every row).
        logits = jnp.where(mask[None, None], logits.astype(soft_dtype), -1e30)
        probs = jax.nn.softmax(logits, axis=-1).astype(v.dtype)
        return jnp.einsum("kgts,skh->tkgh", probs, v)

    return attend
