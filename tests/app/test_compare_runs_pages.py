"""Compare and Saved runs pages through AppTest on the tiny model."""

from __future__ import annotations

import pytest

from tests.app.conftest import errors, make_app, no_crash, overlay, overlays

pytestmark = pytest.mark.usefixtures("studio_env")


def test_compare_generates_three_columns_and_syncs_selection():
    at = make_app("app_pages/compare.py")
    at.run()
    no_crash(at)
    assert [at.selectbox(key=f"cmp_tpl_{i}").value for i in range(3)] == [
        "fewshot-mistake", "fewshot-fixed", "fewshot-constitution"]
    at.number_input(key="cmp_max_new").set_value(3)
    at.button(key="cmp_generate").click().run()
    no_crash(at)
    views = at.session_state["cmp_views"]
    assert len(views) == 3
    assert "Avoid." in views[1].prompt and "Avoid." not in views[0].prompt
    # The diff marks what the constitution variant added.
    assert any("<ins" in h.proto.body and "brief and to the point" in h.proto.body
               for h in at.get("html"))
    from lib.segments import segment_sequence

    out0 = [s for s in segment_sequence(views[0].seq, "lines") if not s.in_prompt]
    at.session_state["cmp_sel"] = (0, out0[0].index, out0[0].index)
    at.run()
    no_crash(at)
    columns = overlays(at)
    assert len(columns) == 3
    assert columns[0]["selected"] == [out0[0].index] * 2
    assert columns[0]["overlay"]["current"], "the clicked column's prompt is coloured"
    # The view lives in the URL like Debug's: granularity, method, column:segment.
    assert at.query_params["g"] == "lines" and at.query_params["m"] == "grad_l2"
    assert at.query_params["sel"] == f"0:{out0[0].index}"
    # Share the set as one link and reopen it.
    at.button(key="cmp_share").click().run()
    no_crash(at)
    run_id = at.session_state["cmp_run"]
    fresh = make_app("app_pages/compare.py")
    fresh.query_params["run"] = run_id
    fresh.run()
    no_crash(fresh)
    assert not errors(fresh)
    assert [v.seq for v in fresh.session_state["cmp_views"]] == [v.seq for v in views]
    assert fresh.session_state["cmp_sel"] == (0, out0[0].index, out0[0].index)
    assert fresh.query_params["run"] == run_id


def test_compare_url_selection_ranges_regex_and_palette():
    """sel=col:lo-hi from the URL selects a range in that column and the matching range in the
    others; regex granularity and the palette choice work on Compare too."""
    from lib.render import PALETTES
    from lib.segments import segment_sequence

    at = make_app("app_pages/compare.py")
    at.run()
    at.radio(key="cmp_n").set_value(2).run()
    # Two identical variants: every segment has an exact match in the other column.
    at.selectbox(key="cmp_tpl_1").set_value("fewshot-mistake").run()
    at.number_input(key="cmp_max_new").set_value(4)
    at.button(key="cmp_generate").click().run()
    no_crash(at)
    views = at.session_state["cmp_views"]
    out = [s for s in segment_sequence(views[0].seq, "words") if not s.in_prompt]
    assert len(out) >= 2
    lo, hi = out[0].index, out[1].index
    at.query_params.update({"g": "words", "sel": f"0:{lo}-{hi}"})
    at.run()
    no_crash(at)
    assert at.session_state["cmp_sel"] == (0, lo, hi)
    columns = overlays(at)
    assert len(columns) == 2
    for column in columns:  # both columns select (and outline) the whole range, coloured
        assert column["selected"] == [lo, hi]
        assert column["overlay"]["current"]
    before = overlay(at)
    diverging = [n for n, p in PALETTES.items() if not p.diverging]
    at.selectbox(key="cmp_palette").set_value(diverging[-1]).run()
    no_crash(at)
    assert overlay(at) == before  # numbers unchanged, colours from the chosen palette
    assert at.selectbox(key="cmp_palette").value == diverging[-1]

    at.selectbox(key="cmp_g").set_value("regex").run()
    at.text_input(key="cmp_pattern").set_value(r"[A-Za-z]+:").run()
    no_crash(at)
    assert at.query_params["g"] == "regex"
    at.text_input(key="cmp_pattern").set_value("(a+)+$").run()
    no_crash(at)  # a guarded pattern: an error or a result, never a hang or a traceback


def test_compare_hostile_selection_in_url_is_a_specific_error():
    at = make_app("app_pages/compare.py")
    at.query_params["sel"] = "x:1;DROP"
    at.run()
    no_crash(at)
    assert any("sel=" in e for e in errors(at)), errors(at)


def test_compare_link_with_unknown_run_says_so():
    at = make_app("app_pages/compare.py")
    at.query_params["run"] = "B" * 32
    at.run()
    no_crash(at)
    assert any("No saved run" in e for e in errors(at))


def test_saved_runs_lists_renames_and_deletes_only_own_runs(monkeypatch):
    from lib.runs import default_store
    from lib.ui import owner as owner_mod

    store = default_store()
    me, other = "anon:" + "m" * 24, "anon:" + "o" * 24
    mine = store.save({"model": {"name": "tiny"}}, owner=me, title="My <b>first</b> run")
    # A distinct record: identical records of one owner are one run.
    store.save({"model": {"name": "tiny"}, "n": 2}, owner=me, title="Second")
    theirs = store.save({"model": {"name": "tiny"}}, owner=other, title="Someone else's")

    # This browser's cookie (AppTest cannot send one, so the reader is patched).
    monkeypatch.setattr(owner_mod, "request_cookies", lambda: {"studio_owner": "m" * 24})
    at = make_app("app_pages/runs.py")
    at.run()
    no_crash(at)
    titles = [t.value for t in at.text_input]
    assert "My <b>first</b> run" in titles and "Second" in titles
    assert "Someone else's" not in titles
    at.text_input(key=f"runs_title_{mine}").set_value("Renamed")
    at.button(key=f"runs_rename_{mine}").click().run()
    no_crash(at)
    assert store.get(mine).title == "Renamed"
    at.button(key=f"runs_delete_{mine}").click().run()
    at.button(key=f"runs_yes_{mine}").click().run()
    no_crash(at)
    assert store.get(mine) is None
    assert store.get(theirs) is not None
    assert "Renamed" not in [t.value for t in at.text_input]


def test_app_shell_navigation_and_sidebar_model():
    at = make_app()
    at.run()
    no_crash(at)
    sidebar_text = " ".join(m.value for m in at.sidebar.markdown)
    assert "Tiny" in sidebar_text or "tiny" in sidebar_text
