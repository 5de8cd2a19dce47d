"""Model specs: tiny models, local preset folders, Kaggle presets with the network mocked."""

from __future__ import annotations

import socket

import numpy as np
import pytest

from lib import pipeline
from lib.errors import ModelLoadError
from lib.models import registry
from lib.models.presets import load_preset, save_preset


@pytest.fixture(autouse=True)
def no_network(monkeypatch):
    """Any attempt to open a socket to another host fails the test loudly."""
    real_connect = socket.socket.connect

    def guarded(self, address):
        host = address[0] if isinstance(address, tuple) else address
        if host not in ("127.0.0.1", "::1", "localhost"):
            raise AssertionError(f"test tried to reach {address}")
        return real_connect(self, address)

    monkeypatch.setattr(socket.socket, "connect", guarded)


@pytest.fixture(autouse=True)
def no_kaggle_credentials(monkeypatch, tmp_path):
    for var in ("KAGGLE_USERNAME", "KAGGLE_KEY"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("KAGGLE_CONFIG_DIR", str(tmp_path / "no-kaggle"))


def test_tiny_models_have_every_feature_on():
    g1 = pipeline.get_model("tiny-gemma1")
    g2 = pipeline.get_model("tiny-gemma2")
    g3 = pipeline.get_model("tiny")
    assert (g1.family, g2.family, g3.family) == ("gemma", "gemma2", "gemma3")
    b2 = g2.backbone
    assert b2.final_logit_soft_cap and b2.attention_logit_soft_cap
    assert b2.use_sliding_window_attention and b2.sliding_window_size < 32
    windows = [layer.use_sliding_window_attention for layer in g3.backbone.transformer_layers]
    assert any(windows) and not all(windows)  # both local and global attention layers
    assert pipeline.get_model("tiny-gemma3") is not g3  # same config, separate cache entry
    assert pipeline.get_model("tiny-gemma3").fingerprint == g3.fingerprint


def test_model_is_loaded_once_and_shared():
    assert pipeline.get_model("tiny") is pipeline.get_model("tiny")


def test_saved_preset_folder_loads_back_identically(tmp_path):
    model = pipeline.get_model("tiny-gemma2")
    folder = save_preset(model, tmp_path / "preset")
    assert (folder / "config.json").is_file()
    loaded = pipeline.get_model(str(folder))
    assert loaded.family == "gemma2" and loaded.fingerprint == model.fingerprint
    ids = [2, *model.tokenizer.encode("Recommendation: Avoid.")]
    np.testing.assert_allclose(loaded.functions.logits_at(ids, [len(ids) - 1]),
                               model.functions.logits_at(ids, [len(ids) - 1]), atol=1e-6)
    assert loaded.tokenizer.encode("naïve 🙂") == model.tokenizer.encode("naïve 🙂")


def test_kaggle_preset_without_credentials_says_so():
    with pytest.raises(ModelLoadError, match="KAGGLE_USERNAME and KAGGLE_KEY"):
        registry.load_uncached("gemma2_instruct_2b_en", None)
    with pytest.raises(ModelLoadError, match="Kaggle credentials"):
        registry.load_uncached("kaggle://google/gemma-3/keras/gemma3_instruct_1b", None)


def test_kaggle_preset_with_credentials_but_no_network_says_so(monkeypatch):
    from keras_hub.src.utils import preset_utils

    monkeypatch.setenv("KAGGLE_USERNAME", "someone")
    monkeypatch.setenv("KAGGLE_KEY", "secret")

    def offline(handle, path=None, **kwargs):
        raise ConnectionError("Failed to resolve 'www.kaggle.com'")

    monkeypatch.setattr(preset_utils.kagglehub, "model_download", offline)
    with pytest.raises(ModelLoadError, match="could not be downloaded.*Failed to resolve"):
        registry.load_uncached("gemma2_instruct_2b_en", None)


def test_kaggle_preset_goes_through_the_real_from_preset_path(monkeypatch, tmp_path):
    """kagglehub is mocked to serve a preset folder we wrote: the rest is keras-hub's own code."""
    from keras_hub.src.utils import preset_utils

    folder = save_preset(pipeline.get_model("tiny"), tmp_path / "served")
    monkeypatch.setenv("KAGGLE_USERNAME", "someone")
    monkeypatch.setenv("KAGGLE_KEY", "secret")
    requested = []

    def serve(handle, path=None, **kwargs):
        requested.append((handle, path))
        return str(folder / path)

    monkeypatch.setattr(preset_utils.kagglehub, "model_download", serve)
    model = registry.load_uncached("gemma3_instruct_1b", None)
    assert requested and all("gemma" in h for h, _ in requested)
    assert {p for _, p in requested} >= {"config.json", "assets/tokenizer/vocabulary.spm"}
    assert model.default_chat_template is True  # instruct presets default to the chat template
    assert model.fingerprint == pipeline.get_model("tiny").fingerprint


@pytest.mark.parametrize("spec,pattern", [
    ("no-such-model", "Unknown model 'no-such-model'"),
    ("/nonexistent/folder", "does not exist"),
    ("./relative/missing", "does not exist"),
])
def test_bad_specs_get_clear_errors(spec, pattern):
    with pytest.raises(ModelLoadError, match=pattern):
        registry.load_uncached(spec, None)


def test_a_folder_without_a_preset_is_refused(tmp_path):
    with pytest.raises(ModelLoadError, match="could not be"):
        load_preset(str(tmp_path))


def test_allowed_models_come_from_the_server_configuration(monkeypatch):
    monkeypatch.setenv("STUDIO_MODEL", "tiny")
    monkeypatch.delenv("STUDIO_ALLOWED_MODELS", raising=False)
    assert pipeline.allowed_model_specs() == ["tiny"]
    monkeypatch.setenv("STUDIO_ALLOWED_MODELS", "embedded, tiny-gemma2")
    assert pipeline.allowed_model_specs() == ["tiny", "embedded", "tiny-gemma2"]
