"""Policies: what writes an agent's turns. Scripted agents, a Hugging Face model, or vLLM, behind one interface.

Scripted agents import with the base install; :class:`HFPolicy` needs torch and
transformers (the ``policy`` extra) and is imported on first use, so ``import
envkit.policy`` never pulls torch in.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from envkit.policy.base import AgentPolicy, Generation, Policy, TurnRequest
from envkit.policy.scripted import Agent, OracleAgent, RandomAgent
from envkit.policy.settings import GenerationSettings
from envkit.policy.specs import load_policy

if TYPE_CHECKING:
    from envkit.policy.hf import HFPolicy

__all__ = [
    "Agent",
    "AgentPolicy",
    "Generation",
    "GenerationSettings",
    "HFPolicy",
    "OracleAgent",
    "Policy",
    "RandomAgent",
    "TurnRequest",
    "load_policy",
]


def __getattr__(name: str) -> Any:
    if name == "HFPolicy":  # torch-backed: imported when asked for
        from envkit.policy.hf import HFPolicy

        return HFPolicy
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
