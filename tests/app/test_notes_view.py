"""Reviewer notes on a restored run: add, retract, hostile text inert, on the page, Saved runs,
the Limits panel and the exports. Runs are opened from a link with model work forbidden."""

from __future__ import annotations

import json
import secrets
from pathlib import Path

import pytest

from tests.app.conftest import errors, make_app, no_crash
from tests.hostile_corpus import ACTIVE, BIDI_TRICK, active_text

pytestmark = pytest.mark.usefixtures("studio_env")
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
SHARER = "anon:" + "s" * 24  # who shared the run (another browser)
HOSTILE = (active_text() + "\n" + BIDI_TRICK)[:2000]


@pytest.fixture
def no_model_work(monkeypatch):  # noqa: ANN201
    from lib import pipeline

    def boom(*a, **k):
        raise AssertionError("model work while showing a saved run")

    for name in ("generate", "salience", "salience_batch"):
        monkeypatch.setattr(pipeline, name, boom)


@pytest.fixture
def me(monkeypatch):  # noqa: ANN201
    """This browser's cookie (AppTest cannot send one): a new anonymous owner for each test
    (the rate limit counts an author's notes of the last minute)."""
    from lib.ui import owner as owner_mod

    anon = secrets.token_urlsafe(18)
    monkeypatch.setattr(owner_mod, "request_cookies", lambda: {"studio_owner": anon})
    return "anon:" + anon


def _shared(name: str, kind: str) -> str:
    from lib.runs import default_store

    record = json.loads((FIXTURES / name).read_text(encoding="utf-8"))
    record["nonce"] = secrets.token_hex(8)  # a new run each time (a re-share is the same run)
    return default_store().save(record, owner=SHARER, title="shared", kind=kind)


def _open(run_id: str, page: str = "app.py"):
    at = make_app(page)
    at.query_params["run"] = run_id
    at.run()
    no_crash(at)
    return at


def _bodies(at) -> str:
    """Everything the page hands to an HTML or Markdown renderer."""
    parts = [h.proto.body for h in at.get("html")]
    for kind in ("markdown", "caption", "error", "info", "warning", "success"):
        parts += [e.value for e in getattr(at, kind)]
    return "\n".join(parts)


def _notes_html(at) -> str:
    return "\n".join(h.proto.body for h in at.get("html") if "studio-note" in h.proto.body)


def _add(at, prefix: str, text: str, verdict: str = "", name: str | None = "Rev <b>"):
    if name is not None:
        at.text_input(key=f"{prefix}_note_name").input(name)
    at.selectbox(key=f"{prefix}_note_verdict").set_value(verdict)
    at.text_area(key=f"{prefix}_note_text").input(text)
    at.button(key=f"{prefix}_note_add").click().run()
    no_crash(at)


def test_add_and_retract_a_note_with_hostile_text_on_debug(no_model_work, me):
    from lib.notes import default_notes

    run_id = _shared("saved_run_debug_v1.json", "debug")
    at = _open(run_id)
    assert not errors(at)
    assert not at.button(key="dbg_note_add").disabled
    _add(at, "dbg", HOSTILE, "model_problem")
    assert not errors(at)
    (note,) = default_notes().thread(run_id, viewer=me)
    assert note.text == HOSTILE and note.author_label == "Rev <b>" and note.mine
    html = _notes_html(at)
    assert 'class="studio-note"' in html and "Model problem" in html
    # Inert: the markup is text (escaped), in the notes and everywhere else on the page.
    body = _bodies(at)
    for payload in ACTIVE:
        if payload.text.startswith("<"):
            assert payload.text not in body, payload.id
    assert "<script" not in body.lower() and "<img" not in body.lower()
    assert "&lt;script&gt;" in html and "Rev &lt;b&gt;" in html
    assert "invisible-char" in html  # the bidi override shows as a marker
    # The form is cleared, the display name remembered.
    assert at.text_area(key="dbg_note_text").value == ""
    assert at.selectbox(key="dbg_note_verdict").value == ""  # "No verdict", not a placeholder
    assert at.text_input(key="dbg_note_name").value == "Rev <b>"
    assert at.session_state["notes_display_name"] == "Rev <b>"
    assert "Latest verdict: Model problem" in " ".join(c.value for c in at.caption)

    at.button(key=f"dbg_note_retract_{note.id}").click().run()
    no_crash(at)
    (note,) = default_notes().thread(run_id, viewer=me)
    assert note.retracted
    html = _notes_html(at)
    assert "studio-note retracted" in html and "&lt;script&gt;" in html  # still in the thread
    assert not [b for b in at.button if b.key == f"dbg_note_retract_{note.id}"]
    assert "No verdict yet" in " ".join(c.value for c in at.caption)


def test_someone_elses_note_has_no_retract_button_and_shows_no_owner_key(no_model_work, me):
    from lib.notes import default_notes

    run_id = _shared("saved_run_debug_v1.json", "debug")
    theirs = default_notes().add(run_id, author=SHARER, author_label="Sharer", text="mine",
                                 verdict="looks_right")
    at = _open(run_id)
    assert "Sharer" in _notes_html(at) and "Looks right" in _notes_html(at)
    assert not [b for b in at.button if b.key == f"dbg_note_retract_{theirs}"]
    assert SHARER not in _bodies(at) and "s" * 24 not in _bodies(at)


