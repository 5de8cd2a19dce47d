"""The tiny Gemma 3 test model is built from the real Gemma 3's architecture settings."""

from __future__ import annotations

import json
from pathlib import Path

from lib.models.gemma3_config import GEMMA3_ARCHITECTURE

FIXTURES = Path(__file__).resolve().parent / "fixtures"


def test_tiny_gemma3_has_every_gemma3_architecture_setting():
    from lib.models.tiny import tiny_backbone

    config = tiny_backbone("gemma3").get_config()
    for key, value in GEMMA3_ARCHITECTURE.items():
        assert config[key] == value, key
    assert config["num_layers"] == 6 and config["sliding_window_size"] == 8


def test_tiny_weights_are_those_saved_runs_were_made_with():
    from lib import pipeline

    saved = json.loads((FIXTURES / "saved_run_debug_v1.json").read_text(encoding="utf-8"))
    assert pipeline.get_model("tiny").fingerprint == saved["model"]["fingerprint"]
