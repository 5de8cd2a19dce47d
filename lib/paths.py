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


def prepare_private_file(path: Path) -> None:
    """The folder 0700 (when created here) and the file 0600, before anything is written to it.

    Used for the saved-runs database: SQLite gives its -wal and -shm files the main file's
    permissions, so those are narrowed too. An existing folder chosen by the operator
    (STUDIO_DATA_DIR) is left as it is; an existing file is narrowed.
    """
    parent = path.parent
    if not parent.exists():
        parent.mkdir(parents=True, mode=0o700, exist_ok=True)
        os.chmod(parent, 0o700)  # mkdir's mode is filtered through the umask
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        if os.fstat(fd).st_mode & 0o077:
            os.fchmod(fd, 0o600)
    finally:
        os.close(fd)
    for suffix in ("-wal", "-shm"):
        side = path.with_name(path.name + suffix)
        try:
            if side.stat().st_mode & 0o077:
                os.chmod(side, 0o600)
        except FileNotFoundError:
            pass
