"""The policy interface the rollout runner drives: a batch of turn requests in, one generation each out.

A :class:`Policy` plays several episodes at once, one per *slot*. The runner calls
``start(slot, task)`` when a slot begins an episode (scripted agents need the task;
learned policies ignore it), then ``act(requests)`` with one :class:`TurnRequest` per
slot that waits for a turn. Each request carries the context the protocol allows
(``messages``, from :class:`~envkit.envs.wrappers.ProtocolContext`) and the closing tags
of the env's actions, where generation stops.

A :class:`Generation` is the turn plus its accounting: context and generated tokens,
latency and, for model policies, the token ids and log-probabilities the trainer needs.
``over_budget`` marks a context the policy refused to read because it exceeds its token
budget (a recorded violation, never a silent truncation).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from composers.records import Task
from envkit.protocol.agent import Agent
from envkit.protocol.context import Message
from envkit.protocol.tokens import TokenCounter, count_word_pieces

__all__ = ["AgentPolicy", "Generation", "Policy", "TurnRequest", "generate_within_budget", "through_first_stop"]


@dataclass(frozen=True, slots=True)
class TurnRequest:
    """What a policy is given for one turn of the episode in ``slot``."""

    slot: int
    observation: str
    info: Mapping[str, Any]
    stop: tuple[str, ...] = ()

    @property
    def messages(self) -> list[Message]:
        """The context as chat messages (the prompt, then the retained turns)."""
        return list(self.info.get("messages") or [{"role": "user", "content": self.observation}])


@dataclass(slots=True)
class Generation:
    """One generated turn and what it cost."""

    text: str
    context_tokens: int
    generated_tokens: int
    latency_s: float
    over_budget: bool = False
    prompt_ids: list[int] | None = None
    completion_ids: list[int] | None = None
    logprobs: list[float] | None = None
    gpu_peak_bytes: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def sampled(
        cls,
        text: str,
        prompt_ids: Sequence[int],
        completion_ids: Sequence[int],
        latency_s: float,
        logprobs: Sequence[float] | None = None,
        gpu_peak_bytes: int | None = None,
    ) -> Generation:
        """A model's turn: token counts from its ids; log-probs kept only when there is one per generated token."""
        kept = [float(x) for x in logprobs] if logprobs is not None and len(logprobs) == len(completion_ids) else None
        return cls(
            text=text,
            context_tokens=len(prompt_ids),
            generated_tokens=len(completion_ids),
            latency_s=latency_s,
            prompt_ids=list(prompt_ids),
            completion_ids=list(completion_ids),
            logprobs=kept,
            gpu_peak_bytes=gpu_peak_bytes,
        )


def through_first_stop(text: str, stops: Sequence[str]) -> str:
    """``text`` up to and including the first stop string (a turn's first closing action tag), or all of it.

    A model may write on past its action; the env reads one turn, so what follows the
    first closing tag is not part of it (MEM1's rollout cuts its responses the same way).
    """
    ends = [text.find(s) + len(s) for s in stops if s and s in text]
    return text[: min(ends)] if ends else text


def generate_within_budget(
    prompts: Sequence[list[int]],
    requests: Sequence[TurnRequest],
    budget: int,
    generate: Callable[[list[list[int]], tuple[str, ...]], list[Generation]],
) -> list[Generation]:
    """What every model policy does with a batch: refuse the contexts over ``budget``, generate the rest at once.

    ``generate(prompts, stops)`` is called once, with the prompts within budget and the
    union of their requests' stop tags; a refused context becomes an ``over_budget``
    generation (nothing generated, nothing truncated).
    """
    results: list[Generation] = [
        Generation("", len(ids), 0, 0.0, over_budget=True, prompt_ids=list(ids)) for ids in prompts
    ]
    within = [i for i, ids in enumerate(prompts) if len(ids) <= budget]
    if within:
        stops = tuple(sorted({s for i in within for s in requests[i].stop}))
        for i, generation in zip(within, generate([list(prompts[i]) for i in within], stops), strict=True):
            results[i] = generation
    return results


class Policy(Protocol):
    """Anything that writes turns for a batch of episodes."""

    def start(self, slot: int, task: Task) -> None:
        """The episode in ``slot`` starts ``task``."""
        ...

    def act(self, requests: Sequence[TurnRequest]) -> list[Generation]:
        """One generation per request, in order."""
        ...


class AgentPolicy:
    """Scripted :class:`~envkit.policy.scripted.Agent` s behind the policy interface, one per slot.

    Tokens are counted with ``token_counter`` (the env's default word-piece count unless
    a tokenizer's counter is given), so scripted and model runs report the same columns.
    """

    def __init__(self, agent_factory: Callable[[], Agent], token_counter: TokenCounter = count_word_pieces) -> None:
        self.agent_factory, self.token_counter = agent_factory, token_counter
        self.agents: dict[int, Agent] = {}

    def start(self, slot: int, task: Task) -> None:
        """Reset the slot's agent on ``task`` (one agent per slot, made on first use)."""
        agent = self.agents.get(slot)
        if agent is None:
            agent = self.agents[slot] = self.agent_factory()
        agent.reset(task)

    def act(self, requests: Sequence[TurnRequest]) -> list[Generation]:
        """Each request's agent writes its turn; tokens are counted as the env counts them."""
        generations = []
        for request in requests:
            started = time.perf_counter()
            text = self.agents[request.slot].act(request.observation, dict(request.info))
            generations.append(
                Generation(
                    text=text,
                    context_tokens=int(request.info.get("context_tokens", self.token_counter(request.observation))),
                    generated_tokens=self.token_counter(text),
                    latency_s=time.perf_counter() - started,
                )
            )
        return generations
