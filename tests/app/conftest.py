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
                                          "STUDIO_ALLOWED_MODELS")}
    os.environ["STUDIO_MODEL"] = "tiny"
    os.environ["STUDIO_DATA_DIR"] = str(data)
    os.environ.pop("STUDIO_ALLOWED_MODELS", None)
    from lib import pipeline

    pipeline.get_model("tiny")  # AppTest runs in-process: every test shares this load
    yield data
    for k, v in old.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v


def make_app(page: str = "app.py"):
    from streamlit.testing.v1 import AppTest

    return AppTest.from_file(str(ROOT / page), default_timeout=180)


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


def overlay(at) -> list[tuple[int, float]]:
    """(segment index, data-salience) of each coloured overlay element on the page."""
    html = "\n".join(h.proto.body for h in at.get("html"))
    out = []
    for tag in re.findall(r"<span[^>]*data-salience=[^>]*>", html):
        out.append((int(re.search(r'data-segment-index="(\d+)"', tag).group(1)),
                    float(re.search(r'data-salience="([^"]+)"', tag).group(1))))
    return out
