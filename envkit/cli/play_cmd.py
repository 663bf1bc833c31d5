"""``envkit play``: a person plays one episode in the terminal, or watches a policy play it.

The player sees exactly the context an agent would (the chosen builder applies) and
types either a full protocol turn (``<IS>..</IS><search>..</search>``) or a shortcut:
``search QUERY``, ``answer A1; A2; ...`` or ``quit``. Shortcuts are wrapped into a
protocol turn, so what the env receives is always what a model would send. With
``--policy`` (``smollm2``, ``oracle``, ``hf:DIR``...) the policy writes every turn instead,
from the same context, and each turn is shown as it was written.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import gymnasium as gym
import typer
from rich.console import Console

from envkit.cli.env_flags import (
    ContextFlag,
    CorpusFlag,
    MaxTurnsFlag,
    NObjectivesFlag,
    ProtocolFlag,
    RetrieverFlag,
    SplitFlag,
    StateTagFlag,
    StrategyFlag,
    TaskSourceFlag,
    TopKFlag,
    env_options,
    tasks_env_options,
)
from envkit.cli.terminal import play_in_terminal
from envkit.envs import TASKS_ENV_ID
from envkit.envs.protocols import DEFAULT_PROTOCOL
from envkit.policy.specs import POLICY_SPECS
from envkit.protocol.tags import QA_TAGS, TagSet

__all__ = ["play", "to_turn"]


def to_turn(line: str, state: str, tags: TagSet = QA_TAGS) -> str:
    """A typed line as a protocol turn in the env's ``tags`` (full turns pass through unchanged)."""
    stripped = line.strip()
    command, _, rest = stripped.partition(" ")
    if command.lower() in ("search", "s") and "search" in tags.actions:
        return tags.format_turn(state, "search", rest)
    if command.lower() in ("answer", "a") and "answer" in tags.actions:
        return tags.format_turn(state, "answer", rest)
    return line


def _watch(
    env: gym.Env[str, str], observation: str, info: dict, spec: str, max_new_tokens: int, seed: int, console: Console
) -> tuple[float, dict] | None:
    """A policy plays the episode turn by turn (greedy for models); each context and turn is shown."""
    from envkit.policy.base import TurnRequest
    from envkit.policy.settings import GenerationSettings
    from envkit.policy.specs import load_policy

    tags = env.get_wrapper_attr("tags")
    settings = GenerationSettings(max_new_tokens=max_new_tokens, temperature=0.0)
    agent = load_policy(spec, settings, seed=seed, state_tag=tags.state)
    agent.start(0, env.get_wrapper_attr("task"))
    stops = tuple(f"</{a}>" for a in tags.actions)
    reward, done = 0.0, False
    while not done:
        console.rule(f"context the agent sees ({info['context_tokens']} tokens)")
        console.print(observation, markup=False)
        turn = agent.act([TurnRequest(0, observation, info, stops)])[0]
        if turn.over_budget:
            console.print(f"the context ({turn.context_tokens} tokens) is over the policy's budget: episode ends")
            return None
        console.rule(f"{spec} writes ({turn.generated_tokens} tokens, {turn.latency_s:.1f} s)")
        console.print(turn.text, markup=False)
        observation, raw_reward, terminated, truncated, info = env.step(turn.text)
        reward = float(raw_reward)
        done = terminated or truncated
    console.rule("episode over")
    return float(reward), info


def play(
    n_objectives: NObjectivesFlag = 2,
    source: TaskSourceFlag = "synthetic",
    strategy: StrategyFlag = "parallel",
    split: SplitFlag = "test",
    seed: Annotated[int, typer.Option(help="Seed: picks the task.")] = 0,
    context: ContextFlag = "consolidated",
    task_file: Annotated[Path | None, typer.Option(help="Play a task from a composed task file instead.")] = None,
    policy: Annotated[str | None, typer.Option(help=f"Watch a policy play instead of typing: {POLICY_SPECS}.")] = None,
    max_new_tokens: Annotated[int, typer.Option(min=1, help="Longest turn a model policy may write.")] = 128,
    corpus: CorpusFlag = None,
    retriever: RetrieverFlag = None,
    top_k: TopKFlag = None,
    max_turns: MaxTurnsFlag = None,
    protocol: ProtocolFlag = DEFAULT_PROTOCOL,
    state_tag: StateTagFlag = None,
) -> None:
    """Play one episode yourself (search, keep notes, answer every question), or watch a policy play it."""
    console = Console(highlight=False)
    options = tasks_env_options(task_file, n_objectives, source, strategy, split, context)
    options.update(env_options(corpus, retriever, top_k, max_turns, protocol, state_tag))
    env = gym.make(TASKS_ENV_ID, seed=seed, **options)
    observation, info = env.reset(seed=seed)
    if policy is not None:
        played = _watch(env, observation, info, policy, max_new_tokens, seed, console)
    else:
        tags = env.get_wrapper_attr("tags")
        state = f"<{tags.state}>...</{tags.state}>"
        console.print(f"Type 'search QUERY', 'answer A1; A2; ...', a full {state} turn, or 'quit'.\n", markup=False)
        played = play_in_terminal(
            env, observation, info, lambda line: to_turn(line, "(played by a person)", tags), console
        )
    if played is None:
        return
    reward, info = played
    task = env.get_wrapper_attr("task")
    scores = info.get("objective_scores") or [0.0] * task.n_objectives
    for index, (objective, score) in enumerate(zip(task.objectives, scores, strict=True), 1):
        mark = "achieved" if score == 1.0 else f"score {score:.2f} (gold: {objective.golden_answers[0]})"
        console.print(f"{index}. [{objective.kind}] {objective.question[:80]}: {mark}", markup=False)
    console.print(f"episode over after {info['turn']} turns")
    console.print(f"reward {reward:.2f}, peak context {info['peak_context_tokens']} tokens")
