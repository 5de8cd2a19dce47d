"""Contrastive salience on the Debug page: "why this and not that".

The reviewer picks a foil F for the selected output segment S: one of the model's top
alternatives at S's first token, or typed text. The overlay then shows the gradient of
−(log p(S) − log p(F)) (LIT's sign for Grad·Input: negative = pushes toward S rather than F)
over the context both share, and the two log-probabilities. The foil belongs to S: a click on
another segment drops it. It goes into the URL (`foil=`), share links and exports.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import streamlit as st

from lib.errors import StudioError
from lib.records import Segment
from lib.text_safety import safe_plain
from lib.ui import common
from lib.ui.model_service import get_service
from lib.ui.owner import owner_id
from lib.view import View, generated_positions
from lib.worker import PRIORITY_USER

FOIL = "dbg_foil"  # the active foil's text, or None
CHOICE = "dbg_foil_choice"
TYPED = "dbg_foil_typed"
NO_FOIL = "No contrast"
TYPE_FOIL = "Type a foil…"
MAX_FOIL_CHARS = 200
CONTRAST_METHOD = "grad_dot_input"  # the signed one-gradient method the contrast uses
_RESULTS = "dbg_contrast_results"


def clear_foil() -> None:
    """The selection changed: its foil no longer applies."""
    for k in (FOIL, CHOICE, TYPED):
        st.session_state.pop(k, None)


def set_foil(text: str | None) -> None:
    """Adopt a foil (from a link or a saved run); bad values become no foil."""
    ok = isinstance(text, str) and 0 < len(text) <= MAX_FOIL_CHARS
    st.session_state[FOIL] = text if ok else None
    st.session_state.pop(CHOICE, None)
    st.session_state.pop(TYPED, None)


def active_foil() -> str | None:
    foil = st.session_state.get(FOIL)
    return foil if isinstance(foil, str) and foil else None


def _alternatives(view: View, out_segs: list[Segment], sel: tuple[int, int]) -> list[str]:
    """Texts of the model's top alternatives at the selection's first generated token, the
    chosen token itself left out."""
    chosen = [s for s in out_segs if sel[0] <= s.index <= sel[1]]
    pos = generated_positions(view, chosen)
    if not pos or pos[0] >= len(view.alternatives):
        return []
    token = view.seq.tokens[view.seq.prompt_length + pos[0]]
    out = []
    for a in view.alternatives[pos[0]]:
        if a.token_id != token.id and a.text and a.text not in out:
            out.append(a.text)
    return out


def _label(text: str) -> str:
    return repr(safe_plain(text))[:60]


def foil_control(view: View, out_segs: list[Segment], sel: tuple[int, int], method: str,
                 on_change: Callable[[], None]) -> str | None:
    """The foil picker for the selection; returns the active foil (None: no contrast)."""
    from lib.salience.methods import METHODS

    alts = _alternatives(view, out_segs, sel)
    labels = {_label(a): a for a in alts}
    options = [NO_FOIL, *labels, TYPE_FOIL]
    if st.session_state.get(CHOICE) not in options:
        # A link or a saved run set the foil before this widget existed: show that foil.
        foil = active_foil()
        if foil is None:
            st.session_state[CHOICE] = NO_FOIL
        elif labels.get(_label(foil)) == foil:
            st.session_state[CHOICE] = _label(foil)
        else:
            st.session_state[CHOICE] = TYPE_FOIL
            st.session_state[TYPED] = foil

    def changed() -> None:
        on_change()
        common.clear_cancelled()
        choice = st.session_state.get(CHOICE)
        if choice == NO_FOIL:
            st.session_state[FOIL] = None
            return
        text = labels.get(choice) if choice != TYPE_FOIL else st.session_state.get(TYPED)
        st.session_state[FOIL] = text[:MAX_FOIL_CHARS] if text else None
        info = METHODS.get(str(st.session_state.get("dbg_m")))
        if st.session_state[FOIL] and not (info and info.signed and info.needs ==
                                           METHODS[CONTRAST_METHOD].needs):
            st.session_state["dbg_m"] = CONTRAST_METHOD  # the contrast is signed

    c1, c2 = st.columns([1, 1])
    c1.selectbox("Why this and not… (contrast the selection with a foil)",
                 options, key=CHOICE, on_change=changed,
                 help="The model's top alternatives at the selection's first token, or your "
                      "own text. The overlay then shows what favoured the selection over "
                      "the foil.")
    if st.session_state.get(CHOICE) == TYPE_FOIL:
        c2.text_input("Foil text (e.g. ' Avoid.')", key=TYPED, on_change=changed,
                      max_chars=MAX_FOIL_CHARS)
    foil = active_foil()
    if foil is None:
        return None
    info = METHODS.get(method)
    if not (info and info.signed and info.needs == METHODS[CONTRAST_METHOD].needs):
        st.info("The contrast is shown with a signed method: choose Grad · Input above to see "
                "it.")
        return None
    return foil


def contrast_for(view: View, targets: list[int], foil: str, method: str) -> Any | None:
    """The contrastive salience of the selection against `foil` (cached per session), or None
    with the reason shown."""
    from lib.ui.scores import can_compute, explain_why_not

    key = (view.fingerprint, tuple(view.seq.ids), tuple(targets), foil, method)
    results = st.session_state.setdefault(_RESULTS, {})
    if key in results:
        return results[key]
    if common.was_cancelled(key):
        st.info("Cancelled. Pick the foil again to compute the contrast.")
        return None
    if not can_compute(view):
        explain_why_not(view)
        return None
    svc = get_service()

    def job(model: Any) -> Any:
        from lib import pipeline

        return pipeline.contrastive_salience(model, view.seq, targets,
                                             pipeline.foil_ids(model, foil), method)

    fut = svc.submit(job, priority=PRIORITY_USER, owner=owner_id(),
                     replaces=common.session_key("salience"))
    try:
        result = common.wait_for(fut, svc, "Computing the contrast with the foil",
                                 cancel_key=key)
    except StudioError as e:
        common.show_error(str(e))
        return None
    while len(results) >= 16:  # a session keeps its last few contrasts
        results.pop(next(iter(results)))
    results[key] = result
    return result


def contrast_note(result: Any) -> None:
    """The two log-probabilities behind the contrast, in words."""
    d = result.logprob_difference
    st.markdown(
        f"**Contrast with the foil** {common.md_escape(repr(safe_plain(result.foil_text)))}: "
        f"log p(selection) = {result.target_logprob:.3f}, log p(foil) = "
        f"{result.foil_logprob:.3f}, difference {d:+.3f} (the model finds the "
        f"{'selection' if d >= 0 else 'foil'} {math.exp(abs(d)):.3g}× as likely). "
        "Colours: what favoured the selection over the foil (negative, LIT's sign) and what "
        "favoured the foil (positive), over the context both share.")


def contrast_record(result: Any | None) -> dict[str, float] | None:
    """The contrast's numbers for share links and exports."""
    if result is None:
        return None
    return {"target_logprob": result.target_logprob, "foil_logprob": result.foil_logprob,
            "difference": result.logprob_difference}
