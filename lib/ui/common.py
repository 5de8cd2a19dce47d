"""Small Streamlit helpers shared by the pages: waiting on model work, labels, stop text."""

from __future__ import annotations

from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Any

import streamlit as st

from lib.errors import StudioError
from lib.worker import ModelService

GRANULARITY_LABELS = {"tokens": "Tokens", "words": "Words", "sentences": "Sentences",
                      "lines": "Lines", "paragraphs": "Paragraphs", "regex": "Custom regex"}
METHOD_FALLBACK = {"grad_l2": ("Grad L2", False), "grad_dot_input": ("Grad·Input", True)}


def methods() -> dict[str, tuple[str, bool]]:
    """Method id -> (label, signed), from the engine's registry when it imports."""
    try:
        from lib import pipeline

        return {k: (v.label, bool(v.signed)) for k, v in pipeline.METHODS.items()}
    except Exception:
        return dict(METHOD_FALLBACK)


def decode_stop(text: str) -> tuple[str, ...]:
    r"""The stop field shows escapes literally: `\n\n` means a blank line; `|` separates several."""
    out = []
    for part in text.split("|"):
        s = (part.replace("\\\\", "\0").replace("\\n", "\n").replace("\\t", "\t")
             .replace("\0", "\\"))
        if s:
            out.append(s)
    return tuple(out)


def encode_stop(stop: tuple[str, ...]) -> str:
    return "|".join(s.replace("\\", "\\\\").replace("\n", "\\n").replace("\t", "\\t")
                    for s in stop)


def wait_for(future: Future, svc: ModelService, label: str) -> Any:
    """Wait for model work with a status box: loading progress or queue position."""
    if future.done():
        return future.result()
    with st.status(label, expanded=False) as box:
        bar = st.progress(0.0)
        while True:
            try:
                result = future.result(timeout=0.25)
            except FutureTimeout:
                s = svc.status()
                if s["state"] == "loading":
                    bar.progress(s["progress"], text=f"Loading the model: {s['message']}")
                else:
                    pos = svc.queue_position(future)
                    text = ("Working…" if not pos else
                            f"Waiting: {pos} job(s) from other reviewers go first.")
                    bar.progress(1.0 if s["state"] == "ready" else 0.0, text=text)
                continue
            except StudioError:
                box.update(label=f"{label} failed", state="error")
                raise
            except Exception:
                box.update(label=f"{label} failed", state="error")
                raise
            box.update(label=f"{label} done", state="complete")
            return result


def model_banner(svc: ModelService) -> None:
    """One line about the server's model; pages keep working while it loads."""
    s = svc.status()
    if s["state"] == "error":
        st.error(f"The model could not be loaded: {s['error']}")
    elif s["state"] in ("loading", "idle"):
        st.info(f"The model is loading ({s['progress']:.0%}: {s['message']}). You can edit "
                "prompts and open saved runs meanwhile; Generate waits for it.")
