"""A backbone saved as one `.npy` file per variable, loaded by memory-mapping those files.

keras-hub's `from_preset` first initialises every variable at random (the 671 MB embedding
table of Gemma 3 270M and the random generator's temporaries), then reads the weights file into
memory and copies it into the variables: three copies of the largest tensor at once, about
3 GB peak for a 1 GB model. Here the backbone is built with its variables left uninitialised
(a Keras stateless scope) and each variable takes its array straight from a memory-mapped
`.npy` file, which JAX on the CPU uses in place: the load peaks at the model's own size, and the
pages are shared with the operating system's file cache. Files are written once into a new
folder and renamed into place, never changed after, so a mapped file is never rewritten.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

CONFIG_FILE = "config.json"
INDEX_FILE = "variables.json"


def save_mapped(backbone: Any, folder: Path) -> None:
    """Write the backbone's config and every variable's value (one `.npy` each) to `folder`."""
    import keras

    folder = Path(folder)
    (folder / "weights").mkdir(parents=True, exist_ok=True)
    config = keras.saving.serialize_keras_object(backbone)
    (folder / CONFIG_FILE).write_text(json.dumps(config, indent=1))
    paths = []
    for i, variable in enumerate(backbone.weights):
        np.save(folder / "weights" / f"{i:04d}.npy", np.asarray(variable.value))
        paths.append(variable.path)
    (folder / INDEX_FILE).write_text(json.dumps(paths))


def save_arrays(backbone: Any, arrays: list[Any], folder: Path) -> str:
    """Like `save_mapped` for a backbone whose values are NumPy arrays in `backbone.weights`
    order (its variables may be uninitialised); each array is dropped from `arrays` once
    written, so converting never holds the model twice. Returns the weights' fingerprint
    (`weights_fingerprint`'s, from the same bytes)."""
    import keras

    from lib.models.loaded_model import Fingerprint

    folder = Path(folder)
    (folder / "weights").mkdir(parents=True, exist_ok=True)
    (folder / CONFIG_FILE).write_text(json.dumps(keras.saving.serialize_keras_object(backbone),
                                                 indent=1))
    variables = backbone.weights
    if len(arrays) != len(variables):
        raise ValueError(f"{len(arrays)} arrays for {len(variables)} variables")
    digest = Fingerprint()
    for i, variable in enumerate(variables):
        array, arrays[i] = arrays[i], None
        np.save(folder / "weights" / f"{i:04d}.npy", array)
        digest.add(variable.path, array)
        del array
    (folder / INDEX_FILE).write_text(json.dumps([v.path for v in variables]))
    return digest.hexdigest()


def build_uninitialised(config: dict) -> Any:
    """A backbone from its serialised config whose variables hold no values yet."""
    import keras

    with keras.StatelessScope(initialize_variables=False):
        return keras.saving.deserialize_keras_object(config)


def assign_all(backbone: Any, arrays: list[Any]) -> None:
    """Give every variable of an uninitialised backbone its value, in `backbone.weights` order."""
    variables = backbone.weights
    if len(arrays) != len(variables):
        raise ValueError(f"{len(arrays)} arrays for {len(variables)} variables")
    for variable, array in zip(variables, arrays, strict=True):
        variable.assign(array)
    finish_assignment(backbone)


def finish_assignment(backbone: Any) -> None:
    """Check that every variable of a backbone built by `build_uninitialised` (or in a
    `StatelessScope(initialize_variables=False)`) got a value, and drop the deferred
    initialisers, so nothing ever initialises them at random afterwards."""
    from keras.src.backend.common import global_state

    missing = [v.path for v in backbone.weights if v._value is None]  # noqa: SLF001
    if missing:
        raise ValueError(f"variables without a value: {', '.join(missing[:5])}")
    for variable in backbone.weights:
        variable._initializer = None  # noqa: SLF001 (keras keeps it only for deferred init)
    # They were registered for deferred initialisation; they are initialised now.
    global_state.set_global_attribute("uninitialized_variables", [])


def load_mapped(folder: Path) -> Any:
    """The backbone saved by `save_mapped`, its weights memory-mapped from the files."""
    folder = Path(folder)
    config = json.loads((folder / CONFIG_FILE).read_text())
    paths = json.loads((folder / INDEX_FILE).read_text())
    backbone = build_uninitialised(config)
    variables = backbone.weights
    if [v.path for v in variables] != paths:
        raise ValueError(f"{folder} does not match the backbone its config builds")
    arrays = []
    for i, variable in enumerate(variables):
        array = np.load(folder / "weights" / f"{i:04d}.npy", mmap_mode="r")
        if tuple(array.shape) != tuple(variable.shape):
            raise ValueError(f"{folder}: {variable.path} has shape {array.shape}, "
                             f"expected {tuple(variable.shape)}")
        arrays.append(array)
    assign_all(backbone, arrays)
    return backbone
