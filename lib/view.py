"""What one Debug view holds, and its JSON form for share links (no Streamlit here).

A `View` is everything needed to redraw the page without the model: the exact token sequence,
the generation's probabilities and alternatives, and every score computed so far. Saved runs store
`view_to_record(...)`; opening a link rebuilds the view with `view_from_record(...)`.
"""

from __future__ import annotations

import datetime as _dt
import importlib.metadata
import platform
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from lib.errors import InputError
from lib.records import Alternative, GenerationSettings, Token, TokenSequence

RECORD_VERSION = 1


@dataclass
class View:
    """One analysed sequence and the scores computed for it (mutable: scores accumulate)."""

    seq: TokenSequence
    prompt: str
    model_spec: str
    model_name: str
    fingerprint: str
    settings: GenerationSettings
    probs: tuple[float, ...] = ()
    alternatives: tuple[tuple[Alternative, ...], ...] = ()
    target_mode: str = "response"
    stop_reason: str = ""
    template_id: str = ""
    template_text: str = ""
    variables: dict[str, str] = field(default_factory=dict)
    # (method, sorted target token indices) -> one score per token of seq
    scores: dict[tuple[str, tuple[int, ...]], tuple[float, ...]] = field(default_factory=dict)
    run_id: str | None = None

    def score_for(self, method: str, targets: Sequence[int]) -> tuple[float, ...] | None:
        return self.scores.get((method, tuple(sorted(targets))))

    def add_scores(self, method: str, targets: Sequence[int], scores: Sequence[float]) -> None:
        self.scores[(method, tuple(sorted(targets)))] = tuple(float(s) for s in scores)


def settings_to_dict(s: GenerationSettings) -> dict[str, Any]:
    return {"max_new_tokens": s.max_new_tokens, "temperature": s.temperature, "top_k": s.top_k,
            "seed": s.seed, "stop": list(s.stop), "chat_template": s.chat_template}


def settings_from_dict(d: Mapping[str, Any]) -> GenerationSettings:
    ct = d.get("chat_template")
    return GenerationSettings(
        max_new_tokens=int(d.get("max_new_tokens", 64)), temperature=float(d.get("temperature", 0)),
        top_k=int(d.get("top_k", 0)), seed=int(d.get("seed", 0)),
        stop=tuple(str(x) for x in d.get("stop", ())),
        chat_template=None if ct is None else bool(ct))


def audit_data() -> dict[str, str]:
    """App and library versions, salience precision and the date, stored with every run."""
    import lib

    versions = {"python": platform.python_version()}
    for pkg in ("streamlit", "jax", "jaxlib", "keras", "keras-hub", "numpy"):
        try:
            versions[pkg] = importlib.metadata.version(pkg)
        except importlib.metadata.PackageNotFoundError:
            versions[pkg] = "not installed"
    from lib.salience.precision import default_precision

    try:
        precision = default_precision()
    except InputError:
        precision = "invalid STUDIO_SALIENCE_PRECISION"
    return {"app_version": lib.__version__, "libraries": versions,
            "salience_precision": precision,
            "date": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")}


def view_to_record(view: View, ui: Mapping[str, Any], extra_scores: Mapping | None = None
                   ) -> dict[str, Any]:
    """A JSON-serialisable record of the view; `ui` holds granularity, method, selection ..."""
    scores = dict(view.scores)
    scores.update(extra_scores or {})
    seq = view.seq
    return {
        "version": RECORD_VERSION,
        "kind": "debug",
        "template_id": view.template_id,
        "template_text": view.template_text,
        "variables": dict(view.variables),
        "prompt": view.prompt,
        "model": {"spec": view.model_spec, "name": view.model_name,
                  "fingerprint": view.fingerprint},
        "settings": settings_to_dict(view.settings),
        "target_mode": view.target_mode,
        "stop_reason": view.stop_reason,
        "sequence": {
            "input_text": seq.input_text, "target": seq.target,
            "prompt_length": seq.prompt_length,
            "tokens": [[t.index, t.id, t.text, t.start, t.end, t.special, t.in_prompt]
                       for t in seq.tokens],
        },
        "probs": [float(p) for p in view.probs],
        "alternatives": [[[a.token_id, a.text, float(a.prob)] for a in alts]
                         for alts in view.alternatives],
        "ui": dict(ui),
        "scores": [{"method": m, "targets": list(t), "scores": [float(x) for x in s]}
                   for (m, t), s in scores.items()],
        "audit": audit_data(),
    }


def view_from_record(record: Mapping[str, Any], run_id: str | None = None) -> View:
    """Rebuild a view from a stored record; InputError if the record is damaged."""
    try:
        sq = record["sequence"]
        tokens = tuple(Token(index=int(t[0]), id=int(t[1]), text=str(t[2]), start=int(t[3]),
                             end=int(t[4]), special=bool(t[5]), in_prompt=bool(t[6]))
                       for t in sq["tokens"])
        seq = TokenSequence(input_text=str(sq["input_text"]), target=str(sq["target"]),
                            tokens=tokens, prompt_length=int(sq["prompt_length"]))
        model = record.get("model", {})
        view = View(
            seq=seq, prompt=str(record.get("prompt", "")), model_spec=str(model.get("spec", "")),
            model_name=str(model.get("name", "")), fingerprint=str(model.get("fingerprint", "")),
            settings=settings_from_dict(record.get("settings", {})),
            probs=tuple(float(p) for p in record.get("probs", ())),
            alternatives=tuple(tuple(Alternative(int(a[0]), str(a[1]), float(a[2])) for a in alts)
                               for alts in record.get("alternatives", ())),
            target_mode=str(record.get("target_mode", "response")),
            stop_reason=str(record.get("stop_reason", "")),
            template_id=str(record.get("template_id", "")),
            template_text=str(record.get("template_text", "")),
            variables={str(k): str(v) for k, v in dict(record.get("variables", {})).items()},
            run_id=run_id,
        )
        for entry in record.get("scores", ()):
            view.add_scores(str(entry["method"]), [int(t) for t in entry["targets"]],
                            entry["scores"])
    except (KeyError, TypeError, ValueError, IndexError) as e:
        raise InputError("This saved run is damaged and cannot be shown "
                         f"({type(e).__name__}); ask whoever shared it for a new link.",
                         field="run") from e
    return view


def generated_positions(view: View, segments: Sequence[Any]) -> list[int]:
    """Indices into `view.probs` of the generated tokens these segments cover."""
    n = len(view.probs)
    first = view.seq.prompt_length
    return [t - first for s in segments for t in s.token_indices if 0 <= t - first < n]


def segment_titles(view: View, out_segs: Sequence[Any]) -> list[str] | None:
    """Hover text of each output segment: the probability of its first token."""
    if not view.probs:
        return None
    out = []
    for s in out_segs:
        pos = generated_positions(view, [s])
        out.append(f"p(first token) = {view.probs[pos[0]]:.1%}" if pos else "")
    return out
