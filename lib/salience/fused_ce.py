"""Cross-entropy of chosen tokens over a tied-embedding vocabulary, in one pass over the table.

The output layer is a 262,144 x 640 table (671 MB in float32) used for only a few target
positions, so it is memory-bound: plain autodiff reads the table once for the logits and again
for d(hidden). Here one scan over vocabulary blocks keeps an online softmax (running max and sum)
and, in the same pass, the probability-weighted sum of the table rows, which *is* the gradient:

    d(-log p_y)/dh = sum_v p_v * c_v * E_v  -  c_y * E_y,   c = d softcap(z)/dz (1 without cap)

The backward pass then only scales that stored gradient.
"""

from __future__ import annotations

from functools import partial

import jax
import jax.numpy as jnp

BLOCK = 8192  # rows per step: 21 MB of float32 table, reused from cache for both products


def _capped(z: jax.Array, cap: float | None) -> tuple[jax.Array, jax.Array]:
    if cap is None:
        return z, jnp.ones_like(z)
    t = jnp.tanh(z / cap)
    return t * cap, 1.0 - t * t


def _forward(hidden: jax.Array, table, labels: jax.Array, cap: float | None):
    dtype = jnp.promote_types(hidden.dtype, jnp.float32)
    h = hidden.astype(dtype)
    p, d = h.shape
    state = (jnp.full((p,), -jnp.inf, dtype), jnp.zeros((p,), dtype), jnp.zeros((p, d), dtype))
    if isinstance(table, (list, tuple)):
        # Separate blocks (a Python loop, unrolled at trace time): each product reads its block
        # in place, where the scan below copies every block out of the table first.
        label_rows = jnp.zeros((p, d), dtype)
        offset = 0
        for rows in table:
            n = rows.shape[0]
            state = _online_step(h, rows, None, cap, state)
            inside = (labels >= offset) & (labels < offset + n)
            picked = jnp.take(rows, jnp.clip(labels - offset, 0, n - 1), axis=0).astype(dtype)
            label_rows = label_rows + jnp.where(inside[:, None], picked, 0)
            offset += n
    else:
        v = table.shape[0]
        block = min(BLOCK, v)
        n_blocks = -(-v // block)
        pad = n_blocks * block - v
        padded = jnp.pad(table, ((0, pad), (0, 0))) if pad else table
        blocks = padded.reshape(n_blocks, block, d)
        valid = (jnp.arange(n_blocks * block) < v).reshape(n_blocks, block)
        state, _ = jax.lax.scan(lambda st, xs: (_online_step(h, *xs, cap, st), None), state,
                                (blocks, valid))
        label_rows = table[labels].astype(dtype)
    m, s, acc = state
    z_y, slope_y = _capped(jnp.sum(h * label_rows, axis=1), cap)
    losses = m + jnp.log(s) - z_y
    grad = acc / s[:, None] - slope_y[:, None] * label_rows
    return losses, grad


def _online_step(h, rows, valid, cap, state):
    """One vocabulary block of the online softmax: running max m, sum s, and the
    probability-weighted sum of rows acc. bfloat16 rows give bfloat16 products with float32
    sums; `valid` masks the padding rows of a last, partial block."""
    m, s, acc = state
    z, slope = _capped(_product(h, rows, (((1,), (1,)), ((), ()))), cap)
    if valid is not None:
        z = jnp.where(valid[None, :], z, -jnp.inf)
    m_new = jnp.maximum(m, jnp.max(z, axis=1))
    scale = jnp.exp(m - m_new)
    e = jnp.exp(z - m_new[:, None])
    s = s * scale + jnp.sum(e, axis=1)
    acc = acc * scale[:, None] + _product(e * slope, rows, (((1,), (0,)), ((), ())))
    return m_new, s, acc


def _product(a: jax.Array, rows: jax.Array, dims) -> jax.Array:
    """a (float32) times table rows; bfloat16 rows make it a mixed-precision product."""
    if rows.dtype == a.dtype:
        return jax.lax.dot_general(a, rows, dims)
    return jax.lax.dot_general(a.astype(rows.dtype), rows, dims, preferred_element_type=a.dtype)


def table_blocks(table: jax.Array, dtype=None, block: int | None = None) -> tuple:
    """The table as separate arrays of `block` rows (a copy), for `token_nll`."""
    block = block or BLOCK
    dtype = dtype or table.dtype
    return tuple(jnp.asarray(table[i:i + block], dtype) for i in range(0, table.shape[0], block))


@partial(jax.custom_vjp, nondiff_argnums=(3,))
def token_nll(hidden: jax.Array, table: jax.Array, labels: jax.Array,
              cap: float | None = None) -> jax.Array:
    """-log softmax(softcap(hidden @ table.T))[label] per row of `hidden` [P, D]. `table` is
    one array [V, D] or its `table_blocks`."""
    return _forward(hidden, table, labels, cap)[0]


def _fwd(hidden, table, labels, cap):
    losses, grad = _forward(hidden, table, labels, cap)
    return losses, (grad, table, labels)


def _bwd(cap, residuals, g):
    grad, table, labels = residuals
    # Only d(hidden) is ever needed (salience differentiates w.r.t. the input embeddings); the
    # table's cotangent is zeros that XLA drops when nothing uses them.
    return ((g[:, None] * grad).astype(grad.dtype), jax.tree_util.tree_map(jnp.zeros_like, table),
            None)


token_nll.defvjp(_fwd, _bwd)
