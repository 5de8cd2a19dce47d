"""Blocked attention (lib/salience/blocked_attention.py) against dense masked attention."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from lib.salience.blocked_attention import block_size, blocked_attention, padded_length


def dense(q, k, v, length, window, cap):
    t = q.shape[0]
    s = jnp.einsum("tkgh,skh->kgts", q, k)
    if cap is not None:
        s = jnp.tanh(s / cap) * cap
    i = jnp.arange(t)
    ok = (i[None, :] <= i[:, None]) & (i[None, :] < length)
    if window is not None:
        ok &= i[:, None] - i[None, :] < window
    s = jnp.where(ok[None, None], s, -1e30)
    p = jax.nn.softmax(s, axis=-1)
    return jnp.einsum("kgts,skh->tkgh", p, v)


def inputs(t, kh=1, g=2, h=8, seed=0, dtype=np.float64):
    rng = np.random.default_rng(seed)
    q = rng.normal(size=(t, kh, g, h)).astype(dtype)
    k = rng.normal(size=(t, kh, h)).astype(dtype)
    v = rng.normal(size=(t, kh, h)).astype(dtype)
    return q, k, v


@pytest.mark.parametrize("window,cap,block", [(None, None, 16), (20, None, 16), (7, 3.0, 8),
                                              (None, 2.0, 64), (40, None, 64)])
def test_forward_and_gradients_match_dense(window, cap, block):
    with jax.enable_x64(True):
        t, length = 64, 53  # padding rows and keys, windows crossing several blocks
        q, k, v = inputs(t)
        want, vjp_dense = jax.vjp(lambda *a: dense(*a, length, window, cap), q, k, v)
        got, vjp_blocked = jax.vjp(lambda *a: blocked_attention(*a, length, window, cap, block),
                                   q, k, v)
        scale = np.max(np.abs(want))
        assert np.max(np.abs(np.asarray(got) - np.asarray(want))[:length]) <= 1e-12 * scale
        assert np.all(np.isfinite(np.asarray(got)))
        cot = np.random.default_rng(1).normal(size=want.shape)
        cot[length:] = 0  # padded rows feed nothing downstream
        for a, b in zip(vjp_dense(cot), vjp_blocked(cot), strict=True):
            a, b = np.asarray(a), np.asarray(b)
            assert np.max(np.abs(a - b)) <= 1e-10 * max(1.0, np.max(np.abs(a)))


def test_gradient_matches_finite_differences():
    with jax.enable_x64(True):
        q, k, v = inputs(32, kh=2, g=2, h=4, seed=3)
        f = lambda q, k, v: jnp.sum(jnp.sin(blocked_attention(q, k, v, 30, 9, 2.5, 8)))  # noqa: E731
        grads = jax.grad(f, argnums=(0, 1, 2))(q, k, v)
        rng = np.random.default_rng(4)
        for arg, grad in enumerate(grads):
            direction = rng.normal(size=grad.shape)
            args = [q, k, v]
            eps = 1e-6
            plus = list(args)
            minus = list(args)
            plus[arg] = args[arg] + eps * direction
            minus[arg] = args[arg] - eps * direction
            numeric = (f(*plus) - f(*minus)) / (2 * eps)
            analytic = np.sum(np.asarray(grad) * direction)
            assert abs(float(numeric) - analytic) <= 1e-6 * max(1.0, abs(analytic))


def test_blocks_divide_padded_lengths():
    for n in (1, 31, 200, 512, 513, 1000, 2048, 2049, 6100, 8192):
        t = padded_length(n)
        assert t >= n and t % block_size(t) == 0
