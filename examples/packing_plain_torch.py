"""Train on consolidated multi-turn episodes in a plain PyTorch loop, with envkit's packer and no trainer library.

Each episode's turns (exact context ids, completion ids, rollout log-probs) become one
masked row; the forward reproduces the rollout's log-probs, so the policy-gradient
ratio starts at exactly 1. Runs on a CPU in seconds with the tiny random-init model.

    python examples/packing_plain_torch.py --steps 3
"""

import argparse

import torch

from envkit.envs import QA_ENV_ID
from envkit.packing import episode_turns, pack_episodes, token_logps
from envkit.policy.hf import GenerationSettings, HFPolicy
from envkit.policy.tiny import tiny_model, tiny_tokenizer
from envkit.rollout.runner import RolloutRunner, env_factory

parser = argparse.ArgumentParser()
parser.add_argument("--steps", type=int, default=3)
parser.add_argument("--group", type=int, default=4, help="episodes per task (the advantage's baseline)")
args = parser.parse_args()

tokenizer = tiny_tokenizer()
model = tiny_model(tokenizer)
optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)
make_env = env_factory(QA_ENV_ID, n_objectives=2, source="synthetic:passages=2000,seed=0", max_turns=3)
sampling = GenerationSettings(max_new_tokens=16, temperature=1.0)

with RolloutRunner(make_env, HFPolicy(model, tokenizer, sampling, device="cpu", seed=0), args.group) as runner:
    for step in range(args.steps):
        model.eval()
        trajectories = runner.run([step] * args.group)  # one task, played `group` times
        rewards = torch.tensor([t.reward for t in trajectories])
        advantages = (rewards - rewards.mean()) / (rewards.std() + 1e-4)

        batch = pack_episodes([episode_turns(t) for t in trajectories], tokenizer.pad_token_id).as_dict()
        model.train()
        logps = token_logps(model, batch)  # each turn sees exactly the context it was sampled from
        mask = batch["completion_mask"].float()
        ratio = torch.exp(logps - batch["old_logps"])  # 1 up to float error: the rows reproduce the rollout
        per_token = -ratio * advantages[batch["row_episode"]][:, None]
        loss = (per_token * mask).sum() / mask.sum()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        drift = ((logps - batch["old_logps"]).abs() * mask).max().item()
        print(f"step {step}: reward {rewards.mean():.2f}, loss {loss.item():+.4f}, max log-prob drift {drift:.1e}")
