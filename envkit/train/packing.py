"""Deprecated: the exact packer moved to :mod:`envkit.packing` (trainer-agnostic, used beyond envkit's trainers)."""

from envkit.deprecations import moved_names

__getattr__ = moved_names(
    __name__,
    {
        name: "envkit.packing"
        for name in (
            "PackedBatch",
            "TurnTokens",
            "attention_bias",
            "episode_turns",
            "pack_episodes",
            "pack_turns",
            "token_logps",
        )
    },
)
