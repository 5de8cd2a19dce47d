"""Causal (optionally sliding-window) attention in blocks with an online softmax.

No T x T matrix is ever held: queries go in blocks of B rows, and each block visits only the key
blocks its mask can reach (those up to its own for global layers; those within the window for
sliding ones), keeping a running max and sum as FlashAttention does. The backward pass is written
out (custom VJP): it keeps only the output and each row's log-sum-exp from the forward pass and
recomputes each block's probabilities, in two sweeps that carry only one block's sums (queries
for dQ, then keys for dK and dV), so memory grows linearly with length at every layer.

Shapes: q [T, K, G, H] (already rotated and scaled), k and v [T, K, H] with K key/value heads and
G query heads per key/value head; `length` real tokens (keys at or past it are masked). Inside,
a query block is [K, B*G, H] (rows b-major, then g), so every product is a plain batched matmul.
Padded query rows stay finite (every row sees at least one key value, masked or not).
"""

from __future__ import annotations

from functools import partial

import jax
import jax.numpy as jnp

_MASKED = -1e30  # finite: a row with no visible key must not produce NaN


def block_size(t_pad: int) -> int:
    """The query/key block for a padded length (see `padded_length`)."""
    if t_pad <= 512:
        return t_pad
    return 128 if t_pad <= 2048 else 256


