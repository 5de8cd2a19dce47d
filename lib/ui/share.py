"""Share (save the view, show its link) and export (HTML report, scores as JSON).

The exports are built only when the reviewer clicks their button: the buttons get builder
functions (`lib.ui.export_button`), not documents made on every rerun.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any

import streamlit as st

from lib.errors import StudioError
from lib.records import Segment
from lib.render import ColourScale
from lib.ui import common
from lib.ui.copy_link import copy_link
from lib.ui.export_button import export_button
from lib.ui.owner import owner_id
from lib.ui.scores import collect_scores
from lib.view import View, audit_data, view_to_record


def _title(view: View) -> str:
    return (view.prompt.strip().splitlines() or ["Run"])[0][:60]


def _notes(run_id: str | None) -> tuple[list, list[dict]]:
    """A saved run's notes as they are now (the thread, every row): read when an export is
    built, so it has the notes added since the page was drawn; none for an unsaved view."""
    if not run_id:
        return [], []
    from lib.notes import default_notes

    notes = default_notes()
    return notes.thread(run_id), notes.audit(run_id)


def report_builder(view: View, segments: Sequence[Segment], seg_vals: Sequence[float] | None,
                   scale: ColourScale, method_label: str, selected: Sequence[int],
                   ui: dict[str, Any], token_scores: Sequence[float] | None = None,
                   signed: bool = False) -> Callable[[], str]:
    """A function that builds the HTML report of this view (from plain values: it runs outside
    the page's script, when the download is asked for). A long document's report shows its
    prompt as the reading view (jump list, density strip: plain links, no scripts); with
    `token_scores` it has a table of the prompt's parts."""
    checks = {k: ui[k] for k in ("counterfactual", "deletion_curve") if k in ui}
    settings = {**{k: v for k, v in ui.items() if k not in checks},
                "max_new_tokens": view.settings.max_new_tokens,
                "temperature": view.settings.temperature, "seed": view.settings.seed}
    title, seq, name = _title(view), view.seq, view.model_name
    fingerprint = view.fingerprint
    segs, vals, sel = list(segments), None if seg_vals is None else list(seg_vals), list(selected)

    tokens = None if token_scores is None else list(token_scores)
    run_id = view.run_id

    def build() -> str:
        from lib import report
        from lib.notes import notes_section_html
        from lib.reading import PARAGRAPH_THRESHOLD_TOKENS
        from lib.render_parts import parts_table_html, view_part_scores
        from lib.render_reading import render_document_report_html

        render = report.render_report_html
        extra: dict[str, Any] = {}
        parts_html = ("" if tokens is None
                      else parts_table_html(view_part_scores(view, tokens, signed), signed))
        if tokens is not None and seq.prompt_length >= PARAGRAPH_THRESHOLD_TOKENS:
            render, extra = render_document_report_html, {"token_scores": tokens}
        if run_id:  # a saved run: its reviewer notes
            extra["notes_html"] = notes_section_html(_notes(run_id)[0])
        return render(
            **extra, title=title, seq=seq, segments=segs, scores=vals, scale=scale,
            palette=str(ui["palette"]), method_label=method_label, selected=sel,
            model_name=name, settings=settings,
            audit={"model_fingerprint": fingerprint, **audit_data()},
            intensity=float(ui["intensity"]), show_numbers=bool(ui["show_numbers"]),
            parts_html=parts_html,
            checks_html=report.render_checks_html(checks.get("counterfactual"),
                                                  checks.get("deletion_curve")))

    return build


def scores_json_builder(view: View, segments: Sequence[Segment],
                        seg_vals: Sequence[float] | None, ui: dict[str, Any], *,
                        token_scores: Sequence[float] | None = None, signed: bool = False
                        ) -> Callable[[], str]:
    """A function that builds the JSON export (tokens, segments and their scores); with
    `token_scores` also `parts`, the rows `salience --by-part` writes (`lib.cli_parts`); for a
    saved run its id, `notes` (every row of its thread, retractions included) and
    `latest_verdict`."""
    head = {"model": view.model_name, "fingerprint": view.fingerprint, "method": ui["method"],
            "granularity": ui["granularity"], "selection": ui["selection"]}
    if ui.get("foil"):  # contrastive: the scores are of log p(selection) - log p(foil)
        head.update(foil=ui["foil"], contrast=ui.get("contrast"))
    if "completeness_gap" in ui:  # Integrated Gradients, as `salience --json` reports it
        head.update(steps=ui.get("steps"), completeness_gap=ui["completeness_gap"])
    for check in ("counterfactual", "deletion_curve"):  # as the CLI's commands print them
        if check in ui:
            head[check] = ui[check]
    tokens = [{"index": t.index, "text": t.text, "special": t.special} for t in view.seq.tokens]
    segs, vals = list(segments), None if seg_vals is None else list(seg_vals)
    tok_scores = None if token_scores is None else list(token_scores)
    run_id = view.run_id

    def build() -> str:
        out: dict[str, Any] = {**head, "input_text": view.seq.input_text, "tokens": tokens,
                               "segments": [
            {"index": s.index, "text": s.text, "in_prompt": s.in_prompt,
             "score": None if vals is None else vals[i]} for i, s in enumerate(segs)]}
        if tok_scores is not None:
            from lib.cli_parts import parts_json
            from lib.render_parts import prompt_parts

            try:
                out["parts"] = parts_json(view.seq, view.prompt, prompt_parts(view),
                                          tok_scores, signed)
            except ValueError:  # parts that do not fit the sequence (a damaged run): none
                pass
        if run_id:
            from lib.notes import latest_verdict

            thread, rows = _notes(run_id)
            out.update(run_id=run_id, latest_verdict=latest_verdict(thread), notes=rows)
        return json.dumps(out, ensure_ascii=False, indent=1)

    return build


def _save_debug(view: View, out_segs: list[Segment], ui: dict[str, Any]) -> None:
    """Share's callback: it runs before the page, so the page's one URL write has the run."""
    from lib.runs import default_store

    record = view_to_record(view, ui, collect_scores(view, out_segs))
    try:
        view.run_id = default_store().save(record, owner=owner_id(), title=_title(view),
                                           kind="debug")
    except StudioError as e:  # shown by share_debug in the run that follows
        st.session_state["dbg_share_error"] = str(e)
        return
    st.session_state["dbg_shared"] = view.run_id


def share_debug(view: View, out_segs: list[Segment], ui: dict[str, Any],
                report: Callable[[], str], scores_json: Callable[[], str]) -> None:
    """Debug's Share button (and its link once saved) and the two export buttons."""
    st.divider()
    c1, c2, c3 = st.columns(3)
    c1.button("Share", key="dbg_share", on_click=_save_debug, args=(view, out_segs, ui))
    if "dbg_share_error" in st.session_state:
        common.show_error(st.session_state.pop("dbg_share_error"))
    if st.session_state.get("dbg_shared") and st.session_state["dbg_shared"] == view.run_id:
        link = common.share_url(view.run_id)
        st.session_state["dbg_share_url"] = link
        st.success("Saved. Anyone with this link sees exactly this view (it is also listed "
                   "under Saved runs):")
        copy_link(link, key="dbg_copy_link")
    with c2:
        export_button("Export HTML report", report, file_name="salience-report.html",
                      mime="text/html", key="dbg_export_html")
    with c3:
        export_button("Export scores (JSON)", scores_json, file_name="salience-scores.json",
                      mime="application/json", key="dbg_export_json")


def _save_compare(views: list[View], ui: dict[str, Any]) -> None:
    """Share's callback (before the page runs, like Debug's)."""
    from lib.runs import default_store

    record = {"version": 1, "kind": "compare", "ui": ui,
              "model": {"name": views[0].model_name, "spec": views[0].model_spec,
                        "fingerprint": views[0].fingerprint},
              "views": [view_to_record(v, ui) for v in views]}
    title = "Compare: " + ", ".join(v.template_id or "prompt" for v in views)
    try:
        run_id = default_store().save(record, owner=owner_id(), title=title, kind="compare")
    except StudioError as e:  # shown by share_compare in the run that follows
        st.session_state["cmp_share_error"] = str(e)
        return
    st.session_state["cmp_run"] = run_id
    for v in views:
        v.run_id = run_id
    st.session_state["cmp_shared_link"] = run_id


def share_compare(views: list[View], ui: dict[str, Any]) -> None:
    """Compare's Share button: the whole set as one saved run of kind 'compare'."""
    st.divider()
    st.button("Share", key="cmp_share", on_click=_save_compare, args=(views, ui))
    if "cmp_share_error" in st.session_state:
        common.show_error(st.session_state.pop("cmp_share_error"))
    if st.session_state.get("cmp_shared_link") and (
            st.session_state.get("cmp_shared_link") == st.session_state.get("cmp_run")):
        link = common.share_url(st.session_state["cmp_run"])
        st.session_state["cmp_share_url"] = link
        st.success("Saved. Anyone with this link sees exactly this comparison:")
        copy_link(link, key="cmp_copy_link")
