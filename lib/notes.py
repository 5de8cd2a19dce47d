"""Reviewer notes on saved runs: an append-only thread per run, with an optional verdict.

The run itself stays immutable; a note is a new row of the `notes` table (schema 3,
lib/runs_schema.py), never an edit. SQLite triggers make the table append-only at the database
level: no UPDATE of any note, no DELETE while its run exists. Only a note's author may retract
it, and a retraction is itself a row (`retracts` = the note's id); the retracted note keeps its
text in the thread and the exports, marked as retracted.

Deleting a run (its owner, on Saved runs) deletes its notes with it, in the same statement (a
trigger on `runs`): the thread is part of the run, a link to it stops working, and nothing is
left behind that nobody can open or account for.

Who may write is the UI's call (`may_write`): whoever can open the link, unless the server runs
with sign-in, where only signed-in users write. The author is the writer's owner key (the
signed-in identity or the browser's anonymous id); it is kept for the retraction check and the
rate limit and never shown: pages and exports show the author's label only.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from lib import shutdown
from lib.errors import InputError, LimitError
from lib.input_limits import check_chars
from lib.run_quotas import RATE_WINDOW_S, limit_from_env
from lib.runs import MAX_OWNER_CHARS, RunStore, default_store, is_valid_run_id
from lib.text_safety import escape_html, safe_html

# The fixed set of verdicts: (id kept in the store and the exports, label shown).
VERDICTS: tuple[tuple[str, str], ...] = (
    ("looks_right", "Looks right"),
    ("needs_prompt_change", "Needs a prompt change"),
    ("model_problem", "Model problem"),
    ("unclear", "Unclear"),
)
VERDICT_IDS: tuple[str, ...] = tuple(v for v, _ in VERDICTS)
MAX_NOTE_CHARS = 2_000
MAX_LABEL_CHARS = 60
MAX_NOTES_PER_RUN = 500  # notes (retractions aside) in one run's thread
DEFAULT_NOTES_PER_MINUTE = 10
NOTES_PER_MINUTE_ENV = "STUDIO_NOTES_PER_MINUTE"


def verdict_label(verdict: str | None) -> str:
    """The label of a verdict id ('' for none; an unknown id as itself)."""
    if verdict is None:
        return ""
    return dict(VERDICTS).get(verdict, verdict)


def may_write(*, sign_in_on: bool, signed_in: bool) -> bool:
    """Whoever can open the link writes, unless sign-in is on: then only signed-in users."""
    return signed_in or not sign_in_on


@dataclass(frozen=True)
class Note:
    """One note of a thread as anyone may see it (the author's owner key is not in it)."""

    id: int
    created_at: str
    author_label: str
    text: str
    verdict: str | None
    mine: bool  # written by the viewer the thread was read for (who may retract it)
    retracted_at: str | None = None

    @property
    def retracted(self) -> bool:
        return self.retracted_at is not None


@dataclass(frozen=True)
class NotesSummary:
    """What Saved runs shows of a run's thread."""

    count: int  # notes not retracted
    verdict: str | None  # the latest verdict of a note not retracted


def latest_verdict(thread: list[Note]) -> str | None:
    """The verdict of the newest note that has one and is not retracted."""
    for note in reversed(thread):
        if note.verdict is not None and not note.retracted:
            return note.verdict
    return None


def check_label(label: object) -> str:
    """The author's display name: one line, 1-60 characters."""
    text = check_chars(label, field="display_name", limit=MAX_LABEL_CHARS,
                       label="The display name", what="Shorten it")
    text = " ".join(text.split())
    if not text:
        raise InputError("Type a display name: it is shown with your note.",
                         field="display_name")
    return text


def check_note_text(text: object, verdict: str | None) -> str:
    """The note's text, kept exactly (hostile text is data); empty only with a verdict."""
    text = check_chars(text, field="note", limit=MAX_NOTE_CHARS, label="The note",
                       what="Shorten it")
    if not text.strip() and verdict is None:
        raise InputError("The note is empty: type a note or choose a verdict.", field="note")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise InputError("The note holds a character that is not valid text (a lone "
                         "surrogate); remove it and add the note again.", field="note") from None
    return text


def check_verdict(verdict: object) -> str | None:
    if verdict is None or verdict == "":
        return None
    if verdict not in VERDICT_IDS:
        raise InputError(f"Unknown verdict {str(verdict)[:40]!r}; choose one of: "
                         + ", ".join(label for _, label in VERDICTS) + ".", field="verdict")
    return str(verdict)


def _check_author(author: object) -> str:
    if not isinstance(author, str) or not author or len(author) > MAX_OWNER_CHARS:
        raise InputError("The note has no valid author; sign in again or reload.",
                         field="author")
    return author


def _missing_run() -> InputError:
    return InputError("This run no longer exists (its owner may have deleted it), so the "
                      "note was not added.", field="run")


class NoteStore:
    """The notes of the runs in one `RunStore` (same file, same connections and clock)."""

    def __init__(self, runs: RunStore, *, notes_per_minute: int = DEFAULT_NOTES_PER_MINUTE,
                 max_notes_per_run: int = MAX_NOTES_PER_RUN) -> None:
        self.runs = runs
        self.notes_per_minute = int(notes_per_minute)
        self.max_notes_per_run = int(max_notes_per_run)

    @staticmethod
    def _stamp(t: float) -> str:
        """A time as stored: ISO 8601 in UTC, fixed width, so text order is time order."""
        return datetime.fromtimestamp(t, UTC).isoformat(timespec="microseconds")

    def add(self, run_id: str, *, author: str, author_label: str, text: str,
            verdict: str | None = None) -> int:
        """Append a note to the run's thread; returns its id.

        InputError names the field that is wrong (display_name, note, verdict, run);
        LimitError the limit it passes (its length, the author's notes a minute, the thread's
        size). Nothing is written then.
        """
        author = _check_author(author)
        label = check_label(author_label)
        verdict = check_verdict(verdict)
        text = check_note_text(text, verdict)
        if not is_valid_run_id(run_id):
            raise _missing_run()
        t = float(self.runs.clock())
        created_at = self._stamp(t)
        with shutdown.save_guard(), self.runs.connect() as conn:
            conn.execute("BEGIN IMMEDIATE")
            try:
                if conn.execute("SELECT 1 FROM runs WHERE id = ?", (run_id,)).fetchone() is None:
                    raise _missing_run()
                recent = conn.execute(
                    "SELECT COUNT(*) FROM notes WHERE author = ? AND retracts IS NULL"
                    " AND created_at >= ?", (author, self._stamp(t - RATE_WINDOW_S)),
                ).fetchone()[0]
                if recent >= self.notes_per_minute:
                    raise LimitError(
                        f"You have added {recent} notes in the last minute; the limit is "
                        f"{self.notes_per_minute} notes a minute. Wait a minute, then press "
                        "Add note again (your text is kept).", field="note")
                count = conn.execute(
                    "SELECT COUNT(*) FROM notes WHERE run_id = ? AND retracts IS NULL",
                    (run_id,)).fetchone()[0]
                if count >= self.max_notes_per_run:
                    raise LimitError(
                        f"This run already has {count:,} notes; the limit is "
                        f"{self.max_notes_per_run:,} notes a run, so its thread is full; "
                        "nothing was added.", field="note")
                cur = conn.execute(
                    "INSERT INTO notes (run_id, author, author_label, created_at, text, verdict,"
                    " retracts) VALUES (?, ?, ?, ?, ?, ?, NULL)",
                    (run_id, author, label, created_at, text, verdict))
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
        return int(cur.lastrowid)

    def retract(self, run_id: str, note_id: int, *, author: str) -> int:
        """Retract one of the author's own notes (a new row under the note's label); returns
        the retraction's id.

        Refused (InputError, nothing written) for someone else's note, a retraction, a note
        retracted already or one that is not in this run's thread.
        """
        author = _check_author(author)
        if not is_valid_run_id(run_id) or not isinstance(note_id, int):
            raise InputError("There is no such note in this run's thread.", field="note")
        created_at = self._stamp(float(self.runs.clock()))
        with shutdown.save_guard(), self.runs.connect() as conn:
            conn.execute("BEGIN IMMEDIATE")
            try:
                row = conn.execute(
                    "SELECT author, retracts, (SELECT COUNT(*) FROM notes r WHERE r.retracts"
                    " = n.id), author_label FROM notes n WHERE id = ? AND run_id = ?",
                    (note_id, run_id),
                ).fetchone()
                if row is None or row[1] is not None:
                    raise InputError("There is no such note in this run's thread.",
                                     field="note")
                if row[0] != author:
                    raise InputError("Only a note's author may retract it; this note is "
                                     "someone else's.", field="note")
                if row[2]:
                    raise InputError("This note is retracted already.", field="note")
                cur = conn.execute(
                    "INSERT INTO notes (run_id, author, author_label, created_at, text, verdict,"
                    " retracts) VALUES (?, ?, ?, ?, '', NULL, ?)",
                    (run_id, author, row[3], created_at, note_id))
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
        return int(cur.lastrowid)

    def _rows(self, run_id: str) -> list[tuple]:
        if not is_valid_run_id(run_id):
            return []
        with self.runs.connect() as conn:
            return conn.execute(
                "SELECT id, author, author_label, created_at, text, verdict, retracts"
                " FROM notes WHERE run_id = ? ORDER BY id", (run_id,)).fetchall()

    def thread(self, run_id: str, *, viewer: str | None = None) -> list[Note]:
        """The run's notes, oldest first, retracted ones marked; `mine` is set on the viewer's
        own notes (the owner key itself never leaves this module)."""
        rows = self._rows(run_id)
        retracted = {r[6]: r[3] for r in rows if r[6] is not None}
        return [Note(id=int(r[0]), created_at=r[3], author_label=r[2], text=r[4], verdict=r[5],
                     mine=viewer is not None and r[1] == viewer,
                     retracted_at=retracted.get(r[0]))
                for r in rows if r[6] is None]

    def audit(self, run_id: str) -> list[dict]:
        """Every row of the run's thread, retractions included, for the JSON export:
        {id, author_label, created_at, verdict, text, retracts}."""
        return [{"id": int(r[0]), "author_label": r[2], "created_at": r[3], "verdict": r[5],
                 "text": r[4], "retracts": r[6]} for r in self._rows(run_id)]

    def summaries_for_owner(self, owner: str) -> dict[str, NotesSummary]:
        """Note count and latest verdict of each of the owner's runs that has notes."""
        if not isinstance(owner, str) or not owner:
            return {}
        live = "m.retracts IS NULL AND NOT EXISTS (SELECT 1 FROM notes r WHERE r.retracts = m.id)"
        with self.runs.connect() as conn:
            rows = conn.execute(
                f"SELECT m.run_id, COUNT(*), (SELECT v.verdict FROM notes v WHERE v.run_id ="
                f" m.run_id AND v.verdict IS NOT NULL AND v.retracts IS NULL AND NOT EXISTS"
                f" (SELECT 1 FROM notes r WHERE r.retracts = v.id) ORDER BY v.id DESC LIMIT 1)"
                f" FROM notes m WHERE m.run_id IN (SELECT id FROM runs WHERE owner = ?)"
                f" AND {live} GROUP BY m.run_id", (owner,)).fetchall()
        return {r[0]: NotesSummary(int(r[1]), r[2]) for r in rows}


# ---- display: static HTML, every piece of text escaped (the page and the HTML report) -------
NOTES_CSS = """
.studio-notes { margin: 0; }
.studio-note { border: 1px solid #ddd; border-radius: 6px; padding: .5rem .7rem; margin: .4rem 0; }
.studio-note .note-head { font-size: .85em; color: #444; }
.studio-note .note-text { white-space: pre-wrap; overflow-wrap: anywhere; margin-top: .25rem; }
.studio-note.retracted .note-text { text-decoration: line-through; color: #666; }
""".strip()


def when(created_at: str) -> str:
    """'2026-12-02 03:47 UTC' from a stored time (the stored text if it is not one)."""
    try:
        return datetime.fromisoformat(created_at).astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
    except (TypeError, ValueError):
        return str(created_at)


def note_html(note: Note) -> str:
    """One note as an element: author label, time, verdict, text; retracted ones marked."""
    head = [f"<strong>{safe_html(note.author_label)}</strong>", escape_html(when(note.created_at))]
    if note.verdict is not None:
        head.append(f'verdict: <strong class="note-verdict">'
                    f"{safe_html(verdict_label(note.verdict))}</strong>")
    if note.retracted_at is not None:
        head.append(f"<em>retracted by its author on "
                    f"{escape_html(when(note.retracted_at))}</em>")
    cls = "studio-note retracted" if note.retracted else "studio-note"
    return (f'<div class="{cls}" data-note-id="{int(note.id)}"><div class="note-head">'
            + " · ".join(head) + f'</div><div class="note-text">{safe_html(note.text)}</div></div>')


def notes_section_html(thread: list[Note]) -> str:
    """The whole thread with its latest verdict (static HTML, no scripts, no links)."""
    if not thread:
        return "<p>No notes on this run yet.</p>"
    verdict = latest_verdict(thread)
    latest = (f"<p>Latest verdict: <strong>{safe_html(verdict_label(verdict))}</strong></p>"
              if verdict is not None else "<p>No verdict yet.</p>")
    return latest + '<div class="studio-notes">' + "".join(map(note_html, thread)) + "</div>"


def default_notes() -> NoteStore:
    """The server's notes: in the server's run store, the rate limit from the environment."""
    return NoteStore(default_store(),
                     notes_per_minute=limit_from_env(NOTES_PER_MINUTE_ENV,
                                                     DEFAULT_NOTES_PER_MINUTE))


__all__ = [
    "DEFAULT_NOTES_PER_MINUTE", "MAX_LABEL_CHARS", "MAX_NOTES_PER_RUN", "MAX_NOTE_CHARS",
    "NOTES_CSS", "NOTES_PER_MINUTE_ENV", "VERDICTS", "VERDICT_IDS", "Note", "NoteStore",
    "NotesSummary", "check_label", "check_note_text", "check_verdict", "default_notes",
    "latest_verdict", "may_write", "note_html", "notes_section_html", "verdict_label", "when",
]
