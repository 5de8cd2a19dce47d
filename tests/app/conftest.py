"""AppTest fixtures: the tiny model, one load per test process, data in a temporary folder."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LIT_SAMPLE = ROOT / "tests" / "fixtures" / "peers" / "lit_prompt_examples.jsonl"


@pytest.fixture(scope="session")
def studio_env(tmp_path_factory: pytest.TempPathFactory):
    """STUDIO_MODEL=tiny and a fresh STUDIO_DATA_DIR for the whole session; model loaded once."""
    data = tmp_path_factory.mktemp("studio-data")
    old = {k: os.environ.get(k) for k in ("STUDIO_MODEL", "STUDIO_DATA_DIR",
                                          "STUDIO_ALLOWED_MODELS", "STUDIO_WARMUP")}
    os.environ["STUDIO_MODEL"] = "tiny"
    # Page tests count and order model jobs; the server's background warm-up (lib/warmup.py,
    # tested on its own) would add its own.
    os.environ["STUDIO_WARMUP"] = "0"
    os.environ["STUDIO_DATA_DIR"] = str(data)
    os.environ.pop("STUDIO_ALLOWED_MODELS", None)
    from lib import pipeline

    pipeline.get_model("tiny")  # AppTest runs in-process: every test shares this load
    yield data
    # Stop the model workers the pages started, as the server does on SIGTERM: a job still
    # computing on a daemon thread when the interpreter exits aborts the process (XLA).
    from lib.shutdown import shutdown

    shutdown(wait_s=60)
    for k, v in old.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v


def make_app(page: str = "app.py"):
    from streamlit.testing.v1 import AppTest

    return AppTest.from_file(str(ROOT / page), default_timeout=180)


def generate_and_select_first_word(at):
    """Generate 4 tokens on the Debug page and select the first output word; returns
    (view, the view's word segments, the selected segment)."""
    from lib.segments import segment_sequence

    at.number_input(key="dbg_max_new").set_value(4)
    at.button(key="dbg_generate").click().run()
    view = at.session_state["dbg_view"]
    segments = segment_sequence(view.seq, "words")
    first = next(s for s in segments if not s.in_prompt and s.token_indices)
    at.session_state["dbg_sel"] = (first.index, first.index)
    at.run()
    return view, segments, first


def raw_errors(at) -> list[str]:
    """Error boxes as Markdown source (what the browser's Markdown renderer gets)."""
    return [e.value for e in at.error]


def errors(at) -> list[str]:
    """Error boxes as a reviewer reads them: the app backslash-escapes quoted text so Markdown
    shows it literally (lib.ui.common.md_escape); undo only those escapes."""
    return [re.sub(r"\\([\\`*_{}\[\]()#+\-.!|<>~$:&])", r"\1", e) for e in raw_errors(at)]


def no_crash(at) -> None:
    """No exception element and no generic 'Something went wrong' message."""
    assert not at.exception, [e.value for e in at.exception]
    assert not [e for e in errors(at) if e.startswith("Something went wrong")], errors(at)


def component_data(at) -> list[dict]:
    """The data each components-v2 element on the page was drawn with (the segment pickers)."""
    import json

    out = []
    for el in at.get("bidi_component"):
        proto = getattr(el, "proto", None)
        if proto is not None and proto.WhichOneof("data") == "json":
            out.append(json.loads(proto.json))
    return out


def overlays(at) -> list[dict]:
    """The data of each picker component that draws a prompt overlay, in page order (on Compare
    one per column): `selected` (the column's selected range), `overlay` (with `current`, the
    looks of its coloured segments, or None)."""
    return [data for data in component_data(at) if data.get("overlay")]


def overlay(at) -> list[tuple[int, float]]:
    """(segment index, data-salience) of each coloured overlay element on the page: the
    overlays the picker components draw (Debug's, and each Compare column's) from their data,
    and any drawn as HTML."""
    out = []
    for data in component_data(at):
        ov = data.get("overlay")
        if ov and ov.get("current"):
            segs = [p[1] for p in ov["pieces"] if len(p) > 1]
            out += [(i, float(look[0])) for i, look in zip(segs, ov["current"], strict=True)]
    html = "\n".join(h.proto.body for h in at.get("html"))
    for tag in re.findall(r"<span[^>]*data-salience=[^>]*>", html):
        out.append((int(re.search(r'data-segment-index="(\d+)"', tag).group(1)),
                    float(re.search(r'data-salience="([^"]+)"', tag).group(1))))
    return out