def padded_length(n: int) -> int:
    """Round a sequence length up so that `block_size` divides it: multiples of 32 up to 512
    (one block), of 128 up to 2,048, of 256 beyond."""
    for limit, step in ((512, 32), (2048, 128)):
        if n <= limit:
            return max(step, -(-n // step) * step)
    return -(-n // 256) * 256


def _acc_type(x):
    return jnp.promote_types(x.dtype, jnp.float32)  # float32 sums, float64 in x64 reference runs


class _Blocks:
    """The block views and masks shared by the forward and both backward sweeps."""

    def __init__(self, q, k, v, length, window, cap, block, low):
        t, kh, g, h = q.shape
        self.t, self.kh, self.g, self.h, self.nb, self.block = t, kh, g, h, t // block, block
        self.length, self.window, self.cap = length, window, cap
        self.acc = _acc_type(q)
        # Products run in `low` (bfloat16 in mixed precision) with sums in float32.
        self.low = jnp.dtype(low) if low is not None else q.dtype
        self.q = self.query_layout(q.astype(self.low))  # [nb, K, B*G, H]
        self.k = k.astype(self.low).reshape(self.nb, block, kh, h).transpose(0, 2, 1, 3)
        self.v = v.astype(self.low).reshape(self.nb, block, kh, h).transpose(0, 2, 1, 3)

    def query_layout(self, x):
        """[T, K, G, ...] -> [nb, K, B*G, ...]."""
        rest = x.shape[3:]
        x = x.reshape(self.nb, self.block, self.kh, self.g, *rest)
        x = jnp.moveaxis(x, 2, 1)  # [nb, K, B, G, ...]
        return x.reshape(self.nb, self.kh, self.block * self.g, *rest)

    def from_query_layout(self, x):
        """[nb, K, B*G, ...] -> [T, K, G, ...]."""
        rest = x.shape[3:]
        x = x.reshape(self.nb, self.kh, self.block, self.g, *rest)
        return jnp.moveaxis(x, 1, 2).reshape(self.t, self.kh, self.g, *rest)

    def first_key_block(self, i):
        if self.window is None:
            return 0
        return jnp.maximum(0, (i * self.block - self.window + 1) // self.block)

    def last_query_block(self, j):
        if self.window is None:
            return self.nb - 1
        return jnp.minimum(self.nb - 1, ((j + 1) * self.block - 1 + self.window - 1) // self.block)

    def scores(self, q_i, i, j, keys_first: bool = False):
        """Masked (soft-capped) scores [K, B*G, C] of query block i against key block j (or
        their transpose [K, C, B*G] with `keys_first`), the mask, and the soft cap's slope
        (None without a cap). Both orientations keep every product in the form this CPU's
        bfloat16 kernels run fast (no contraction over the first matrix's rows)."""
        if keys_first:
            s = jnp.einsum("kch,krh->kcr", self.k[j], q_i, preferred_element_type=self.acc)
        else:
            s = jnp.einsum("krh,kch->krc", q_i, self.k[j], preferred_element_type=self.acc)
        slope = None
        if self.cap is not None:
            tanh = jnp.tanh(s / self.cap)
            s, slope = tanh * self.cap, 1.0 - tanh * tanh
        rows = i * self.block + jnp.arange(self.block)[:, None]
        cols = j * self.block + jnp.arange(self.block)[None, :]
        ok = (cols <= rows) & (cols < self.length)
        if self.window is not None:
            ok &= rows - cols < self.window
        ok = jnp.repeat(ok, self.g, axis=0)  # rows b-major, then g
        ok = (ok.T if keys_first else ok)[None]
        return jnp.where(ok, s, _MASKED), ok, slope


def _forward(q, k, v, length, window, cap, block, low):
    q, k, v = jnp.asarray(q), jnp.asarray(k), jnp.asarray(v)
    bl = _Blocks(q, k, v, length, window, cap, block, low)
    rows = block * bl.g

    def query_block(i):
        q_i = bl.q[i]

        def visit(j, carry):
            m, s_sum, acc = carry
            s, _, _ = bl.scores(q_i, i, j)
            m_new = jnp.maximum(m, jnp.max(s, axis=-1))
            p = jnp.exp(s - m_new[..., None])
            scale = jnp.exp(m - m_new)
            s_sum = s_sum * scale + jnp.sum(p, axis=-1)
            acc = acc * scale[..., None] + jnp.einsum(
                "krc,kch->krh", p.astype(bl.low), bl.v[j], preferred_element_type=bl.acc)
            return m_new, s_sum, acc

        init = (jnp.full((bl.kh, rows), -jnp.inf, bl.acc), jnp.zeros((bl.kh, rows), bl.acc),
                jnp.zeros((bl.kh, rows, bl.h), bl.acc))
        m, s_sum, acc = jax.lax.fori_loop(bl.first_key_block(i), i + 1, visit, init)
        return (acc / s_sum[..., None]).astype(q.dtype), m + jnp.log(s_sum)

    out, lse = jax.lax.map(query_block, jnp.arange(bl.nb))  # [nb, K, B*G, H], [nb, K, B*G]
    return bl.from_query_layout(out), lse


@partial(jax.custom_vjp, nondiff_argnums=(4, 5, 6, 7))
def blocked_attention(q, k, v, length, window: int | None, cap: float | None, block: int,
                      low=None):
    """softmax(mask(softcap(q k^T))) v over blocks; returns [T, K, G, H]. `low` (e.g.
    bfloat16) is the dtype of the products' inputs; sums, softmax and results stay in q's."""
    return _forward(q, k, v, length, window, cap, block, low)[0]


def _fwd(q, k, v, length, window, cap, block, low):
    q, k, v = jnp.asarray(q), jnp.asarray(k), jnp.asarray(v)
    out, lse = _forward(q, k, v, length, window, cap, block, low)
    return out, (q, k, v, length, out, lse)


def _bwd(window, cap, block, low, residuals, d_out):
    q, k, v, length, out, lse = residuals
    bl = _Blocks(q, k, v, length, window, cap, block, low)
    d_out = jnp.asarray(d_out)
    # D = rowsum(dO * O): the softmax Jacobian's row term.
    delta = jnp.sum(bl.query_layout(d_out.astype(bl.acc) * out.astype(bl.acc)), axis=-1)
    d_out = bl.query_layout(d_out.astype(bl.low))  # [nb, K, B*G, H]

    def d_scores(i, j, keys_first=False):
        """dS [K, B*G, C] (or its transpose with `keys_first`) for the block pair (i, j), and P
        in the same orientation."""
        s, ok, slope = bl.scores(bl.q[i], i, j, keys_first)
        if keys_first:
            p = jnp.exp(s - lse[i][:, None, :])
            dp = jnp.einsum("kch,krh->kcr", bl.v[j], d_out[i], preferred_element_type=bl.acc)
            ds = p * (dp - delta[i][:, None, :])
        else:
            p = jnp.exp(s - lse[i][..., None])
            dp = jnp.einsum("krh,kch->krc", d_out[i], bl.v[j], preferred_element_type=bl.acc)
            ds = p * (dp - delta[i][..., None])
        if slope is not None:
            ds = ds * slope
        return jnp.where(ok, ds, 0.0).astype(bl.low), p

    def dq_block(i):
        def visit(j, dq_i):
            ds, _ = d_scores(i, j)
            return dq_i + jnp.einsum("krc,kch->krh", ds, bl.k[j], preferred_element_type=bl.acc)

        zero = jnp.zeros((bl.kh, block * bl.g, bl.h), bl.acc)
        return jax.lax.fori_loop(bl.first_key_block(i), i + 1, visit, zero)

    def dkv_block(j):
        def visit(i, carry):
            dk_j, dv_j = carry
            ds_t, p_t = d_scores(i, j, keys_first=True)  # [K, C, B*G]
            dk_j = dk_j + jnp.einsum("kcr,krh->kch", ds_t, bl.q[i], preferred_element_type=bl.acc)
            dv_j = dv_j + jnp.einsum("kcr,krh->kch", p_t.astype(bl.low), d_out[i],
                                     preferred_element_type=bl.acc)
            return dk_j, dv_j

        zero = jnp.zeros((bl.kh, block, bl.h), bl.acc)
        return jax.lax.fori_loop(j, bl.last_query_block(j) + 1, visit, (zero, zero))

    dq = bl.from_query_layout(jax.lax.map(dq_block, jnp.arange(bl.nb)))
    dk, dv = jax.lax.map(dkv_block, jnp.arange(bl.nb))  # [nb, K, B, H]
    unblock = lambda x: x.transpose(0, 2, 1, 3).reshape(bl.t, bl.kh, bl.h)  # noqa: E731
    return (dq.astype(q.dtype), unblock(dk).astype(k.dtype), unblock(dv).astype(v.dtype), None)


blocked_attention.defvjp(_fwd, _bwd)
