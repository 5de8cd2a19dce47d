"""Model specs -> loaded models, once per process.

A spec is `embedded` (default), `tiny` / `tiny-gemma1|2|3`, a keras-hub preset name, a
`kaggle://` or `hf://` handle, or a path to a local preset folder.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from pathlib import Path

from lib.errors import ModelLoadError
from lib.models.loaded_model import LoadedModel

DEFAULT_SPEC = "embedded"
ProgressFn = Callable[[float, str], None]

_models: dict[str, LoadedModel] = {}
_locks: dict[str, threading.Lock] = {}
_registry_lock = threading.Lock()


def default_spec() -> str:
    return os.environ.get("STUDIO_MODEL", "").strip() or DEFAULT_SPEC


def allowed_model_specs() -> list[str]:
    """Specs a browser user may pick: `STUDIO_ALLOWED_MODELS` (comma list), else the default."""
    raw = os.environ.get("STUDIO_ALLOWED_MODELS", "")
    specs = [s.strip() for s in raw.split(",") if s.strip()]
    default = default_spec()
    return specs if default in specs else [default, *specs]


def load_uncached(spec: str, progress: ProgressFn | None) -> LoadedModel:
    """Load `spec` afresh (`get_model` keeps one loaded copy per spec and uses this)."""
    from lib.models.tiny import TINY_SPECS, load_tiny

    if spec in TINY_SPECS:
        return load_tiny(spec)
    if spec == "embedded":
        from lib.models.gguf_gemma3 import load_embedded

        return load_embedded(progress)
    from lib.models.presets import HF_PREFIX, KAGGLE_PREFIX, is_builtin_preset, load_preset

    path = Path(spec).expanduser()
    if path.is_dir():
        return load_preset(str(path.resolve()), spec=spec)
    if spec.startswith((KAGGLE_PREFIX, HF_PREFIX)) or is_builtin_preset(spec):
        return load_preset(spec)
    if spec.startswith(("/", ".", "~")) or os.sep in spec:
        raise ModelLoadError(f"Model folder {spec!r} does not exist; give the path of a keras-hub "
                             "preset folder (one that holds config.json).")
    raise ModelLoadError(
        f"Unknown model {spec!r}. Use 'embedded' (offline Gemma 3 270M), 'tiny' (test model), a "
        "keras-hub Gemma preset such as gemma2_instruct_2b_en, a kaggle:// or hf:// handle, or a "
        "preset folder path."
    )


def get_model(spec: str | None = None, progress: ProgressFn | None = None) -> LoadedModel:
    """The model for `spec`, loaded on first use and shared by every caller of this process.

    Concurrent first calls for one spec wait for a single load.
    """
    spec = (spec or default_spec()).strip()
    with _registry_lock:
        if spec in _models:
            return _models[spec]
        lock = _locks.setdefault(spec, threading.Lock())
    with lock:
        if spec not in _models:
            model = load_uncached(spec, progress)
            with _registry_lock:
                _models[spec] = model
        return _models[spec]


def loaded_specs() -> set[str]:
    """The specs loaded in this process so far."""
    with _registry_lock:
        return set(_models)


def loaded_model(spec: str) -> LoadedModel | None:
    """The model if it is already loaded, without loading it."""
    with _registry_lock:
        return _models.get(spec)
