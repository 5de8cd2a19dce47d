"""Where the studio keeps its state on disk (one place, so every module agrees)."""

from __future__ import annotations

import os
from pathlib import Path


def data_dir() -> Path:
    """Root of all state (model cache, saved runs): `STUDIO_DATA_DIR`, else a user cache folder."""
    configured = os.environ.get("STUDIO_DATA_DIR", "").strip()
    if configured:
        return Path(configured).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME", "").strip()
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "salience-studio"


def cache_dir() -> Path:
    """Converted-model cache: `STUDIO_CACHE_DIR`, else `<data_dir>/models`."""
    configured = os.environ.get("STUDIO_CACHE_DIR", "").strip()
    if configured:
        return Path(configured).expanduser()
    return data_dir() / "models"
