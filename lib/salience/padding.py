"""Padding of salience inputs to a few compiled shapes (lengths and counts in buckets)."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from lib.salience.blocked_attention import block_size, padded_length


def bucket_length(n: int, *, step: int = 64, large_step: int = 256, large_from: int = 1024) -> int:
    """Round `n` up to a multiple of `step` (of `large_step` past `large_from`) to limit compiles."""
    if n <= large_from:
        return max(step, math.ceil(n / step) * step)
    return math.ceil(n / large_step) * large_step


def bucket_count(n: int) -> int:
    """Round a count of target positions up to a power of two (at least 4)."""
    return max(4, 1 << (max(n, 1) - 1).bit_length())


def pad_targets(ids: Sequence[int], targets: Sequence[Sequence[int]], pad_id: int,
                truncate: bool, layered: bool, block: int | None
                ) -> tuple[int, int | None, np.ndarray, np.ndarray, np.ndarray]:
    """(cut, block, padded ids [T], target positions [P], target matrix [J, P]) as both
    salience paths take them: `cut` is the last input kept, `block` the attention block size
    (layered path)."""
    n = len(ids)
    targets = [sorted(set(int(p) for p in t)) for t in targets]
    if not targets or any(not t for t in targets):
        raise ValueError("every target needs at least one token position")
    if any(p < 1 or p >= n for t in targets for p in t):
        raise ValueError(f"target positions must be in 1..{n - 1}")
    positions = sorted(set(p for t in targets for p in t))
    cut = max(positions) if truncate else n - 1  # inputs 0..cut-1 predict every target
    # A finer bucket than generation's: padding costs salience time in proportion.
    if layered and block:
        t_pad = -(-(cut + 1) // block) * block
    elif layered:
        t_pad = padded_length(cut + 1)
        block = block_size(t_pad)
    else:
        t_pad = bucket_length(cut + 1, step=32)
    p_pad = bucket_count(len(positions))
    ids_arr = np.full(t_pad, pad_id, dtype=np.int32)
    ids_arr[: cut + 1] = np.asarray(ids[: cut + 1], dtype=np.int32)
    pos_arr = np.ones(p_pad, dtype=np.int32)
    pos_arr[: len(positions)] = positions
    column = {p: k for k, p in enumerate(positions)}
    j_pad = 1 if len(targets) == 1 else bucket_count(len(targets))
    matrix = np.zeros((j_pad, p_pad), dtype=np.float32)
    for j, t in enumerate(targets):
        for p in t:
            matrix[j, column[p]] = 1.0
    return cut, block, ids_arr, pos_arr, matrix

