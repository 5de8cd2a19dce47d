"""Salience Studio: sequence salience for Gemma on JAX (all logic, no Streamlit)."""

import os as _os

# Keras picks its backend once, at first import: make it JAX before anything imports keras.
_os.environ.setdefault("KERAS_BACKEND", "jax")

__version__ = "0.1.0"