def test_errors_keep_what_was_typed(no_model_work, me, monkeypatch):
    run_id = _shared("saved_run_debug_v1.json", "debug")
    at = _open(run_id)
    _add(at, "dbg", "a note", name="   ")
    assert any("Type a display name" in e for e in errors(at)), errors(at)
    assert at.text_area(key="dbg_note_text").value == "a note"
    monkeypatch.setenv("STUDIO_NOTES_PER_MINUTE", "1")
    _add(at, "dbg", "first", name="Rev")
    assert not errors(at)
    _add(at, "dbg", "second, too soon", "unclear", name=None)
    assert any("1 notes a minute" in e and "your text is kept" in e for e in errors(at))
    assert at.text_area(key="dbg_note_text").value == "second, too soon"
    assert at.selectbox(key="dbg_note_verdict").value == "unclear"


def test_compare_run_takes_notes_too(no_model_work, me):
    from lib.notes import default_notes

    run_id = _shared("saved_run_compare_v1.json", "compare")
    at = _open(run_id, "app_pages/compare.py")
    assert not errors(at)
    _add(at, "cmp", "variant 2 reads better", "needs_prompt_change", name="Cmp reviewer")
    assert not errors(at)
    assert [n.text for n in default_notes().thread(run_id)] == ["variant 2 reads better"]
    assert "Needs a prompt change" in _notes_html(at)


def test_an_unsaved_view_has_no_notes(me):
    at = make_app()
    at.run()
    no_crash(at)
    assert not [b for b in at.button if b.key == "dbg_note_add"]


def test_with_sign_in_only_signed_in_users_write(no_model_work, me, monkeypatch):
    from lib.ui import notes_view

    run_id = _shared("saved_run_debug_v1.json", "debug")
    monkeypatch.setattr(notes_view, "auth_configured", lambda: True)
    monkeypatch.setattr(notes_view, "signed_in", lambda: False)
    at = _open(run_id)
    assert not [b for b in at.button if b.key == "dbg_note_add"]
    assert any("signed-in users only" in i.value for i in at.info)


def test_saved_runs_page_shows_count_and_latest_verdict(monkeypatch):
    from lib.notes import default_notes
    from lib.ui import owner as owner_mod

    owner = "o" * 24
    monkeypatch.setattr(owner_mod, "request_cookies", lambda: {"studio_owner": owner})
    from lib.runs import default_store

    mine = default_store().save({"model": "tiny", "n": secrets.token_hex(8)},
                                owner="anon:" + owner, title="with notes")
    default_notes().add(mine, author=SHARER, author_label="A", text="x", verdict="unclear")
    default_notes().add(mine, author=SHARER, author_label="A", text="y", verdict="looks_right")
    at = make_app("app_pages/runs.py")
    at.run()
    no_crash(at)
    captions = [c.value for c in at.caption]
    assert "2 notes · latest verdict: Looks right" in captions, captions


def test_limits_panel_states_who_may_write_notes():
    at = make_app()
    at.run()
    no_crash(at)
    text = " ".join(m.value for m in at.sidebar.markdown)
    assert "**2,000** characters each" in text and "display name **60**" in text
    assert "notes a minute per author" in text
    assert "Who may add notes: anyone who can open the run's link" in text


def test_report_and_json_export_carry_the_notes():
    from lib.notes import default_notes
    from lib.render import colour_scale
    from lib.segments import segment_scores, segment_sequence
    from lib.ui.share import report_builder, scores_json_builder
    from lib.view import view_from_record

    run_id = _shared("saved_run_debug_v1.json", "debug")
    notes = default_notes()
    kept = notes.add(run_id, author=SHARER, author_label="<i>Sharer</i>", text=HOSTILE,
                     verdict="looks_right")
    gone = notes.add(run_id, author=SHARER, author_label="Sharer", text="withdrawn",
                     verdict="model_problem")
    retraction = notes.retract(run_id, gone, author=SHARER)
    rec = json.loads((FIXTURES / "saved_run_debug_v1.json").read_text(encoding="utf-8"))
    view = view_from_record(rec, run_id=run_id)
    segs = segment_sequence(view.seq, "words")
    lo, hi = rec["ui"]["selection"]
    targets = sorted(t for s in segs if lo <= s.index <= hi for t in s.token_indices)
    vals = segment_scores(segs, view.score_for("grad_l2", targets))
    ui = dict(rec["ui"])
    html = report_builder(view, segs, vals, colour_scale(vals, False), "Grad L2", [lo], ui)()
    notes_part = html.split("<h2>Reviewer notes</h2>", 1)[1].split("<h2>Settings</h2>")[0]
    assert "Latest verdict: <strong>Looks right</strong>" in notes_part
    assert "&lt;i&gt;Sharer&lt;/i&gt;" in notes_part and "&lt;script&gt;" in notes_part
    assert "<script" not in html.lower() and "<i>" not in html
    assert 'studio-note retracted' in notes_part and "withdrawn" in notes_part
    data = json.loads(scores_json_builder(view, segs, vals, ui)())
    assert data["run_id"] == run_id and data["latest_verdict"] == "looks_right"
    assert [n["id"] for n in data["notes"]] == [kept, gone, retraction]
    assert data["notes"][0] == {"id": kept, "author_label": "<i>Sharer</i>", "verdict":
                                "looks_right", "text": HOSTILE, "retracts": None,
                                "created_at": data["notes"][0]["created_at"]}
    assert data["notes"][2]["retracts"] == gone
    assert SHARER not in json.dumps(data)  # labels only, never the owner key
    # An unsaved view's exports have no notes.
    view.run_id = None
    assert "notes" not in json.loads(scores_json_builder(view, segs, vals, ui)())
    assert "Reviewer notes" not in report_builder(view, segs, vals, colour_scale(vals, False),
                                                  "Grad L2", [lo], ui)()
