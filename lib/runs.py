"""SQLite store of saved and shared runs.

Durability first: WAL mode with `synchronous=FULL`, one transaction per save, a new connection
per call (safe from any thread or process), a busy timeout, parameterised SQL only. The schema
carries `PRAGMA user_version`; `MIGRATIONS[k]` (lib/runs_schema.py) upgrades version k to
k + 1, so a database written by any earlier release still opens. Records are immutable; only
the title can change. A full store refuses new saves with a clear message: nothing is ever
evicted silently.

One browser must not fill the store: the same owner saving an identical record gets the same id
back (looked up by owner and content hash; ids stay random, so they never reveal content or
match across owners), and each owner has a quota (bytes and runs) and a rate limit (saves per
minute), counted from tables in the store itself, so every server process agrees
(lib/run_quotas.py). Reviewers' notes on a run live in the same file (lib/notes.py).
"""

from __future__ import annotations

import json
import re
import secrets
import sqlite3
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from lib import shutdown
from lib.errors import InputError, LimitError, StudioError
from lib.paths import data_dir, prepare_private_file
from lib.run_quotas import (
    DEFAULT_MAX_OWNER_BYTES,
    DEFAULT_MAX_OWNER_RUNS,
    DEFAULT_MAX_RUN_BYTES,
    DEFAULT_MAX_TOTAL_BYTES,
    DEFAULT_SAVES_PER_MINUTE,
    MAX_OWNER_BYTES_ENV,
    MAX_OWNER_RUNS_ENV,
    MAX_RUN_BYTES_ENV,
    MAX_TOTAL_BYTES_ENV,
    RATE_WINDOW_S,
    SAVES_PER_MINUTE_ENV,
    check_owner_limits,
    limit_from_env,
)
from lib.runs_schema import MIGRATIONS, SCHEMA_VERSION, Migration, content_hash

# The public names, the schema's and the limits' included: callers import them from here.
__all__ = [
    "BUSY_TIMEOUT_S", "DEFAULT_MAX_OWNER_BYTES", "DEFAULT_MAX_OWNER_RUNS", "DEFAULT_MAX_RUN_BYTES",
    "DEFAULT_MAX_TOTAL_BYTES", "DEFAULT_SAVES_PER_MINUTE", "MAX_OWNER_BYTES_ENV",
    "MAX_OWNER_CHARS", "MAX_OWNER_RUNS_ENV", "MAX_RUN_BYTES_ENV", "MAX_TITLE_CHARS",
    "MAX_TOTAL_BYTES_ENV", "MIGRATIONS", "RATE_WINDOW_S", "RUN_ID_PATTERN", "SAVES_PER_MINUTE_ENV",
    "SCHEMA_VERSION", "DamagedStoreError", "Migration", "RunStore", "RunSummary", "SavedRun",
    "check_owner_limits", "content_hash", "default_store", "is_valid_run_id", "limit_from_env",
]

RUN_ID_PATTERN = r"[A-Za-z0-9_-]{22,64}"
_RUN_ID = re.compile(RUN_ID_PATTERN)
_KIND = re.compile(r"[a-z][a-z0-9_]{0,31}")
MAX_TITLE_CHARS = 200
MAX_OWNER_CHARS = 320
BUSY_TIMEOUT_S = 10.0


@dataclass(frozen=True)
class SavedRun:
    id: str
    kind: str
    title: str
    owner: str
    created_at: str
    record: dict


@dataclass(frozen=True)
class RunSummary:
    id: str
    kind: str
    title: str
    created_at: str
    model: str


class DamagedStoreError(StudioError):
    """The database file is not a database or is corrupt; the operation changed nothing."""


def _is_corruption(exc: sqlite3.DatabaseError) -> bool:
    """SQLITE_CORRUPT / SQLITE_NOTADB: the file itself is damaged (not a lock or a bad query)."""
    name = getattr(exc, "sqlite_errorname", "") or ""
    if name:
        return name.startswith(("SQLITE_CORRUPT", "SQLITE_NOTADB"))
    return type(exc) is sqlite3.DatabaseError


def is_valid_run_id(run_id: object) -> bool:
    return isinstance(run_id, str) and _RUN_ID.fullmatch(run_id) is not None


def _clean_title(title: object) -> str:
    if not isinstance(title, str):
        raise InputError("The run's title must be text.", field="title")
    title = " ".join(title.split())  # one line: no newlines or runs of spaces in listings
    if len(title) > MAX_TITLE_CHARS:
        raise InputError(
            f"The run's title is {len(title)} characters long; the limit is {MAX_TITLE_CHARS}. "
            "Shorten it.",
            field="title",
        )
    return title or "Untitled run"


def _check_owner(owner: object) -> str:
    if not isinstance(owner, str) or not owner or len(owner) > MAX_OWNER_CHARS:
        raise InputError("The run has no valid owner; sign in again or reload.", field="owner")
    return owner


def _record_model(record: Mapping[str, object]) -> str:
    model = record.get("model")
    if isinstance(model, str):
        return model[:200]
    if isinstance(model, Mapping):
        name = model.get("name") or model.get("spec")
        if isinstance(name, str):
            return name[:200]
    return ""


