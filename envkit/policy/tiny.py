"""A tiny random-init causal LM with a tokenizer trained offline: what CPU tests and smoke runs use.

No model can be downloaded where envkit's tests run, yet the policy wrapper and the
trainer must be exercised on a real ``transformers`` model with a real tokenizer and
chat template. :func:`tiny_tokenizer` trains a byte-level BPE (``tokenizers``) on the
bundled synthetic world's passages and questions plus the protocol's tags, so any text
encodes and envkit's own text encodes compactly; :func:`tiny_model` builds a
randomly initialised Qwen2 of about a million parameters on top of it.

Both are deterministic (same arguments, same tokenizer, same weights) and take about
a second to build. :func:`save_tiny_model` writes them as a normal Hugging Face folder
that ``HFPolicy.from_pretrained`` and ``envkit eval --policy hf:DIR`` load.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from envkit.protocol.prompts import qa_prompt
from envkit.protocol.tags import QA_TAGS, SHOP_TAGS, TagSet

__all__ = ["CHATML_TEMPLATE", "save_tiny_model", "tiny_model", "tiny_policy", "tiny_tokenizer"]

CHATML_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>\\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
)
"""The ChatML template Qwen2 models use (without a default system message)."""

_SPECIAL_TOKENS = ("<|endoftext|>", "<|im_start|>", "<|im_end|>")


def _protocol_tags(tag_sets: Iterable[TagSet]) -> list[str]:
    tags: list[str] = []
    for tags_ in tag_sets:
        for name in (tags_.state, *tags_.actions, tags_.information):
            for tag in (f"<{name}>", f"</{name}>"):
                if tag not in tags:
                    tags.append(tag)
    return tags


def _world_texts(passages: int, seed: int) -> Iterator[str]:
    from composers.sources.synthetic import SyntheticSource

    source = SyntheticSource(passages=passages, seed=seed, questions=1000)
    for _, title, text in source.documents():
        yield f"{title}\n{text}"
    for split in ("train", "test"):
        questions = source.questions(split)
        for objective in questions:
            yield f"{objective.question} {'; '.join(objective.golden_answers)}"
        for start in range(0, 64, 4):  # the task prompt's own wording, and the chat roles
            yield qa_prompt(questions[start : start + 4], QA_TAGS, 3)
            yield "user\nassistant\nsystem\n"


def tiny_tokenizer(vocab_size: int = 2048, passages: int = 2000, seed: int = 0) -> Any:
    """A byte-level BPE tokenizer trained offline on the bundled world, with ChatML and the protocol tags.

    The protocol's tags are single tokens (so a stop at ``</answer>`` is one token);
    ``<|im_end|>`` is the end-of-sequence token and ``<|endoftext|>`` the padding
    token, as in Qwen2. Padding is on the left, for batched generation.
    """
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    backend = Tokenizer(models.BPE())
    backend.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    backend.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=list(_SPECIAL_TOKENS),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    backend.train_from_iterator(_world_texts(passages, seed), trainer=trainer)
    backend.add_tokens(_protocol_tags((QA_TAGS, SHOP_TAGS)))
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=backend,
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        padding_side="left",
        model_max_length=32_768,
    )
    tokenizer.chat_template = CHATML_TEMPLATE
    return tokenizer


def tiny_model(
    tokenizer: Any | None = None,
    *,
    hidden_size: int = 64,
    layers: int = 2,
    heads: int = 4,
    kv_heads: int = 2,
    seed: int = 0,
    attn_implementation: str = "sdpa",
) -> Any:
    """A randomly initialised Qwen2 causal LM sized for CPU tests (float32, eval mode)."""
    import torch
    from transformers import Qwen2Config, Qwen2ForCausalLM

    tokenizer = tokenizer if tokenizer is not None else tiny_tokenizer()
    config = Qwen2Config(
        vocab_size=len(tokenizer),
        hidden_size=hidden_size,
        intermediate_size=hidden_size * 4,
        num_hidden_layers=layers,
        num_attention_heads=heads,
        num_key_value_heads=kv_heads,
        max_position_embeddings=32_768,
        tie_word_embeddings=True,
        bos_token_id=None,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    config._attn_implementation = attn_implementation
    torch.manual_seed(seed)
    model = Qwen2ForCausalLM(config).to(torch.float32)  # type: ignore[arg-type]  # transformers' stub of .to
    model.generation_config.eos_token_id = tokenizer.eos_token_id
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    return model.eval()


def save_tiny_model(path: str | Path, **model_options: Any) -> Path:
    """Write the tiny tokenizer and model to ``path`` as a Hugging Face folder."""
    path = Path(path)
    tokenizer = tiny_tokenizer()
    model = tiny_model(tokenizer, **model_options)
    model.save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path


def tiny_policy(**policy_options: Any) -> Any:
    """An :class:`~envkit.policy.hf.HFPolicy` around the tiny model (CPU, float32)."""
    from envkit.policy.hf import HFPolicy

    tokenizer = tiny_tokenizer()
    return HFPolicy(tiny_model(tokenizer), tokenizer, **policy_options)
