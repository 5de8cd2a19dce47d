"""Opening a share link: the saved run back into the page's view and its widgets."""

from __future__ import annotations

import re
from typing import Any

import streamlit as st

from lib.errors import InputError
from lib.selection import compare_selection_from_stored, selection_from_stored
from lib.ui import common
from lib.ui.counterfactual_view import restore_checks
from lib.ui.foil import set_foil
from lib.ui.inputs import DEFAULT_VARIANTS
from lib.view import View, view_from_record


def _load(run_id: str, kind: str, errors: list[str]) -> Any:
    """The saved run of this kind, or None after a sentence in `errors` saying why not."""
    from lib.runs import RUN_ID_PATTERN, default_store

    if not re.fullmatch(RUN_ID_PATTERN, run_id):
        errors.append("The link's run id is malformed (it should be 22-64 letters, digits, "
                      "'-' or '_'); copy the whole link again from whoever shared it.")
        return None
    saved = default_store().get(run_id)
    if saved is None:
        errors.append(f"No saved run has the id '{run_id}'. It may have been deleted by its "
                      "owner; ask whoever shared the link for a new one.")
        return None
    if saved.kind != kind:
        errors.append("This link is a Compare view; open it on the Compare page."
                      if kind == "debug" else
                      "This link is a single-prompt view; open it on the Debug page.")
        return None
    return saved


def _controls(prefix: str, ui: dict[str, Any], default_g: str) -> None:
    st.session_state[f"{prefix}_g"] = ui.get("granularity", default_g)
    st.session_state[f"{prefix}_pattern"] = ui.get("pattern") or r"\S+"
    st.session_state[f"{prefix}_m"] = ui.get("method", "grad_l2")
    st.session_state[f"{prefix}_intensity"] = float(ui.get("intensity", 1.0))


def restore_debug_run(run_id: str, errors: list[str]) -> None:
    """Debug: the view, its controls and selection, and the inputs that produced it."""
    current = st.session_state.get("dbg_view")
    if current is not None and current.run_id == run_id:
        return
    saved = _load(run_id, "debug", errors)
    if saved is None:
        return
    try:
        view = view_from_record(saved.record, run_id=run_id)
    except InputError as e:
        errors.append(str(e))
        return
    rec, ui = saved.record, dict(saved.record.get("ui", {}))
    st.session_state["dbg_view"] = view
    _controls("dbg", ui, "words")
    if ui.get("palette"):
        signed = common.methods().get(ui.get("method", ""), ("", False))[1]
        st.session_state["dbg_palette_s" if signed else "dbg_palette_u"] = ui["palette"]
    st.session_state["dbg_numbers"] = bool(ui.get("show_numbers", False))
    st.session_state["dbg_sel"] = selection_from_stored(ui.get("selection"))
    # The highlighted prompt part (lib.ui.parts_view); an unknown id highlights nothing.
    part = ui.get("part")
    st.session_state["dbg_part"] = part if isinstance(part, str) else None
    set_foil(ui.get("foil"))  # a contrastive view's foil (lib.ui.foil); none for older runs
    restore_checks(view, st.session_state["dbg_sel"], ui)  # lib.ui.counterfactual_view
    # Refill the inputs so the reviewer sees (and can edit) what produced this view.
    if rec.get("template_id"):
        st.session_state["dbg_source"] = "Template"
        st.session_state["dbg_template_id"] = rec["template_id"]
        st.session_state["dbg_template_text"] = rec.get("template_text", "")
        for k, v in dict(rec.get("variables", {})).items():
            st.session_state[f"dbg_var_{k}"] = v
    else:
        st.session_state["dbg_source"] = "Raw prompt"
        st.session_state["dbg_raw"] = rec.get("prompt", "")
    st.session_state["dbg_target_mode"] = rec.get("target_mode", "response")
    if view.target_mode != "response":
        st.session_state["dbg_target_mode"] = "typed"
        st.session_state["dbg_typed_target"] = view.seq.target
    st.session_state["dbg_max_new"] = view.settings.max_new_tokens
    st.session_state["dbg_stop"] = common.encode_stop(view.settings.stop)


def restore_compare_run(run_id: str, errors: list[str]) -> None:
    """Compare: every variant's view, the shared controls and the selection."""
    if st.session_state.get("cmp_run") == run_id:
        return
    saved = _load(run_id, "compare", errors)
    if saved is None:
        return
    try:
        rec = saved.record
        views: list[View] = [view_from_record(r, run_id=run_id) for r in rec["views"]]
        ui = dict(rec.get("ui", {}))
    except (InputError, KeyError, TypeError) as e:
        errors.append(str(e) if isinstance(e, InputError) else (
            "This saved comparison is damaged and cannot be shown; ask for a new link."))
        return
    st.session_state["cmp_views"] = views
    st.session_state["cmp_run"] = run_id
    st.session_state["cmp_n"] = len(views)
    for i, v in enumerate(views):
        st.session_state[f"cmp_tpl_{i}"] = v.template_id or DEFAULT_VARIANTS[i % 3]
        st.session_state[f"cmp_text_{i}"] = v.template_text
        for k, val in v.variables.items():
            st.session_state[f"cmp_var_{k}"] = val
    _controls("cmp", ui, "lines")
    st.session_state["cmp_shared"] = bool(ui.get("shared_scale", True))
    if ui.get("palette"):
        st.session_state["cmp_palette"] = ui["palette"]
    st.session_state["cmp_sel"] = compare_selection_from_stored(ui.get("selection"))
