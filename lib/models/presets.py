"""keras-hub presets: built-in names and `kaggle://` handles (through kagglehub), `hf://` handles,
and local preset folders (what `save_to_preset` writes).

Tokenisation never goes through keras-hub's preprocessors (they need TensorFlow): we read the
preset's SentencePiece file and tokenise with sentencepiece ourselves.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from lib.errors import ModelLoadError
from lib.models.loaded_model import LoadedModel, weights_fingerprint
from lib.tokenizer import TextTokenizer

VOCAB_FILE = "assets/tokenizer/vocabulary.spm"
KAGGLE_PREFIX = "kaggle://"
HF_PREFIX = "hf://"


def is_builtin_preset(name: str) -> bool:
    import keras_hub  # noqa: F401  (registers the built-in presets)
    from keras_hub.src.utils import preset_utils

    return name in preset_utils.BUILTIN_PRESETS


def kaggle_credentials_present() -> bool:
    if os.environ.get("KAGGLE_USERNAME") and os.environ.get("KAGGLE_KEY"):
        return True
    config_dir = Path(os.environ.get("KAGGLE_CONFIG_DIR", Path.home() / ".kaggle"))
    return (config_dir / "kaggle.json").is_file()


def save_preset(model: LoadedModel, folder: Path) -> Path:
    """Write `model` as a keras-hub preset folder (backbone config + weights + vocabulary)."""
    import keras_hub

    folder = Path(folder)
    model.backbone.save_to_preset(str(folder))
    tokenizer_cls = (keras_hub.models.Gemma3Tokenizer if model.family == "gemma3"
                     else keras_hub.models.GemmaTokenizer)
    kwargs = {"has_vision_tokens": False} if model.family == "gemma3" else {}
    tokenizer_cls(proto=model.tokenizer.proto, **kwargs).save_to_preset(str(folder))
    return folder


def load_preset(preset: str, *, spec: str | None = None, chat_template: bool | None = None,
                fingerprint: str | None = None, name: str | None = None) -> LoadedModel:
    """Load a keras-hub preset (name, handle or folder) as a LoadedModel.

    Raises ModelLoadError with the reason and what to do: no Kaggle credentials, no network,
    not a Gemma preset, missing files.
    """
    import keras_hub
    from keras_hub.src.utils import preset_utils

    remote = not Path(preset).expanduser().is_dir()
    if remote and (preset.startswith(KAGGLE_PREFIX) or is_builtin_preset(preset)):
        if not kaggle_credentials_present():
            raise ModelLoadError(
                f"Model {preset!r} is downloaded from Kaggle, which needs Kaggle credentials: set "
                "KAGGLE_USERNAME and KAGGLE_KEY, or put kaggle.json in ~/.kaggle (and accept the "
                "Gemma licence on kaggle.com). This server may also have no network; the "
                "'embedded' model works offline."
            )
    try:
        backbone = keras_hub.models.Backbone.from_preset(preset)
        proto = Path(preset_utils.get_file(preset, VOCAB_FILE)).read_bytes()
    except ModelLoadError:
        raise
    except (FileNotFoundError, ValueError) as err:
        raise ModelLoadError(f"Model {preset!r} could not be loaded: {err}") from err
    except Exception as err:  # network layers raise many types; say what happened, plainly
        reason = f"{type(err).__name__}: {err}".strip()
        raise ModelLoadError(
            f"Model {preset!r} could not be downloaded or read ({reason[:300]}). Check the network "
            "and credentials, or use the 'embedded' model, which works offline."
        ) from err
    if chat_template is None:
        chat_template = "instruct" in preset or "_it" in preset
    try:
        return LoadedModel(
            spec=spec or preset,
            name=name or _preset_name(preset),
            backbone=backbone,
            tokenizer=TextTokenizer(proto),
            fingerprint=fingerprint or weights_fingerprint(backbone),
            default_chat_template=chat_template,
        )
    except ValueError as err:
        raise ModelLoadError(f"Model {preset!r} is not supported: {err}") from err


def _preset_name(preset: str) -> str:
    folder = Path(preset).expanduser()
    meta = folder / "metadata.json"
    if meta.is_file():
        try:
            data = json.loads(meta.read_text())
            if data.get("name"):
                return str(data["name"])
        except (OSError, ValueError):
            pass
    return folder.name if folder.is_dir() else preset
