"""A Gemma backbone and its tokenizer, loaded once and shared by every caller."""

from __future__ import annotations

import hashlib
import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from lib.tokenizer import TextTokenizer

if TYPE_CHECKING:
    from lib.salience.forward import ModelFunctions

FAMILIES = ("gemma", "gemma2", "gemma3")


class Fingerprint:
    """The weights' hash, fed one variable (path and value) at a time, in `backbone.weights`
    order."""

    def __init__(self) -> None:
        self._digest = hashlib.blake2b(digest_size=16)

    def add(self, path: str, value: Any) -> None:
        self._digest.update(path.encode())
        self._digest.update(np.ascontiguousarray(np.asarray(value)).tobytes())

    def hexdigest(self) -> str:
        return self._digest.hexdigest()


def weights_fingerprint(backbone: Any) -> str:
    """A short hash of every weight, in a fixed order: two models with the same fingerprint give
    the same outputs, so a saved run can tell whether the server's model can recompute it."""
    digest = Fingerprint()
    for variable in backbone.weights:
        digest.add(variable.path, variable.value)
    return digest.hexdigest()


def backbone_family(backbone: Any) -> str:
    name = type(backbone).__name__
    if name == "Gemma3Backbone":
        return "gemma3"
    if name == "GemmaBackbone":
        # Gemma 2 is the same class with its extra features switched on.
        return "gemma2" if getattr(backbone, "use_post_ffw_norm", False) else "gemma"
    raise ValueError(f"{name} is not a Gemma backbone; only Gemma 1, 2 and 3 are supported.")


@dataclass
class LoadedModel:
    """Everything the pipeline needs about one model. Shared read-only across threads."""

    spec: str
    name: str
    backbone: Any
    tokenizer: TextTokenizer
    fingerprint: str
    default_chat_template: bool = False
    max_prompt_tokens: int = 2048
    max_salience_tokens: int = 1024
    family: str = field(init=False)
    _functions: ModelFunctions | None = field(default=None, init=False, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

    def __post_init__(self) -> None:
        self.family = backbone_family(self.backbone)

    @property
    def functions(self) -> ModelFunctions:
        """The jitted forward/generation/salience functions (built once, on first use)."""
        with self._lock:
            if self._functions is None:
                from lib.salience.forward import ModelFunctions

                self._functions = ModelFunctions(self.backbone)
            return self._functions
