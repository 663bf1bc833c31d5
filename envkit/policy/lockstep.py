"""Lockstep generation across processes whose parameters are sharded (ZeRO-3, FSDP).

With sharded parameters every forward pass is a collective: each process gathers the
shards of each layer from the others. Multi-turn episodes end at different turns and
turns at different tokens, so a process that stopped generating while another still
decodes leaves that one waiting forever inside its next layer. ``transformers`` solves
this for one ``generate`` call with ``synced_gpus``; a rollout needs it for every turn
of every episode. A :class:`Lockstep` makes each process ask, before each decode step
and each turn, whether any process still has work, and a process with none runs an
idle forward pass (or an empty turn) so the others' collectives complete.
"""

from __future__ import annotations

from typing import Protocol

__all__ = ["DistributedLockstep", "Lockstep"]


class Lockstep(Protocol):
    """Agreement between processes on whether any of them still has work."""

    def any(self, busy: bool) -> bool:
        """True when this process or any other is ``busy``; every process must call it the same number of times."""
        ...


class DistributedLockstep:
    """A :class:`Lockstep` over ``torch.distributed`` (one all-reduce of one number per call)."""

    def __init__(self, device: str = "cpu") -> None:
        self.device = device

    def any(self, busy: bool) -> bool:
        """Whether any process of the default group is busy."""
        import torch
        import torch.distributed as dist

        flag = torch.tensor([1.0 if busy else 0.0], device=self.device)
        dist.all_reduce(flag, op=dist.ReduceOp.MAX)
        return bool(flag.item() > 0)
