"""Debug's counterfactual check of a highlight: drop or replace a prompt segment (or the
highlighted part), re-score the same target on the edited prompt, compare with the same edit on
random spans, and a deletion curve; "Open in Compare" puts the edited prompt beside the original.

The engine is `lib.counterfactual`; this part only wires it: the jobs run on the model worker
with progress and Cancel (`common.wait_for`), the results are kept per view and selection in
session state and go into the share record and the exports (`record()`).
"""

from __future__ import annotations

import statistics
from typing import Any

import streamlit as st

from lib.errors import StudioError
from lib.input_limits import MAX_VARIABLE_VALUE_CHARS
from lib.parts import Part
from lib.records import GenerationSettings, Segment
from lib.ui import common
from lib.ui.controls import ViewControls
from lib.ui.model_service import get_service
from lib.ui.owner import owner_id
from lib.view import View
from lib.worker import PRIORITY_USER

RESULT = "dbg_cf_result"  # {"key": ..., "check": {...}} of the last check
CURVE = "dbg_cf_curve"
MAX_OPTIONS = 15  # segments offered, most salient first
ACTIONS = ("Drop it", "Replace it with…")


def _key(view: View, sel: tuple[int, int]) -> tuple:
    return (view.fingerprint, view.prompt, tuple(view.seq.ids), sel)


def restore_checks(view: View, sel: tuple[int, int] | None, ui: dict[str, Any]) -> None:
    """A share link's checks (its record's `counterfactual`, `deletion_curve`) shown again
    for its view and selection."""
    for name, state, field in (("counterfactual", RESULT, "check"),
                               ("deletion_curve", CURVE, "curve")):
        saved = ui.get(name)
        if _well_formed(saved, name) and sel is not None:
            st.session_state[state] = {"key": _key(view, sel), field: saved}
        else:
            st.session_state.pop(state, None)


_NUMBERS = {"counterfactual": ("target_logprob_before", "target_logprob_after", "delta"),
            "deletion_curve": ("area",)}
_TEXTS = {"counterfactual": ("greedy_before", "greedy_after", "edited_prompt"),
          "deletion_curve": ()}


def _well_formed(saved: object, name: str) -> bool:
    """Whether a saved check has what the page shows (a damaged record shows nothing)."""
    if not isinstance(saved, dict):
        return False
    if any(isinstance(saved.get(k), bool) or not isinstance(saved.get(k), int | float)
           for k in _NUMBERS[name]):
        return False
    if any(not isinstance(saved.get(k), str) for k in _TEXTS[name]):
        return False
    if name == "counterfactual":
        controls = saved.get("controls")
        return isinstance(controls, list) and all(
            isinstance(c, dict) and isinstance(c.get("delta"), int | float) for c in controls)
    lists = [saved.get(k) for k in ("k", "salience_order", "random_order")]
    return all(isinstance(v, list) and all(isinstance(x, int | float) for x in v)
               for v in lists) and len({len(v) for v in lists}) == 1


def _options(segments: list[Segment], seg_vals: list[float], signed: bool,
             part: Part | None) -> list[tuple[str, int, int]]:
    """(label, start, end) in the model's text: the highlighted part first, then the prompt
    segments by salience ("top" as the deletion curve ranks them)."""
    scored = [(s, v) for s, v in zip(segments, seg_vals, strict=True)
              if s.in_prompt and s.end > s.start and s.text.strip()]
    scored.sort(key=lambda sv: (sv[1] if signed else -sv[1], sv[0].index))
    out = []
    if part is not None and part.end > part.start:
        out.append((f"Part: {part.label}", part.start, part.end))
    for s, v in scored[:MAX_OPTIONS]:
        text = " ".join(s.text.split())
        text = text if len(text) <= 48 else text[:47] + "…"
        out.append((f"#{s.index} {text!r} ({v:+.3g})", s.start, s.end))
    return out


def _run(label: str, job: Any) -> Any:
    svc = get_service()
    fut = svc.submit(job, priority=PRIORITY_USER, owner=owner_id(),
                     replaces=common.session_key("counterfactual"))
    progress = common.JobProgress()
    return common.wait_for(fut, svc, label, progress)


def _check(view: View, scored: list[int], start: int, end: int, replacement: str | None,
           controls: int) -> dict[str, Any]:
    from lib.counterfactual import counterfactual, prompt_offset

    settings = GenerationSettings(max_new_tokens=view.settings.max_new_tokens,
                                  stop=view.settings.stop,
                                  chat_template=view.settings.chat_template)

    def job(model: Any) -> dict[str, Any]:
        chat = model.default_chat_template if settings.chat_template is None \
            else settings.chat_template
        offset = prompt_offset(model, view.prompt, chat)
        span = (start - offset, end - offset)
        r = counterfactual(model, view.prompt, view.seq, scored, [span], replacement,
                           controls=controls, settings=settings, name="The chosen segment")
        return {"start": span[0], "end": span[1], "replacement": replacement,
                "target_logprob_before": r.target_logprob_before,
                "target_logprob_after": r.target_logprob_after, "delta": r.delta,
                "greedy_before": r.greedy_before, "greedy_after": r.greedy_after,
                "edited_prompt": r.edited_prompt,
                "controls": [{"start": c.start, "end": c.end, "delta": c.delta}
                             for c in r.controls]}

    return _run("Re-scoring the target on the edited prompt", job)


def _curve(view: View, scored: list[int], c: ViewControls) -> dict[str, Any]:
    from lib.counterfactual import deletion_curve

    def job(model: Any) -> dict[str, Any]:
        r = deletion_curve(model, view.prompt, view.seq, scored, c.granularity, c.method,
                           pattern=c.pattern, chat_template=view.settings.chat_template)
        return {"granularity": c.granularity, "method": c.method, "k": list(r.k),
                "salience_order": list(r.salience_order), "random_order": list(r.random_order),
                "area": r.area}

    return _run("Dropping the top segments one more at a time", job)


