"""Policies: what writes an agent's turns. Scripted agents, a Hugging Face model, or vLLM, behind one interface."""

from envkit.policy.base import AgentPolicy, Generation, Policy, TurnRequest
from envkit.policy.hf import GenerationSettings, HFPolicy
from envkit.policy.scripted import Agent, OracleAgent, RandomAgent
from envkit.policy.specs import load_policy

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