class RunStore:
    """Saved runs in one SQLite file."""

    def __init__(
        self,
        path: Path,
        *,
        max_run_bytes: int = DEFAULT_MAX_RUN_BYTES,
        max_total_bytes: int = DEFAULT_MAX_TOTAL_BYTES,
        max_owner_bytes: int = DEFAULT_MAX_OWNER_BYTES,
        max_owner_runs: int = DEFAULT_MAX_OWNER_RUNS,
        saves_per_minute: int = DEFAULT_SAVES_PER_MINUTE,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.path = Path(path)
        self.max_run_bytes = int(max_run_bytes)
        self.max_total_bytes = int(max_total_bytes)
        self.max_owner_bytes = int(max_owner_bytes)
        self.max_owner_runs = int(max_owner_runs)
        self.saves_per_minute = int(saves_per_minute)
        self.clock = clock
        prepare_private_file(self.path)
        self._migrate()

    @contextmanager
    def connect(self) -> Iterator[sqlite3.Connection]:
        """A new connection to the store (autocommit: open transactions with BEGIN IMMEDIATE);
        a damaged file raises DamagedStoreError. Also used by `lib.notes`."""
        try:
            conn = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_S, isolation_level=None)
            try:
                conn.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
                conn.execute("PRAGMA synchronous = FULL")
                yield conn
            finally:
                conn.close()
        except sqlite3.DatabaseError as exc:
            if not _is_corruption(exc):
                raise
            raise DamagedStoreError(
                f"The saved-runs database {self.path.name} is damaged ({exc}), so it cannot be "
                "read; nothing was saved or changed. Ask the server's administrator to restore "
                f"{self.path} from a backup (or move it aside to start an empty store)."
            ) from None

    def _migrate(self) -> None:
        with self.connect() as conn:
            mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            if str(mode).lower() != "wal":
                raise StudioError(
                    f"The saved-runs database {self.path} cannot use WAL mode (got {mode}); "
                    "put STUDIO_DATA_DIR on a local disk."
                )
            # Every page run opens the store: skip the write lock when nothing is to migrate.
            if conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION:
                return
            conn.execute("BEGIN IMMEDIATE")
            try:
                version = conn.execute("PRAGMA user_version").fetchone()[0]
                if version > SCHEMA_VERSION:
                    raise StudioError(
                        f"The saved-runs database {self.path} was written by a newer version "
                        f"(schema {version}, this one knows {SCHEMA_VERSION}). Upgrade the app."
                    )
                for target in range(version, SCHEMA_VERSION):
                    for statement in MIGRATIONS[target]:
                        if callable(statement):
                            statement(conn)
                        else:
                            conn.execute(statement)
                    conn.execute(f"PRAGMA user_version = {target + 1}")
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise

    def schema_version(self) -> int:
        with self.connect() as conn:
            return int(conn.execute("PRAGMA user_version").fetchone()[0])

    def save(
        self,
        record: Mapping[str, object],
        *,
        owner: str,
        title: str,
        kind: str = "debug",
    ) -> str:
        """Store `record` and return its id (>= 128 random bits, URL-safe).

        The owner's earlier save of the same record (audit date aside) returns that run's id and
        stores nothing. LimitError names the limit a new save would pass: the run's size, the
        owner's bytes or runs, the owner's saves per minute, or the whole store.
        """
        owner = _check_owner(owner)
        title = _clean_title(title)
        if not isinstance(kind, str) or not _KIND.fullmatch(kind):
            raise InputError(f"Unknown run kind {str(kind)[:40]!r}.", field="kind")
        if not isinstance(record, Mapping):
            raise InputError("A run record must be a mapping of fields.", field="run")
        try:
            encoded = json.dumps(record, ensure_ascii=False, allow_nan=False, sort_keys=True)
        except (TypeError, ValueError) as exc:
            raise InputError(
                f"This run cannot be saved: it holds a value that is not plain data ({exc}).",
                field="run",
            ) from None
        try:
            size = len(encoded.encode("utf-8"))
        except UnicodeEncodeError:
            # Lone surrogates (e.g. from a JSON "\ud800") cannot be stored as UTF-8; \u escapes
            # keep the exact characters.
            encoded = json.dumps(record, ensure_ascii=True, allow_nan=False, sort_keys=True)
            size = len(encoded)
        if size > self.max_run_bytes:
            raise LimitError(
                f"This run is {size:,} bytes; saved runs are limited to {self.max_run_bytes:,} "
                "bytes. Use a shorter prompt or fewer variants, then save again.",
                field="run",
            )
        digest = content_hash(kind, record)
        run_id = secrets.token_urlsafe(24)
        created_at = datetime.now(UTC).isoformat(timespec="microseconds")
        # A shutdown (SIGTERM) refuses new saves and waits for this one to commit.
        with shutdown.save_guard(), self.connect() as conn:
            conn.execute("BEGIN IMMEDIATE")
            try:
                same = conn.execute(
                    "SELECT id FROM runs WHERE owner = ? AND content_hash = ? AND kind = ?"
                    " ORDER BY rowid LIMIT 1",
                    (owner, digest, kind),
                ).fetchone()
                if same is not None:
                    conn.execute("COMMIT")
                    return str(same[0])
                check_owner_limits(conn, owner, size, now=self.clock(),
                                   saves_per_minute=self.saves_per_minute,
                                   max_owner_runs=self.max_owner_runs,
                                   max_owner_bytes=self.max_owner_bytes)
                total = conn.execute("SELECT COALESCE(SUM(size), 0) FROM runs").fetchone()[0]
                if total + size > self.max_total_bytes:
                    raise LimitError(
                        f"The saved-runs store is full ({total:,} of {self.max_total_bytes:,} "
                        "bytes used). Delete some of your saved runs, or ask the server's "
                        "administrator to raise the limit.",
                        field="run",
                    )
                conn.execute(
                    "INSERT INTO runs (id, kind, title, owner, created_at, model, size, record,"
                    " content_hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (run_id, kind, title, owner, created_at, _record_model(record), size, encoded,
                     digest),
                )
                conn.execute("INSERT INTO saves (owner, saved_at) VALUES (?, ?)",
                             (owner, self.clock()))
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
        return run_id

    def get(self, run_id: str) -> SavedRun | None:
        """The run with this id, or None (unknown or malformed ids never reach SQL)."""
        if not is_valid_run_id(run_id):
            return None
        with self.connect() as conn:
            row = conn.execute(
                "SELECT id, kind, title, owner, created_at, record FROM runs WHERE id = ?",
                (run_id,),
            ).fetchone()
        if row is None:
            return None
        try:
            record = json.loads(row[5])
        except ValueError:
            return None
        if not isinstance(record, dict):
            return None
        return SavedRun(
            id=row[0], kind=row[1], title=row[2], owner=row[3], created_at=row[4], record=record
        )

    def list_for_owner(self, owner: str) -> list[RunSummary]:
        """The owner's runs, newest first (never anyone else's)."""
        if not isinstance(owner, str) or not owner:
            return []
        with self.connect() as conn:
            rows = conn.execute(
                "SELECT id, kind, title, created_at, model FROM runs WHERE owner = ?"
                " ORDER BY created_at DESC, rowid DESC",
                (owner,),
            ).fetchall()
        return [RunSummary(*row) for row in rows]

    def rename(self, run_id: str, *, owner: str, title: str) -> bool:
        """Change the title of the owner's run; False if there is no such run of theirs."""
        if not is_valid_run_id(run_id):
            return False
        title = _clean_title(title)
        with self.connect() as conn:
            cur = conn.execute(
                "UPDATE runs SET title = ? WHERE id = ? AND owner = ?", (title, run_id, owner)
            )
            return cur.rowcount == 1

    def delete(self, run_id: str, *, owner: str) -> bool:
        """Delete the owner's run and, with it, its notes (a trigger: lib/notes.py); False if
        there is no such run of theirs."""
        if not is_valid_run_id(run_id):
            return False
        with self.connect() as conn:
            cur = conn.execute("DELETE FROM runs WHERE id = ? AND owner = ?", (run_id, owner))
            return cur.rowcount == 1

    def reassign_owner(self, old_owner: str, new_owner: str) -> int:
        """Hand every run of `old_owner` to `new_owner` (one transaction); returns how many.

        Used once per sign-in to move runs that earlier releases keyed by a verified e-mail
        ("user:<e-mail>") to the issuer + subject key. Runs keyed by an unverified e-mail, or
        by the lower-cased `sub` of users without an e-mail, stay where they are (the original
        `sub` cannot be recovered from them); an administrator can move them with this method.
        """
        old_owner, new_owner = _check_owner(old_owner), _check_owner(new_owner)
        if old_owner == new_owner:
            return 0
        with self.connect() as conn:
            cur = conn.execute("UPDATE runs SET owner = ? WHERE owner = ?", (new_owner, old_owner))
            return int(cur.rowcount)

    def usage(self) -> tuple[int, int]:
        """(number of runs, bytes of records) in the whole store."""
        with self.connect() as conn:
            count, total = conn.execute(
                "SELECT COUNT(*), COALESCE(SUM(size), 0) FROM runs"
            ).fetchone()
        return int(count), int(total)


def default_store() -> RunStore:
    """The server's store: `<STUDIO_DATA_DIR>/runs.sqlite3`, limits from the environment."""
    return RunStore(
        data_dir() / "runs.sqlite3",
        max_run_bytes=limit_from_env(MAX_RUN_BYTES_ENV, DEFAULT_MAX_RUN_BYTES),
        max_total_bytes=limit_from_env(MAX_TOTAL_BYTES_ENV, DEFAULT_MAX_TOTAL_BYTES),
        max_owner_bytes=limit_from_env(MAX_OWNER_BYTES_ENV, DEFAULT_MAX_OWNER_BYTES),
        max_owner_runs=limit_from_env(MAX_OWNER_RUNS_ENV, DEFAULT_MAX_OWNER_RUNS),
        saves_per_minute=limit_from_env(SAVES_PER_MINUTE_ENV, DEFAULT_SAVES_PER_MINUTE),
    )
