"""The one-pass cross-entropy (lib/salience/fused_ce.py) against plain log-softmax autodiff."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from lib.salience import fused_ce


def _plain(hidden, table, labels, cap):
    z = hidden @ table.T
    if cap is not None:
        z = jnp.tanh(z / cap) * cap
    logp = jax.nn.log_softmax(z, axis=-1)
    return -jnp.take_along_axis(logp, labels[:, None], axis=-1)[:, 0]


@pytest.mark.parametrize("cap", [None, 2.0])
@pytest.mark.parametrize("block", [7, 64, 4096])  # uneven blocks, exact fit, a single block
def test_losses_and_gradient_match_plain_autodiff(monkeypatch, cap, block):
    monkeypatch.setattr(fused_ce, "BLOCK", block)
    rng = np.random.default_rng(0)
    table = jnp.asarray(rng.normal(size=(300, 16)).astype(np.float32))
    hidden = jnp.asarray(rng.normal(size=(5, 16)).astype(np.float32))
    labels = jnp.asarray([0, 7, 299, 150, 7], dtype=jnp.int32)
    weights = jnp.asarray([1.0, 0.5, 2.0, -1.0, 3.0])

    ours = fused_ce.token_nll(hidden, table, labels, cap)
    ref = _plain(hidden, table, labels, cap)
    np.testing.assert_allclose(ours, ref, rtol=1e-5, atol=1e-5)

    g_ours = jax.grad(lambda h: jnp.sum(weights * fused_ce.token_nll(h, table, labels, cap)))(
        hidden)
    g_ref = jax.grad(lambda h: jnp.sum(weights * _plain(h, table, labels, cap)))(hidden)
    np.testing.assert_allclose(g_ours, g_ref, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("cap", [None, 2.0])
def test_table_as_separate_blocks_gives_the_same_loss_and_gradient(cap):
    rng = np.random.default_rng(1)
    table = jnp.asarray(rng.normal(size=(300, 16)).astype(np.float32))
    hidden = jnp.asarray(rng.normal(size=(5, 16)).astype(np.float32))
    labels = jnp.asarray([0, 63, 64, 299, 150], dtype=jnp.int32)  # block edges and the last row
    weights = jnp.asarray([1.0, 0.5, 2.0, -1.0, 3.0])
    blocks = fused_ce.table_blocks(table, block=64)  # 4 full blocks and one of 44 rows
    assert [b.shape[0] for b in blocks] == [64, 64, 64, 64, 44]

    def grad(t):
        return jax.grad(lambda h: jnp.sum(weights * fused_ce.token_nll(h, t, labels, cap)))(hidden)

    np.testing.assert_allclose(fused_ce.token_nll(hidden, blocks, labels, cap),
                               _plain(hidden, table, labels, cap), rtol=1e-5, atol=1e-5)
    g_ref = jax.grad(lambda h: jnp.sum(weights * _plain(h, table, labels, cap)))(hidden)
    np.testing.assert_allclose(grad(blocks), g_ref, rtol=1e-4, atol=1e-5)
    # bfloat16 blocks: the mixed-precision form, close to float32 but not equal to it.
    half = fused_ce.table_blocks(table, jnp.bfloat16, block=64)
    g_half = grad(half)
    assert not np.allclose(g_half, g_ref, rtol=1e-6, atol=0)
    np.testing.assert_allclose(g_half, g_ref, rtol=0, atol=3e-2 * np.abs(g_ref).max())
    np.testing.assert_allclose(fused_ce.token_nll(hidden, half, labels, cap),
                               _plain(hidden, table, labels, cap), rtol=2e-2)
