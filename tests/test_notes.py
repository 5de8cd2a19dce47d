"""Reviewer notes on saved runs (lib/notes.py): append-only, retraction by the author only."""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path

import pytest

from lib.errors import InputError, LimitError
from lib.notes import (
    MAX_LABEL_CHARS,
    MAX_NOTE_CHARS,
    VERDICT_IDS,
    NoteStore,
    default_notes,
    latest_verdict,
    may_write,
    verdict_label,
)
from lib.runs import SCHEMA_VERSION, RunStore
from tests.hostile_corpus import BIDI_TRICK, EMOJI, active_text, invisible_payload

ALICE, BOB = "anon:" + "a" * 24, "oidc:" + "b" * 40
FIXTURES = Path(__file__).parent / "fixtures"
V2_DB = FIXTURES / "runs-schema-v2.sqlite3"
V2_EXPECTED = FIXTURES / "runs-schema-v2.expected.json"


class FakeClock:
    def __init__(self, t: float = 1_800_000_000.0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


@pytest.fixture
def clock():
    return FakeClock()


@pytest.fixture
def runs(tmp_path, clock):
    return RunStore(tmp_path / "runs.sqlite3", clock=clock)


@pytest.fixture
def notes(runs):
    return NoteStore(runs)


@pytest.fixture
def run_id(runs):
    return runs.save({"model": "tiny", "prompt": "p"}, owner=ALICE, title="shared")


def _sql(store: RunStore, statement: str, *args: object) -> None:
    conn = sqlite3.connect(store.path, isolation_level=None)
    try:
        conn.execute(statement, args)
    finally:
        conn.close()


def test_add_and_read_a_thread(notes, run_id, clock):
    first = notes.add(run_id, author=BOB, author_label="  Bob\nthe   reviewer ", text="Fine.",
                      verdict="looks_right")
    clock.t += 1
    second = notes.add(run_id, author=ALICE, author_label="Alice", text="Hmm", verdict=None)
    thread = notes.thread(run_id, viewer=ALICE)
    assert [n.id for n in thread] == [first, second]
    assert thread[0].author_label == "Bob the reviewer"  # one line
    assert (thread[0].text, thread[0].verdict, thread[0].mine) == ("Fine.", "looks_right", False)
    assert thread[1].mine and not thread[1].retracted
    assert thread[0].created_at < thread[1].created_at
    assert not hasattr(thread[0], "author")  # the owner key never leaves the store
    assert latest_verdict(thread) == "looks_right"
    assert notes.thread(run_id) and not any(n.mine for n in notes.thread(run_id))


def test_hostile_text_round_trips_unchanged(notes, run_id):
    text = "\n".join([active_text(), invisible_payload(), EMOJI, BIDI_TRICK,
                      "'); DROP TABLE notes; --"])[:MAX_NOTE_CHARS]
    label = "<img src=x onerror=alert(1)>"[:MAX_LABEL_CHARS]
    notes.add(run_id, author="'); DROP TABLE runs; --", author_label=label, text=text)
    (note,) = notes.thread(run_id)
    assert note.text == text and note.author_label == label
    assert notes.audit(run_id)[0]["text"] == text


def test_notes_are_append_only_at_the_database_level(notes, runs, run_id):
    note = notes.add(run_id, author=BOB, author_label="Bob", text="original")
    for statement in ("UPDATE notes SET text = 'forged' WHERE id = ?",
                      "UPDATE notes SET verdict = 'looks_right' WHERE id = ?",
                      "UPDATE notes SET author = 'anon:mallory' WHERE id = ?",
                      "DELETE FROM notes WHERE id = ?"):
        with pytest.raises(sqlite3.IntegrityError, match="append-only"):
            _sql(runs, statement, note)
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        _sql(runs, "UPDATE notes SET retracts = id")  # even a forged retraction
    assert notes.thread(run_id)[0].text == "original"


def test_only_the_author_may_retract(notes, run_id, clock):
    note = notes.add(run_id, author=BOB, author_label="Bob", text="wrong run", verdict="unclear")
    with pytest.raises(InputError, match="Only a note's author"):
        notes.retract(run_id, note, author=ALICE)  # the run's owner is not the note's author
    assert not notes.thread(run_id)[0].retracted and len(notes.audit(run_id)) == 1
    clock.t += 5
    retraction = notes.retract(run_id, note, author=BOB)
    (shown,) = notes.thread(run_id, viewer=BOB)
    assert shown.retracted and shown.text == "wrong run"  # kept in the audit, marked
    assert latest_verdict([shown]) is None
    audit = notes.audit(run_id)
    assert [r["id"] for r in audit] == [note, retraction]
    assert audit[1] == {"id": retraction, "author_label": "Bob", "created_at": audit[1][
        "created_at"], "verdict": None, "text": "", "retracts": note}
    assert set(audit[0]) == {"id", "author_label", "created_at", "verdict", "text", "retracts"}
    with pytest.raises(InputError, match="retracted already"):
        notes.retract(run_id, note, author=BOB)
    with pytest.raises(InputError, match="no such note"):
        notes.retract(run_id, retraction, author=BOB)  # a retraction is not retractable
    with pytest.raises(InputError, match="no such note"):
        notes.retract(run_id, 9_999, author=BOB)


def test_the_database_refuses_a_forged_retraction(notes, runs, run_id):
    note = notes.add(run_id, author=BOB, author_label="Bob", text="mine")
    with pytest.raises(sqlite3.IntegrityError, match="only its author"):
        _sql(runs, "INSERT INTO notes (run_id, author, author_label, created_at, text, retracts)"
                   " VALUES (?, ?, 'Bob', 'x', '', ?)", run_id, ALICE, note)
    with pytest.raises(sqlite3.IntegrityError, match="existing run"):
        _sql(runs, "INSERT INTO notes (run_id, author, author_label, created_at, text)"
                   " VALUES ('A' || hex(randomblob(16)), ?, 'x', 'x', 'x')", BOB)
    notes.retract(run_id, note, author=BOB)
    with pytest.raises(sqlite3.IntegrityError):  # at most one retraction per note
        _sql(runs, "INSERT INTO notes (run_id, author, author_label, created_at, text, retracts)"
                   " VALUES (?, ?, 'Bob', 'x', '', ?)", run_id, BOB, note)


def test_latest_verdict_skips_retracted_notes(notes, run_id, clock):
    a = notes.add(run_id, author=BOB, author_label="Bob", text="", verdict="model_problem")
    clock.t += 1
    notes.add(run_id, author=ALICE, author_label="Al", text="no verdict here")
    assert latest_verdict(notes.thread(run_id)) == "model_problem"
    clock.t += 1
    b = notes.add(run_id, author=ALICE, author_label="Al", text="x", verdict="needs_prompt_change")
    assert latest_verdict(notes.thread(run_id)) == "needs_prompt_change"
    notes.retract(run_id, b, author=ALICE)
    assert latest_verdict(notes.thread(run_id)) == "model_problem"
    notes.retract(run_id, a, author=BOB)
    assert latest_verdict(notes.thread(run_id)) is None
    assert verdict_label("needs_prompt_change") == "Needs a prompt change"
    assert verdict_label(None) == "" and len(VERDICT_IDS) == 4


def test_summaries_for_the_runs_owner(notes, runs, run_id, clock):
    other = runs.save({"other": 1}, owner=ALICE, title="quiet")
    bobs = runs.save({"bob": 1}, owner=BOB, title="bob's")
    notes.add(run_id, author=BOB, author_label="Bob", text="1", verdict="looks_right")
    clock.t += 1
    gone = notes.add(run_id, author=BOB, author_label="Bob", text="2", verdict="unclear")
    notes.add(bobs, author=BOB, author_label="Bob", text="3")
    notes.retract(run_id, gone, author=BOB)
    summary = notes.summaries_for_owner(ALICE)
    assert set(summary) == {run_id} and other not in summary
    assert (summary[run_id].count, summary[run_id].verdict) == (1, "looks_right")
    assert notes.summaries_for_owner("") == {}


@pytest.mark.parametrize(("kwargs", "field", "fragment"), [
    ({"text": "x" * (MAX_NOTE_CHARS + 1)}, "note", "2,001 characters long; the limit is 2,000"),
    ({"author_label": "n" * (MAX_LABEL_CHARS + 1)}, "display_name", "the limit is 60"),
    ({"author_label": " \n "}, "display_name", "Type a display name"),
    ({"text": "  \n"}, "note", "type a note or choose a verdict"),
    ({"verdict": "great"}, "verdict", "Unknown verdict"),
    ({"text": "bad \ud800 half"}, "note", "lone surrogate"),
    ({"author": ""}, "author", "no valid author"),
])
def test_limits_and_bad_fields_name_the_field(notes, run_id, kwargs, field, fragment):
    args = {"author": BOB, "author_label": "Bob", "text": "ok", "verdict": None, **kwargs}
    with pytest.raises(InputError) as err:
        notes.add(run_id, **args)
    assert err.value.field == field and fragment in str(err.value)
    assert notes.audit(run_id) == []


def test_a_verdict_alone_is_a_note(notes, run_id):
    notes.add(run_id, author=BOB, author_label="Bob", text="", verdict="looks_right")
    assert notes.thread(run_id)[0].verdict == "looks_right"
    notes.add(run_id, author=BOB, author_label="Bob", text="x" * MAX_NOTE_CHARS)


def test_rate_limit_per_author_is_kept_in_the_store(runs, run_id, clock):
    notes = NoteStore(runs, notes_per_minute=3)
    ids = [notes.add(run_id, author=BOB, author_label="Bob", text=str(i)) for i in range(3)]
    with pytest.raises(LimitError) as err:
        notes.add(run_id, author=BOB, author_label="Bob", text="one more")
    assert err.value.field == "note" and "3 notes a minute" in str(err.value)
    assert "Wait a minute" in str(err.value)
    notes.add(run_id, author=ALICE, author_label="Al", text="others are not held back")
    notes.retract(run_id, ids[0], author=BOB)  # retracting is never held back
    # A second process (a fresh store on the same file) sees the same count.
    again = NoteStore(RunStore(runs.path, clock=clock), notes_per_minute=3)
    with pytest.raises(LimitError, match="notes a minute"):
        again.add(run_id, author=BOB, author_label="Bob", text="x")
    clock.t += 61
    again.add(run_id, author=BOB, author_label="Bob", text="after a minute")


def test_thread_size_limit(runs, run_id):
    notes = NoteStore(runs, notes_per_minute=100, max_notes_per_run=2)
    first = notes.add(run_id, author=BOB, author_label="Bob", text="1")
    notes.add(run_id, author=ALICE, author_label="Al", text="2")
    with pytest.raises(LimitError, match="limit is 2 notes a run"):
        notes.add(run_id, author=BOB, author_label="Bob", text="3")
    notes.retract(run_id, first, author=BOB)  # still possible on a full thread


def test_notes_only_on_existing_runs(notes, run_id):
    for bad in ("A" * 32, "short", None):
        with pytest.raises(InputError) as err:
            notes.add(bad, author=BOB, author_label="Bob", text="x")
        assert err.value.field == "run" and "no longer exists" in str(err.value)
    assert notes.thread("A" * 32) == [] and notes.thread("../x") == []


def test_deleting_a_run_deletes_its_notes(notes, runs, run_id):
    other = runs.save({"other": 1}, owner=ALICE, title="kept")
    notes.add(run_id, author=BOB, author_label="Bob", text="goes")
    kept = notes.add(other, author=BOB, author_label="Bob", text="stays")
    assert runs.delete(run_id, owner=BOB) is False  # a note's author cannot delete the run
    assert len(notes.audit(run_id)) == 1
    assert runs.delete(run_id, owner=ALICE)
    assert notes.audit(run_id) == []
    assert [n.id for n in notes.thread(other)] == [kept]
    with pytest.raises(InputError, match="no longer exists"):
        notes.add(run_id, author=BOB, author_label="Bob", text="late")


def test_who_may_write():
    assert may_write(sign_in_on=False, signed_in=False)
    assert may_write(sign_in_on=True, signed_in=True)
    assert not may_write(sign_in_on=True, signed_in=False)


def test_default_notes_rate_limit_from_env(tmp_path, monkeypatch):
    from lib.errors import StudioError

    monkeypatch.setenv("STUDIO_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("STUDIO_NOTES_PER_MINUTE", "4")
    assert default_notes().notes_per_minute == 4
    monkeypatch.setenv("STUDIO_NOTES_PER_MINUTE", "none")
    with pytest.raises(StudioError, match="STUDIO_NOTES_PER_MINUTE"):
        default_notes()


# ---- upgrade: a database of today's schema (2, before notes) -----------------------------
def _v2_copy(tmp_path: Path) -> Path:
    path = tmp_path / "runs.sqlite3"
    shutil.copyfile(V2_DB, path)  # never open the fixture in place: opening migrates it
    return path


def _raw(path: Path, table: str) -> list[tuple]:
    conn = sqlite3.connect(path)
    try:
        return conn.execute(f"SELECT * FROM {table} ORDER BY rowid").fetchall()
    finally:
        conn.close()


def test_v2_fixture_is_really_schema_2(tmp_path):
    path = _v2_copy(tmp_path)
    conn = sqlite3.connect(path)
    try:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == 2
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    finally:
        conn.close()
    assert {"runs", "saves"} <= tables and "notes" not in tables


def test_v2_database_upgrades_with_runs_intact_and_takes_notes(tmp_path, clock):
    expected = json.loads(V2_EXPECTED.read_text())
    path = _v2_copy(tmp_path)
    runs_before, saves_before = _raw(path, "runs"), _raw(path, "saves")
    store = RunStore(path, clock=clock)
    assert store.schema_version() == SCHEMA_VERSION == 3
    assert _raw(path, "runs") == runs_before and _raw(path, "saves") == saves_before
    for row in expected["runs"]:
        run = store.get(row["id"])
        assert run is not None, row["id"]
        assert (run.kind, run.title, run.owner, run.created_at, run.record) == (
            row["kind"], row["title"], row["owner"], row["created_at"], row["record"])
    # Re-sharing an old run still finds it (its content hash survived the upgrade).
    first = expected["runs"][0]
    assert store.save(first["record"], owner=first["owner"], title="again",
                      kind=first["kind"]) == first["id"]
    # Notes work on the old runs, append-only included.
    notes = NoteStore(store)
    note = notes.add(first["id"], author=BOB, author_label="Bob", text="<b>old</b> run",
                     verdict="looks_right")
    with pytest.raises(InputError, match="Only a note's author"):
        notes.retract(first["id"], note, author=first["owner"])
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        _sql(store, "UPDATE notes SET text = 'x'")
    assert notes.summaries_for_owner(first["owner"])[first["id"]].verdict == "looks_right"
    assert store.delete(first["id"], owner=first["owner"]) and notes.audit(first["id"]) == []
    # Opening it again migrates nothing.
    assert RunStore(path).schema_version() == SCHEMA_VERSION
