"""The compute floor shared by the benchmarks: necessary FLOPs over a measured matmul rate."""

from __future__ import annotations

import platform
import statistics
import time
from pathlib import Path


def cpu_name() -> str:
    """The machine's CPU model for a benchmark table (/proc/cpuinfo, else what Python knows)."""
    try:
        return next(line.split(":", 1)[1].strip() for line in
                    Path("/proc/cpuinfo").read_text().splitlines()
                    if line.startswith("model name"))
    except (OSError, StopIteration):
        return platform.processor() or platform.machine()


def matmul_rate(dtype_name: str) -> float:
    import jax
    import jax.numpy as jnp

    dtype = jnp.dtype(dtype_name)
    a = jnp.ones((1024, 1024), dtype)
    f = jax.jit(lambda x, y: jnp.matmul(x, y, preferred_element_type=jnp.float32))
    f(a, a).block_until_ready()
    times = []
    for _ in range(20):
        t = time.perf_counter()
        f(a, a).block_until_ready()
        times.append(time.perf_counter() - t)
    return 2 * 1024**3 / statistics.median(times)


def salience_flops(backbone, n: int, n_targets: int) -> float:
    """Necessary FLOPs of one salience call over n tokens (forward + backward to the inputs)."""
    d, heads, kv, hd = (backbone.hidden_dim, backbone.num_query_heads,
                        backbone.num_key_value_heads, backbone.head_dim)
    ff, vocab = backbone.intermediate_dim, backbone.vocabulary_size
    linear = 2 * (d * heads * hd + 2 * d * kv * hd + heads * hd * d + 3 * d * ff)
    forward = backward = 0.0
    for layer in backbone.transformer_layers:
        att = layer.attention
        w = int(att.sliding_window_size) if att.use_sliding_window_attention else n
        w = min(w, n)
        pairs = n * w - w * (w - 1) / 2  # query i sees min(i + 1, w) keys
        attention = 2 * 2 * heads * hd * pairs  # QK^T and PV
        forward += linear * n + attention
        backward += linear * n + 2 * attention  # dX = dY W^T; dQ, dK, dV, dP
    head = 2 * d * vocab * n_targets
    return forward + backward + 2 * head