def _show_check(check: dict[str, Any]) -> None:
    from lib.compare import render_diff_html

    before, after, delta = (check["target_logprob_before"], check["target_logprob_after"],
                            check["delta"])
    a, b, d = st.columns(3)
    a.metric("log p(target), before", f"{before:.3f}")
    b.metric("after the edit", f"{after:.3f}")
    d.metric("change", f"{delta:+.3f}")
    deltas = [x["delta"] for x in check["controls"]]
    if deltas:
        median = statistics.median(deltas)
        verdict = ("more than every control" if all(abs(delta) > abs(x) for x in deltas) else
                   "more than the median control" if abs(delta) > abs(median) else
                   "no more than the controls: text of its size elsewhere matters as much")
        st.caption(f"Controls (the same edit on {len(deltas)} random spans of the same length "
                   f"elsewhere in the prompt): change from {min(deltas):+.3f} to "
                   f"{max(deltas):+.3f}, median {median:+.3f}. This edit moves the target "
                   f"{verdict}.")
    if check["greedy_after"] == check["greedy_before"]:
        st.caption("The greedy answer stays the same: "
                   + common.md_escape(repr(check["greedy_after"])))
    else:
        st.markdown("**The greedy answer changes** (removed text struck, new text marked):")
        st.html(render_diff_html(check["greedy_before"], check["greedy_after"]))


def _show_curve(curve: dict[str, Any]) -> None:
    import plotly.graph_objects as go

    fig = go.Figure()
    fig.add_scatter(x=curve["k"], y=curve["salience_order"], mode="lines+markers",
                    name="most salient first")
    fig.add_scatter(x=curve["k"], y=curve["random_order"], mode="lines+markers",
                    name="random order", line={"dash": "dash"})
    fig.update_layout(height=280, margin={"l": 10, "r": 10, "t": 30, "b": 10},
                      title="Deletion curve", xaxis_title="segments dropped (k)",
                      yaxis_title="log p(target)")
    st.plotly_chart(fig, key="dbg_cf_chart")
    st.caption(f"Area between the curves (mean over k of random − salient): "
               f"{curve['area']:+.3f}. Positive: dropping the salient segments first lowers "
               "the target's log-probability faster than dropping segments at random.")


def _open_in_compare(view: View, edited: str) -> None:
    """Two Compare variants, the original prompt and the edited one (as templates with no
    variables), generated as soon as Compare opens."""
    from lib.ui.inputs import DEFAULT_VARIANTS

    def literal(text: str) -> str:
        return text.replace("{", "{{").replace("}", "}}")

    st.session_state["cmp_n"] = 2
    for i, text in enumerate((view.prompt, edited)):
        st.session_state[f"cmp_tpl_{i}"] = view.template_id or DEFAULT_VARIANTS[i]
        st.session_state[f"cmp_text_{i}"] = literal(text)
    st.session_state["cmp_generate_now"] = True
    st.session_state.pop("cmp_views", None)
    st.session_state.pop("cmp_run", None)


def counterfactual_view(view: View, segments: list[Segment], scored: list[int],
                        sel: tuple[int, int], seg_vals: list[float], c: ViewControls,
                        part: Part | None) -> dict[str, Any]:
    """The check, in an expander; returns what goes into the share record and the exports
    (`counterfactual`, `deletion_curve`: only those run for this view and selection)."""
    key = _key(view, sel)
    held = st.session_state.get(RESULT)
    check = held["check"] if isinstance(held, dict) and held.get("key") == key else None
    held = st.session_state.get(CURVE)
    curve = held["curve"] if isinstance(held, dict) and held.get("key") == key else None
    with st.expander("Check it: drop or replace a prompt segment and re-score the target",
                     expanded=check is not None or curve is not None):
        options = _options(segments, seg_vals, c.signed, part)
        if not options:
            st.caption("The prompt has no segment with text at this granularity.")
            return {}
        labels = [o[0] for o in options]
        choice = st.selectbox("Prompt segment (most salient first)", labels, key="dbg_cf_span")
        _, start, end = options[labels.index(choice) if choice in labels else 0]
        action = st.radio("Edit", ACTIONS, key="dbg_cf_action", horizontal=True)
        replacement = None
        if action == ACTIONS[1]:
            replacement = st.text_input("Replacement text", key="dbg_cf_with",
                                        max_chars=MAX_VARIABLE_VALUE_CHARS)
        controls = st.number_input("Controls (random spans of the same length)", 0, 20, 5,
                                   key="dbg_cf_controls")
        left, right = st.columns(2)
        try:
            if left.button("Run the check", key="dbg_cf_run"):
                check = _check(view, scored, start, end, replacement, int(controls))
                st.session_state[RESULT] = {"key": key, "check": check}
            if right.button("Deletion curve (top 10 segments)", key="dbg_cf_curve_run"):
                curve = _curve(view, scored, c)
                st.session_state[CURVE] = {"key": key, "curve": curve}
        except StudioError as e:
            common.show_error(str(e))
        if check is not None:
            _show_check(check)
            if st.button("Open in Compare: the original and the edited prompt side by side",
                         key="dbg_cf_compare", on_click=_open_in_compare,
                         args=(view, check["edited_prompt"])):
                st.switch_page("app_pages/compare.py")
        if curve is not None:
            _show_curve(curve)
    out: dict[str, Any] = {}
    if check is not None:
        out["counterfactual"] = check
    if curve is not None:
        out["deletion_curve"] = curve
    return out
