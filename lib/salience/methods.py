"""Salience methods, found by string id so the UI and the command line list what exists.

Both methods come from one gradient computation (lib.salience.forward), so switching between
them never recomputes: the engine returns every method's scores at once and caches them.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class MethodInfo:
    id: str
    label: str
    signed: bool
    description: str


METHODS: dict[str, MethodInfo] = {
    m.id: m
    for m in (
        MethodInfo(
            id="grad_l2",
            label="Grad L2",
            signed=False,
            description="L2 norm of the loss gradient at each token's embedding: how strongly a "
            "small change to that token would move the target's probability (unsigned).",
        ),
        MethodInfo(
            id="grad_dot_input",
            label="Grad · Input",
            signed=True,
            description="Dot product of the gradient and the token's embedding (LIT's sign: "
            "gradient of the loss, so negative means the token made the target more likely).",
        ),
    )
}


def get_method(method_id: str) -> MethodInfo:
    try:
        return METHODS[method_id]
    except KeyError:
        known = ", ".join(METHODS)
        from lib.errors import InputError

        raise InputError(f"Unknown salience method {method_id!r}; choose one of: {known}.",
                         field="method") from None
