"""Which arithmetic salience uses (no JAX import: the UI's audit data reads it too)."""

from __future__ import annotations

import os

from lib.errors import InputError

PRECISIONS = ("float32", "mixed")


def default_precision() -> str:
    """`STUDIO_SALIENCE_PRECISION`: `mixed` (bfloat16 matrix products, float32 accumulation;
    the default) or `float32` (exact to keras-hub's layers)."""
    value = os.environ.get("STUDIO_SALIENCE_PRECISION", "mixed").strip().lower()
    if value not in PRECISIONS:
        raise InputError(f"STUDIO_SALIENCE_PRECISION is {value!r}; set it to one of "
                         f"{' or '.join(PRECISIONS)} (or unset it for mixed).",
                         field="STUDIO_SALIENCE_PRECISION")
    return value
