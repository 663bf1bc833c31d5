"""``HFPolicy``: a transformers causal LM behind the policy interface, held to the protocol.

For a batch of turn requests it renders each context (the messages the protocol's
context builder retained) with the tokenizer's chat template, generates for the whole
batch at once with left padding, stops each row at the first closing tag of an env
action (``</search>``, ``</answer>``, ``</action>``...) and returns the turns.

It never feeds the model more than the protocol allows: the context is exactly what
:class:`~envkit.envs.wrappers.ProtocolContext` retained, and a context longer than
``max_context_tokens`` is not generated from at all but returned as ``over_budget``
(the rollout runner records the violation and ends the episode), never truncated.

Each generation records its context tokens, generated tokens and latency, the token
ids of prompt and completion and the completion's log-probabilities (from the raw
logits at the sampling temperature: what the trainer's forward must reproduce) and,
on CUDA, the peak GPU memory of the batch.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from composers.records import Task
from envkit.policy.base import Generation, TurnRequest, generate_within_budget
from envkit.protocol.context import Message, render_messages

__all__ = ["GenerationSettings", "HFPolicy", "choose_device", "encode_context", "render_context"]


@dataclass(frozen=True, slots=True)
class GenerationSettings:
    """Sampling settings; ``temperature=0`` means greedy decoding."""

    max_new_tokens: int = 256
    temperature: float = 1.0
    top_p: float = 1.0
    top_k: int = 0

    def __post_init__(self) -> None:
        if self.max_new_tokens < 1:
            raise ValueError(f"max_new_tokens must be at least 1, got {self.max_new_tokens}")
        if self.temperature < 0:
            raise ValueError(f"temperature must be non-negative, got {self.temperature}")
        if not 0 < self.top_p <= 1:
            raise ValueError(f"top_p must be in (0, 1], got {self.top_p}")

    def generate_kwargs(self) -> dict[str, Any]:
        if self.temperature == 0:
            return {"do_sample": False}
        return {"do_sample": True, "temperature": self.temperature, "top_p": self.top_p, "top_k": self.top_k}


def render_context(tokenizer: Any, messages: Sequence[Message]) -> str:
    """The exact text a model reads for a context: its chat template, or plain text without one."""
    if getattr(tokenizer, "chat_template", None):
        return tokenizer.apply_chat_template(list(messages), add_generation_prompt=True, tokenize=False)
    return render_messages(messages) + "\n\n"


def encode_context(tokenizer: Any, messages: Sequence[Message]) -> list[int]:
    """Token ids of a rendered context (the chat template's own special tokens included).

    Every model policy (local, vLLM, a completions server) sends these ids, so the
    trainer sees the same tokens whichever engine sampled the turn.
    """
    return tokenizer(render_context(tokenizer, messages), add_special_tokens=False)["input_ids"]


def choose_device(device: str = "auto") -> tuple[str, Any]:
    """``auto``: CUDA with bfloat16 when there is a GPU, else CPU with float32."""
    import torch

    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    dtype = torch.bfloat16 if device.startswith("cuda") and torch.cuda.is_bf16_supported() else torch.float32
    return device, dtype


class HFPolicy:
    """A Hugging Face causal LM that writes protocol turns for a batch of episodes.

    Args:
        model: a ``transformers`` causal LM (moved to ``device``).
        tokenizer: its tokenizer; its chat template is used when it has one, else the
            messages are joined as plain text (as :func:`render_messages` shows them).
        generation: sampling settings.
        max_context_tokens: the budget; a longer context is an ``over_budget`` turn.
        device: ``"auto"`` (CUDA when present), ``"cpu"``, ``"cuda:1"``...
        seed: seeds torch's generator before each batch when given (reproducible runs).

    """

    def __init__(
        self,
        model: Any,
        tokenizer: Any,
        generation: GenerationSettings | None = None,
        max_context_tokens: int = 8192,
        device: str = "auto",
        seed: int | None = None,
    ) -> None:
        if max_context_tokens < 1:
            raise ValueError(f"max_context_tokens must be at least 1, got {max_context_tokens}")
        self.device, _ = choose_device(device)
        self.model = model.to(self.device)
        self.tokenizer = tokenizer
        if tokenizer.pad_token_id is None:
            tokenizer.pad_token = tokenizer.eos_token
        self.generation = generation or GenerationSettings()
        self.max_context_tokens = max_context_tokens
        self.seed = seed

    @classmethod
    def from_pretrained(cls, path: str, device: str = "auto", **options: Any) -> HFPolicy:
        """Load a model folder (or cached hub id): bfloat16 on CUDA, float32 on CPU."""
        from transformers import AutoModelForCausalLM, AutoTokenizer

        device, dtype = choose_device(device)
        tokenizer = AutoTokenizer.from_pretrained(path, padding_side="left")
        model = AutoModelForCausalLM.from_pretrained(path, dtype=dtype)
        return cls(model.eval(), tokenizer, device=device, **options)

    # -- the policy interface --------------------------------------------------------

    def start(self, slot: int, task: Task) -> None:
        """Learned policies are not told the task: it is in the prompt."""

    def render(self, messages: Sequence[Message]) -> str:
        """The exact text the model reads for a context."""
        return render_context(self.tokenizer, messages)

    def encode(self, messages: Sequence[Message]) -> list[int]:
        """Token ids of a rendered context (the chat template's own special tokens included)."""
        return encode_context(self.tokenizer, messages)

    def act(self, requests: Sequence[TurnRequest]) -> list[Generation]:
        prompts = [self.encode(r.messages) for r in requests]
        return generate_within_budget(prompts, requests, self.max_context_tokens, self._generate)

    # -- generation ------------------------------------------------------------------

    def _generate(self, prompts: list[list[int]], stops: tuple[str, ...]) -> list[Generation]:
        import torch

        width = max(len(p) for p in prompts)
        pad = self.tokenizer.pad_token_id
        input_ids = torch.tensor([[pad] * (width - len(p)) + p for p in prompts], device=self.device)
        attention_mask = torch.tensor([[0] * (width - len(p)) + [1] * len(p) for p in prompts], device=self.device)
        cuda = str(self.device).startswith("cuda")
        if cuda:
            torch.cuda.reset_peak_memory_stats(self.device)
        if self.seed is not None:
            torch.manual_seed(self.seed)
        options: dict[str, Any] = dict(self.generation.generate_kwargs())
        if stops:
            options.update(stop_strings=list(stops), tokenizer=self.tokenizer)
        started = time.perf_counter()
        with torch.inference_mode():
            output = self.model.generate(
                input_ids=input_ids,
                attention_mask=attention_mask,
                max_new_tokens=self.generation.max_new_tokens,
                return_dict_in_generate=True,
                output_logits=True,
                pad_token_id=pad,
                **options,
            )
        latency = time.perf_counter() - started
        peak = int(torch.cuda.max_memory_allocated(self.device)) if cuda else None
        new_tokens = output.sequences[:, width:]
        logits = torch.stack(output.logits, dim=1).float()  # (batch, new tokens, vocab), raw
        temperature = self.generation.temperature or 1.0
        logprobs = torch.log_softmax(logits / temperature, dim=-1)
        chosen = logprobs.gather(-1, new_tokens.unsqueeze(-1)).squeeze(-1)
        generations = []
        for row, prompt in enumerate(prompts):
            ids = self._turn_tokens(new_tokens[row].tolist(), stops)
            logprobs = chosen[row, : len(ids)].tolist()
            generations.append(Generation.sampled(self._turn_text(ids, stops), prompt, ids, latency, logprobs, peak))
        return generations

    def _turn_tokens(self, ids: list[int], stops: tuple[str, ...]) -> list[int]:
        """The row's tokens up to the end of sequence, or to the token that completes a stop tag."""
        eos = {self.tokenizer.eos_token_id, self.tokenizer.pad_token_id}
        end = next((k + 1 for k, token in enumerate(ids) if token in eos), len(ids))
        ids = ids[:end]
        if stops and any(s in self.tokenizer.decode(ids) for s in stops):
            low, high = 1, len(ids)  # the shortest prefix that contains a stop tag (monotone in length)
            while low < high:
                middle = (low + high) // 2
                if any(s in self.tokenizer.decode(ids[:middle]) for s in stops):
                    high = middle
                else:
                    low = middle + 1
            ids = ids[:low]
        return ids

    def _turn_text(self, ids: list[int], stops: tuple[str, ...]) -> str:
        """The turn as the env reads it: special tokens dropped, nothing after the stop tag."""
        text = self.tokenizer.decode(ids, skip_special_tokens=True)
        ends = [text.find(s) + len(s) for s in stops if s in text]
        return text[: min(ends)] if ends else text
