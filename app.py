"""Salience Studio: entry point (`streamlit run app.py`). Pages live in pages/, logic in lib/."""

import lib  # noqa: F401  (sets KERAS_BACKEND=jax before anything imports keras)
from lib.ui.app_shell import run_app

run_app()
