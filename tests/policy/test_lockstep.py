"""Two processes whose every forward pass is a collective (as with ZeRO-3 or FSDP) play different episodes.

Each process runs a different number of episodes, turns and tokens. Without lockstep the
one that finishes first stops calling the model and the other waits forever inside its
next forward pass (a 2-process run timed out on both ranks after 60 s). With it, both
finish, having run exactly the same number of forward passes.
"""

import multiprocessing
import socket
from datetime import timedelta

import pytest

from tests.conftest import SMALL_WORLD, require


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _play(rank: int, port: int, folder: str, results) -> None:
    import torch
    import torch.distributed as dist
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from envkit.envs import QA_ENV_ID
    from envkit.policy.hf import GenerationSettings, HFPolicy
    from envkit.policy.lockstep import DistributedLockstep
    from envkit.rollout.runner import RolloutRunner, env_factory

    torch.set_num_threads(1)
    dist.init_process_group(
        "gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=2, timeout=timedelta(seconds=90)
    )
    model = AutoModelForCausalLM.from_pretrained(folder)
    tokenizer = AutoTokenizer.from_pretrained(folder)
    forwards = []

    def gather_shards(module, args):  # what a sharded model does in every forward: wait for the other process
        dist.all_reduce(torch.zeros(1))
        forwards.append(1)

    model.register_forward_pre_hook(gather_shards)
    lockstep = DistributedLockstep()
    settings = GenerationSettings(max_new_tokens=6 + 10 * rank, temperature=1.0)  # different turn lengths too
    policy = HFPolicy(model, tokenizer, settings, device="cpu", seed=rank, lockstep=lockstep)
    turns = 3 if rank == 0 else 1
    make = env_factory(QA_ENV_ID, n_objectives=2, source=SMALL_WORLD, split="test", max_turns=turns)
    with RolloutRunner(make, policy, batch_size=2, lockstep=lockstep) as runner:
        trajectories = runner.run(3 if rank == 0 else 1)
    results.put((rank, [len(t.turns) for t in trajectories], len(forwards)))
    dist.destroy_process_group()


@pytest.mark.slow
def test_processes_with_different_episodes_decode_in_lockstep(tmp_path):
    require("torch", "transformers", "tokenizers")
    from envkit.policy.tiny import save_tiny_model

    folder = str(save_tiny_model(tmp_path / "tiny"))
    context = multiprocessing.get_context("spawn")
    results = context.Queue()
    port = _free_port()
    workers = [context.Process(target=_play, args=(rank, port, folder, results)) for rank in (0, 1)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=240)
    alive = [w for w in workers if w.is_alive()]
    for worker in alive:
        worker.kill()
    assert not alive, "a process hung: the ranks' forward passes went out of step"
    assert [w.exitcode for w in workers] == [0, 0]
    played = dict((rank, (turns, forwards)) for rank, turns, forwards in (results.get(timeout=10) for _ in workers))
    assert played[0][0] == [3, 3, 3] and played[1][0] == [1]  # different work on each process
    assert played[0][1] == played[1][1] > 0  # the same forward passes, the collectives matched one to one


@pytest.mark.parametrize("busy", [[True, False], [False, False]])
def test_a_lockstep_ends_when_no_process_is_busy(busy):
    """The single-process contract: ``any`` is the OR of every process's flag."""
    from envkit.policy.decoding import GenerationSettings, sample

    class Recorded:
        def __init__(self, answers):
            self.answers, self.asked = list(answers), []

        def any(self, flag):
            self.asked.append(flag)
            return self.answers.pop(0) or flag

    require("torch", "transformers", "tokenizers")
    from envkit.policy.tiny import tiny_model, tiny_tokenizer

    tokenizer = tiny_tokenizer()
    model = tiny_model(tokenizer)
    calls = []
    model.register_forward_pre_hook(lambda module, args: calls.append(1))
    lockstep = Recorded(busy + [False] * 10)  # another process needs two more rounds (or none)
    rows = sample(model, [], GenerationSettings(max_new_tokens=4), pad_id=0, eos_ids=set(), lockstep=lockstep)
    assert rows == []
    assert len(calls) == 1 + sum(busy)  # the other's prefill, then one idle pass per busy round
