"""Policies: scripted agents now; the GPU policy wrapper builds on the same interface."""

from envkit.policy.scripted import Agent, OracleAgent, RandomAgent

__all__ = ["Agent", "OracleAgent", "RandomAgent"]
