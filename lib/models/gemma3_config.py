"""The Gemma 3 architecture, in one place: the embedded model (converted from GGUF) and the
tiny test model both build their keras-hub backbone here, so the test model runs exactly the
features of the real one and only its sizes differ."""

from __future__ import annotations

from typing import Any

# What makes a Gemma 3 decoder (keras-hub's Gemma3Backbone arguments), independent of size.
GEMMA3_ARCHITECTURE: dict[str, Any] = {
    "image_size": 896,
    "query_head_dim_normalize": True,
    "use_query_key_norm": True,
    "use_post_ffw_norm": True,
    "use_post_attention_norm": True,
    "use_sliding_window_attention": True,
}


def gemma3_backbone(*, vocabulary_size: int, num_layers: int, num_query_heads: int,
                    num_key_value_heads: int, hidden_dim: int, intermediate_dim: int,
                    head_dim: int, sliding_window_size: int, dtype: str = "float32",
                    **extra: Any) -> Any:
    """A Gemma3Backbone of these sizes with the Gemma 3 architecture (`extra`: e.g.
    `layer_norm_epsilon` read from a checkpoint)."""
    import keras_hub

    return keras_hub.models.Gemma3Backbone(
        vocabulary_size=vocabulary_size, num_layers=num_layers, num_query_heads=num_query_heads,
        num_key_value_heads=num_key_value_heads, hidden_dim=hidden_dim,
        intermediate_dim=intermediate_dim, head_dim=head_dim,
        sliding_window_size=sliding_window_size, dtype=dtype, **GEMMA3_ARCHITECTURE, **extra)
