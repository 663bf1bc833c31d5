"""Random-init models with a real model's shape, for benchmarks that need its size, not its weights (no download)."""

from __future__ import annotations

from typing import Any

QWEN_7B: dict[str, Any] = {
    "hidden_size": 3584,
    "intermediate_size": 18_944,
    "num_hidden_layers": 28,
    "num_attention_heads": 28,
    "num_key_value_heads": 4,
    "vocab_size": 152_064,
    "tie_word_embeddings": False,
}
QWEN_05B: dict[str, Any] = {
    "hidden_size": 896,
    "intermediate_size": 4864,
    "num_hidden_layers": 24,
    "num_attention_heads": 14,
    "num_key_value_heads": 2,
    "vocab_size": 151_936,
    "tie_word_embeddings": True,
}
SMOKE: dict[str, Any] = {
    "hidden_size": 64,
    "intermediate_size": 128,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "num_key_value_heads": 2,
    "vocab_size": 1000,
    "tie_word_embeddings": False,
}


def qwen_model(shape: dict[str, Any], device: str = "cpu", **overrides: Any) -> Any:
    """A Qwen2 causal LM of ``shape`` (``overrides``: any other config field), seed 0, float32, sdpa.

    Built directly on ``device``: a 7B model's float32 weights are not first
    initialised in CPU memory.
    """
    import torch
    from transformers import Qwen2Config, Qwen2ForCausalLM

    config = Qwen2Config(max_position_embeddings=32_768, rope_theta=1e6, **{**shape, **overrides})
    config._attn_implementation = "sdpa"
    torch.manual_seed(0)
    with torch.device(device):
        return Qwen2ForCausalLM(config)
