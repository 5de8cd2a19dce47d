"""Tiny, randomly initialised Gemma 1/2/3 models for tests and offline demos.

Every architectural feature is switched on and made to bite: Gemma 2 soft caps are small enough
to clip random logits, sliding windows are shorter than test sequences, and tiny Gemma 3 has six
layers so that both local (sliding) and global attention layers exist.
"""

from __future__ import annotations

import keras

from lib.models.gemma3_config import gemma3_backbone
from lib.models.loaded_model import LoadedModel, weights_fingerprint
from lib.models.tiny_vocab import VOCAB_SIZE, tiny_vocab_proto
from lib.tokenizer import TextTokenizer

TINY_SPECS = ("tiny", "tiny-gemma1", "tiny-gemma2", "tiny-gemma3")
TINY_SEED = 1234
SLIDING_WINDOW = 8
_FAMILY_NAMES = {"gemma": "Gemma 1", "gemma2": "Gemma 2", "gemma3": "Gemma 3"}


def tiny_backbone(family: str = "gemma3", *, seed: int = TINY_SEED, dtype: str = "float32",
                  sliding_window: int = SLIDING_WINDOW):
    """A freshly initialised tiny backbone; the same seed gives the same weights."""
    import keras_hub

    keras.utils.set_random_seed(seed)
    common = dict(
        vocabulary_size=VOCAB_SIZE,
        num_query_heads=2,
        num_key_value_heads=1,
        hidden_dim=16,
        intermediate_dim=32,
        head_dim=8,
        dtype=dtype,
    )
    if family == "gemma":
        backbone = keras_hub.models.GemmaBackbone(num_layers=2, **common)
    elif family == "gemma2":
        backbone = keras_hub.models.GemmaBackbone(
            num_layers=3,
            query_head_dim_normalize=False,
            use_post_ffw_norm=True,
            use_post_attention_norm=True,
            final_logit_soft_cap=2.0,
            attention_logit_soft_cap=3.0,
            use_sliding_window_attention=True,
            sliding_window_size=sliding_window,
            **common,
        )
    elif family == "gemma3":
        # The real Gemma 3's architecture (lib.models.gemma3_config), at tiny sizes.
        backbone = gemma3_backbone(num_layers=6, sliding_window_size=sliding_window, **common)
    else:
        raise ValueError(f"unknown tiny family {family!r}; use gemma, gemma2 or gemma3")
    _randomise_norm_scales(backbone, seed)
    return backbone


def _randomise_norm_scales(backbone, seed: int) -> None:
    # RMSNorm scales start at zero (x * (1 + 0)); random ones make a wrong norm visible in tests.
    rng = keras.random.SeedGenerator(seed)
    for variable in backbone.weights:
        if variable.path.endswith("scale"):
            variable.assign(keras.random.normal(variable.shape, stddev=0.3, seed=rng))


# Gemma 1/2 run keras-hub's blocks, whose cached attention builds cache x cache masks.
TINY_TOKEN_LIMITS = {"gemma3": 8192, "gemma2": 1024, "gemma": 1024}


def load_tiny(spec: str) -> LoadedModel:
    family = {"tiny": "gemma3", "tiny-gemma3": "gemma3", "tiny-gemma2": "gemma2",
              "tiny-gemma1": "gemma"}[spec]
    backbone = tiny_backbone(family)
    return LoadedModel(
        spec=spec,
        name=f"Tiny random {_FAMILY_NAMES[family]} (test model, random weights)",
        backbone=backbone,
        tokenizer=TextTokenizer(tiny_vocab_proto()),
        fingerprint=weights_fingerprint(backbone),
        # Tiny Gemma 3 runs the layered salience and our own generation stack: it takes whole
        # documents like the embedded model (tests of long-document features run on it).
        max_prompt_tokens=TINY_TOKEN_LIMITS[family],
        max_salience_tokens=TINY_TOKEN_LIMITS[family],
    )
