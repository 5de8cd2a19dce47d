"""The saved-runs store's schema: its migrations and the content hash that dedupes saves.

The schema carries `PRAGMA user_version`; `MIGRATIONS[k]` upgrades version k to k + 1, so a
database written by any earlier release still opens (`RunStore` applies them in one
transaction). Kept apart from `lib.runs` so the history of the schema reads in one place; the
content hash lives here because migration 2 backfills it.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections.abc import Callable, Mapping

Migration = str | Callable[[sqlite3.Connection], None]


def _volatile_free(value: object) -> object:
    """The record without what differs between two saves of the same view (the audit date)."""
    if isinstance(value, Mapping):
        return {k: (_volatile_free({kk: vv for kk, vv in v.items() if kk != "date"})
                    if k == "audit" and isinstance(v, Mapping) else _volatile_free(v))
                for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_volatile_free(v) for v in value]
    return value


def content_hash(kind: str, record: object) -> str:
    """SHA-256 of the kind and the record's canonical JSON, audit dates left out."""
    text = json.dumps(_volatile_free(record), ensure_ascii=True, allow_nan=False,
                      sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(f"{kind}\n{text}".encode("ascii")).hexdigest()


def _backfill_hashes(conn: sqlite3.Connection) -> None:
    """Schema 2: hash the records saved before, so re-sharing one of them finds it."""
    rows = conn.execute("SELECT id, kind, record FROM runs").fetchall()
    for run_id, kind, text in rows:
        try:
            digest = content_hash(kind, json.loads(text))
        except ValueError:
            continue  # an unreadable record keeps '' and is never matched
        conn.execute("UPDATE runs SET content_hash = ? WHERE id = ?", (digest, run_id))

# Each entry upgrades the schema by one version; never edit a released entry, append instead.
MIGRATIONS: tuple[tuple[Migration, ...], ...] = (
    (
        """
        CREATE TABLE runs (
            id TEXT PRIMARY KEY,
            kind TEXT NOT NULL,
            title TEXT NOT NULL,
            owner TEXT NOT NULL,
            created_at TEXT NOT NULL,
            model TEXT NOT NULL DEFAULT '',
            size INTEGER NOT NULL,
            record TEXT NOT NULL
        )
        """,
        "CREATE INDEX runs_owner_created ON runs (owner, created_at)",
    ),
    (
        "ALTER TABLE runs ADD COLUMN content_hash TEXT NOT NULL DEFAULT ''",
        "CREATE INDEX runs_owner_hash ON runs (owner, content_hash)",
        # One row per successful save, for the per-owner rate limit (pruned as it goes).
        "CREATE TABLE saves (owner TEXT NOT NULL, saved_at REAL NOT NULL)",
        "CREATE INDEX saves_owner_time ON saves (owner, saved_at)",
        _backfill_hashes,
    ),
    (
        # Reviewer notes on a saved run (lib/notes.py): an append-only thread. A retraction is
        # a row of its own (`retracts` = the note's id); nothing is ever updated. AUTOINCREMENT
        # keeps ids from ever being reused, even after a deleted run took its notes with it.
        """
        CREATE TABLE notes (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            run_id TEXT NOT NULL,
            author TEXT NOT NULL,
            author_label TEXT NOT NULL,
            created_at TEXT NOT NULL,
            text TEXT NOT NULL,
            verdict TEXT,
            retracts INTEGER
        )
        """,
        "CREATE INDEX notes_run ON notes (run_id, id)",
        "CREATE INDEX notes_author_time ON notes (author, created_at)",
        # A note is retracted at most once.
        "CREATE UNIQUE INDEX notes_one_retraction ON notes (retracts) WHERE retracts IS NOT NULL",
        """
        CREATE TRIGGER notes_never_updated BEFORE UPDATE ON notes
        BEGIN SELECT RAISE(ABORT, 'notes are append-only: a note is never changed'); END
        """,
        # Notes go only with their run (the trigger below): while it exists, none is deleted.
        """
        CREATE TRIGGER notes_never_deleted BEFORE DELETE ON notes
        WHEN EXISTS (SELECT 1 FROM runs WHERE id = OLD.run_id)
        BEGIN SELECT RAISE(ABORT, 'notes are append-only: a note is never deleted'); END
        """,
        """
        CREATE TRIGGER notes_need_their_run BEFORE INSERT ON notes
        WHEN NOT EXISTS (SELECT 1 FROM runs WHERE id = NEW.run_id)
        BEGIN SELECT RAISE(ABORT, 'a note needs an existing run'); END
        """,
        """
        CREATE TRIGGER notes_retracted_by_their_author BEFORE INSERT ON notes
        WHEN NEW.retracts IS NOT NULL AND NOT EXISTS (
            SELECT 1 FROM notes WHERE id = NEW.retracts AND run_id = NEW.run_id
            AND author = NEW.author AND retracts IS NULL)
        BEGIN SELECT RAISE(ABORT, 'only its author may retract a note'); END
        """,
        """
        CREATE TRIGGER runs_take_their_notes AFTER DELETE ON runs
        BEGIN DELETE FROM notes WHERE run_id = OLD.id; END
        """,
    ),
)
SCHEMA_VERSION = len(MIGRATIONS)
