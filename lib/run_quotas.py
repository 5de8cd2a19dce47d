"""The saved-runs store's stated limits and the per-owner quota and rate limit.

One browser must not fill the store: each owner has a quota (bytes and runs) and a rate limit
(saves per minute), counted from tables in the store itself, so every server process agrees.
The limits are stated in the README ("Limits and security"); the server's operator can change
them through the environment. Kept apart from `lib.runs`, which stores and reads records.
"""

from __future__ import annotations

import os
import sqlite3

from lib.errors import LimitError, StudioError

# Stated limits (README "Limits and security"); the server's operator can change them.
# A whole document's run: 0.7 MB with one scored segment at 8.3k tokens, +0.17 MB for each
# further segment (measured, docs/documents.md): 16 MB holds one with ~90 segments scored.
DEFAULT_MAX_RUN_BYTES = 16_000_000
DEFAULT_MAX_TOTAL_BYTES = 2_000_000_000
MAX_RUN_BYTES_ENV = "STUDIO_MAX_RUN_BYTES"
MAX_TOTAL_BYTES_ENV = "STUDIO_MAX_STORE_BYTES"
DEFAULT_MAX_OWNER_BYTES = 100_000_000
DEFAULT_MAX_OWNER_RUNS = 1_000
DEFAULT_SAVES_PER_MINUTE = 30
MAX_OWNER_BYTES_ENV = "STUDIO_MAX_OWNER_BYTES"
MAX_OWNER_RUNS_ENV = "STUDIO_MAX_OWNER_RUNS"
SAVES_PER_MINUTE_ENV = "STUDIO_SAVES_PER_MINUTE"
RATE_WINDOW_S = 60.0


def check_owner_limits(conn: sqlite3.Connection, owner: str, size: int, *, now: float,
                       saves_per_minute: int, max_owner_runs: int, max_owner_bytes: int) -> None:
    """Raise LimitError if a new run of `size` bytes would pass one of the owner's limits.

    Runs inside the save's write transaction, so concurrent saves count each other; it prunes
    the rate-limit table of entries older than the window as it goes.
    """
    conn.execute("DELETE FROM saves WHERE saved_at < ?", (now - RATE_WINDOW_S,))
    recent = conn.execute(
        "SELECT COUNT(*) FROM saves WHERE owner = ? AND saved_at >= ?",
        (owner, now - RATE_WINDOW_S),
    ).fetchone()[0]
    if recent >= saves_per_minute:
        raise LimitError(
            f"You have saved {recent} runs in the last minute; the limit is "
            f"{saves_per_minute} saves a minute. Wait a minute, then save again.",
            field="run",
        )
    count, used = conn.execute(
        "SELECT COUNT(*), COALESCE(SUM(size), 0) FROM runs WHERE owner = ?", (owner,)
    ).fetchone()
    if count + 1 > max_owner_runs:
        raise LimitError(
            f"You already have {count:,} saved runs; the limit is {max_owner_runs:,} "
            "runs each. Delete some of your saved runs (Saved runs page), then save again.",
            field="run",
        )
    if used + size > max_owner_bytes:
        raise LimitError(
            f"Your saved runs use {used:,} bytes and this one needs {size:,} more; the limit "
            f"is {max_owner_bytes:,} bytes each. Delete some of your saved runs (Saved "
            "runs page), then save again.",
            field="run",
        )


def limit_from_env(name: str, default: int) -> int:
    """The positive whole number in environment variable `name` (underscores allowed as digit
    separators), or `default` when unset; a bad value stops the server with a clear message."""
    raw = os.environ.get(name, "").strip().replace("_", "")
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        value = 0
    if value <= 0:
        raise StudioError(
            f"The server setting {name}={raw[:40]!r} is not a positive whole number; "
            "fix it in the server's environment and restart."
        )
    return value
