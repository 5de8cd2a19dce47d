"""The exported HTML report: one self-contained document of a Debug view (no scripts).

Built only when a reviewer asks for it (the Debug page hands a builder to its download button).
"""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping, Sequence

from lib.notes import NOTES_CSS
from lib.records import Segment, TokenSequence
from lib.render import (
    STYLE_CSS,
    ColourScale,
    colour_scale,
    render_legend_html,
    render_segments_html,
)
from lib.render_parts import PARTS_CSS
from lib.text_safety import escape_html, safe_html, safe_plain


def _value_text(value: object) -> str:
    if isinstance(value, str):
        return value
    try:
        return json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)
    except (TypeError, ValueError):
        return str(value)


def _table(rows: Mapping[str, object]) -> str:
    body = "".join(
        f"<tr><th>{safe_html(str(k))}</th><td>{safe_html(_value_text(v))}</td></tr>"
        for k, v in rows.items()
    )
    return f"<table>{body}</table>"


def render_checks_html(check: Mapping[str, object] | None,
                       curve: Mapping[str, object] | None) -> str:
    """The counterfactual check and the deletion curve (`lib.ui.counterfactual_view`'s
    records) as static tables: the report's CSP allows no scripts, so no chart."""
    out = []
    if check:
        controls = [float(c["delta"]) for c in check.get("controls", [])]  # type: ignore[union-attr]
        rows = {"edit": ("replace with " + repr(check.get("replacement"))
                         if check.get("replacement") is not None else "drop"),
                "prompt characters": f"{check.get('start')}–{check.get('end')}",
                "log p(target) before": f"{float(check['target_logprob_before']):.4f}",
                "log p(target) after": f"{float(check['target_logprob_after']):.4f}",
                "change": f"{float(check['delta']):+.4f}",
                "controls (change)": ", ".join(f"{d:+.4f}" for d in controls) or "none",
                "greedy answer before": check.get("greedy_before", ""),
                "greedy answer after": check.get("greedy_after", "")}
        out.append(f"<h2>Counterfactual check</h2>{_table(rows)}")
    if curve:
        head = "<tr><th>k dropped</th><th>most salient first</th><th>random order</th></tr>"
        body = "".join(
            f"<tr><td>{int(k)}</td><td>{float(a):.4f}</td><td>{float(b):.4f}</td></tr>"
            for k, a, b in zip(curve["k"], curve["salience_order"],  # type: ignore[arg-type]
                               curve["random_order"], strict=True))  # type: ignore[arg-type]
        out.append(f"<h2>Deletion curve</h2><p>log p(target) as the top k "
                   f"{safe_html(str(curve.get('granularity')))} are dropped; area between "
                   f"the curves {float(curve['area']):+.4f}.</p>"  # type: ignore[arg-type]
                   f"<table>{head}{body}</table>")
    return "".join(out)


_REPORT_CSS = """
body { font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 60rem; color: #111;
  background: #fff; padding: 0 1rem; }
h1 { font-size: 1.4rem; } h2 { font-size: 1.1rem; margin-top: 1.6rem; }
table { border-collapse: collapse; font-size: 0.85rem; }
th, td { border: 1px solid #ccc; padding: 3px 8px; text-align: left; vertical-align: top;
  white-space: pre-wrap; overflow-wrap: anywhere; }
.box { border: 1px solid #ddd; border-radius: 6px; padding: 0.8rem; }
""".strip()


def render_report_html(
    *,
    title: str,
    seq: TokenSequence,
    segments: Sequence[Segment],
    scores: Sequence[float] | None,
    scale: ColourScale | None,
    palette: str,
    method_label: str,
    selected: Collection[int],
    model_name: str,
    settings: Mapping[str, object],
    audit: Mapping[str, object],
    intensity: float = 1.0,
    show_numbers: bool = False,
    parts_html: str = "",
    checks_html: str = "",
    notes_html: str = "",
) -> str:
    """A self-contained HTML document (inline CSS, no scripts, no outside requests).
    `parts_html`: the salience-by-part table (`lib.render_parts.parts_table_html`), if any;
    `checks_html`: the counterfactual check's tables (`render_checks_html`), if any;
    `notes_html`: a saved run's reviewer notes (`lib.notes.notes_section_html`), if any."""
    if scale is None:
        scale = colour_scale(scores or [], signed=False)
    common = dict(
        palette=palette, intensity=intensity, show_numbers=show_numbers, selected=selected,
        include_style=False,
    )
    prompt_html = render_segments_html(seq, segments, scores, scale, part="prompt", **common)
    target_html = render_segments_html(seq, segments, scores, scale, part="target", **common)
    selected_text = "".join(
        seg.text for seg in segments if seg.index in {int(i) for i in selected}
    )
    # CSP: nothing may load or run, even if a bug let markup through.
    csp = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; form-action 'none'"
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{csp}">'
        '<meta name="referrer" content="no-referrer">'
        f"<title>{escape_html(safe_plain(title))}</title>"
        f"<style>{_REPORT_CSS}\n{STYLE_CSS}\n{PARTS_CSS}\n{NOTES_CSS}</style></head><body>"
        f"<h1>{safe_html(title)}</h1>"
        f"<p>Model: <strong>{safe_html(model_name)}</strong></p>"
        f"<h2>Selected target</h2><div class=\"box salience-text\">{safe_html(selected_text)}</div>"
        f"{render_legend_html(scale, palette, method_label)}"
        f'<h2>Prompt</h2><div class="box">{prompt_html}</div>'
        f'<h2>Output</h2><div class="box">{target_html}</div>'
        + (f"<h2>Salience by part</h2>{parts_html}" if parts_html else "")
        + checks_html
        + (f"<h2>Reviewer notes</h2>{notes_html}" if notes_html else "")
        + f"<h2>Settings</h2>{_table(settings)}"
        f"<h2>Audit</h2>{_table(audit)}"
        "<p><small>Gradient salience shows which tokens the model's output was most sensitive "
        "to; it is not a causal explanation. Scores are relative within this view.</small></p>"
        "</body></html>\n"
    )
