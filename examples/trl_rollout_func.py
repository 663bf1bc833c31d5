"""TRL's own GRPOTrainer on envkit episodes through ``rollout_func``: each ``full``-context episode one completion.

TRL's ``rollout_func`` returns one prompt and one completion per sample, with
``env_mask`` marking the tokens the environment inserted (no loss). An envkit episode
fits that shape exactly when it is one token chain: under the ``full`` context, with the
policy feeding back the very ids the model read and wrote (``reuse_turn_tokens``; a
sampled reply is not always the canonical encoding of its text).
``envkit.packing.single_completion`` cuts the episode's packed row into that shape and
refuses, naming the turn, an episode that is not one chain (``consolidated`` or
``window`` contexts: train those with ``Mem1GRPOTrainer``, whose rows are prefix trees).

    python examples/trl_rollout_func.py --steps 2            # SmolLM2-135M-Instruct on 2 CPU cores
"""

import argparse

from datasets import Dataset
from trl import GRPOConfig, GRPOTrainer

from envkit.envs import TASKS_ENV_ID
from envkit.packing import episode_turns, single_completion
from envkit.policy.hf import GenerationSettings, HFPolicy
from envkit.policy.models import load_model
from envkit.rollout.runner import RolloutRunner, env_factory

parser = argparse.ArgumentParser()
parser.add_argument("--model", default="smollm2", help="smollm2, or a transformers model folder")
parser.add_argument("--steps", type=int, default=2)
parser.add_argument("--generations", type=int, default=2, help="episodes per task (GRPO's group)")
parser.add_argument("--max-turns", type=int, default=3)
parser.add_argument("--output-dir", default="runs/trl-rollout-func")
args = parser.parse_args()

model, tokenizer = load_model(args.model, "cpu")
make_env = env_factory(
    TASKS_ENV_ID, source="synthetic", n_objectives=2, split="train", context="full", max_turns=args.max_turns
)
first_context = {}  # the task prompt the model reads first -> its task index (TRL hands rollout_func the prompts)
env = make_env()
for index in range(64):
    _, info = env.reset(options={"task_index": index})
    first_context[info["messages"][0]["content"]] = index
env.close()
sampling = GenerationSettings(max_new_tokens=32, temperature=1.0)
policy = HFPolicy(model, tokenizer, sampling, device="cpu", reuse_turn_tokens=True)  # each episode one token chain
runner = RolloutRunner(make_env, policy, batch_size=args.generations)


def rollout_func(prompts: list[str], trainer: GRPOTrainer) -> dict[str, list]:
    """One envkit episode per prompt (TRL repeats each prompt once per generation), packed as one completion."""
    trajectories = runner.run([first_context[prompt] for prompt in prompts])
    singles = [single_completion(episode_turns(t)) for t in trajectories]
    return {
        "prompt_ids": [s.prompt_ids for s in singles],
        "completion_ids": [s.completion_ids for s in singles],
        "logprobs": [s.logprobs for s in singles],
        "env_mask": [s.env_mask for s in singles],
        "episode_reward": [t.reward for t in trajectories],  # any other key goes to the reward functions
    }


def episode_reward(completions: list, episode_reward: list[float], **_: object) -> list[float]:
    """The env's reward for the episode (EM per question), credited to the whole completion as MEM1 does."""
    return list(episode_reward)


config = GRPOConfig(
    output_dir=args.output_dir,
    max_steps=args.steps,
    per_device_train_batch_size=args.generations,
    num_generations=args.generations,
    learning_rate=1e-6,
    logging_steps=1,
    save_strategy="no",
    report_to="none",
    use_cpu=True,
)
trainer = GRPOTrainer(
    model=model,
    reward_funcs=episode_reward,
    args=config,
    train_dataset=Dataset.from_list([{"prompt": prompt} for prompt in first_context]),
    processing_class=tokenizer,
    rollout_func=rollout_func,
)
trainer.train()
for entry in trainer.state.log_history:
    if "reward" in entry:
        tokens = entry["completions/mean_length"]  # the model's own tokens (env_mask), not the env's
        print(f"step {entry['step']}: reward {entry['reward']:.3f}, generated tokens per episode {tokens:.0f}")
