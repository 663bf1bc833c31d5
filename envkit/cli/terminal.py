"""The terminal loop of ``envkit play`` and ``envkit shop play``: show the context, read a line, step."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import gymnasium as gym
from rich.console import Console

__all__ = ["play_in_terminal"]

QUIT = ("quit", "exit", "q")


def play_in_terminal(
    env: gym.Env[str, str], observation: str, info: dict[str, Any], to_turn: Callable[[str], str], console: Console
) -> tuple[float, dict[str, Any]] | None:
    """Play until the episode ends; returns the last reward and info, or ``None`` if the player left."""
    reward = 0.0
    done = False
    while not done:
        console.rule(f"context the agent sees ({info['context_tokens']} tokens)")
        console.print(observation, markup=False)
        try:
            line = input("> ")
        except EOFError:
            console.print("\nend of input: episode abandoned")
            return None
        if line.strip().lower() in QUIT:
            console.print("episode abandoned")
            return None
        observation, raw_reward, terminated, truncated, info = env.step(to_turn(line))
        reward = float(raw_reward)
        done = terminated or truncated
    console.rule("episode over")
    return float(reward), info
