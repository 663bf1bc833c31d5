import gymnasium as gym
import pytest

from envkit.envs import QA_ENV_ID
from tests.conftest import SMALL_WORLD, require


def oracle_env(context="consolidated", n=2, count=6):
    return gym.make(QA_ENV_ID, source=SMALL_WORLD, n_objectives=n, split="train", seed=0, count=count, context=context)


@pytest.fixture(scope="module")
def tokenizer():
    require("torch", "transformers", "tokenizers", "trl")
    from envkit.policy.tiny import tiny_tokenizer

    return tiny_tokenizer()


def test_oracle_state_names_the_entity_it_searches_next():
    from envkit.policy.scripted import OracleAgent

    env = oracle_env(count=30)
    multi_hop = 0
    for index in range(30):
        observation, info = env.reset(options={"task_index": index})
        agent = OracleAgent()
        agent.reset(env.unwrapped.task)
        while True:
            turn = agent.act(observation, info)
            state, query = turn.split("</IS>")[0], turn.split("<search>")[-1].split("</search>")[0]
            if "<search>" in turn and " -> " in state:
                multi_hop += 1
                assert state.rstrip(". ").split(" -> ")[-1].split(".")[0] == query  # the state says what comes next
            observation, reward, terminated, truncated, info = env.step(turn)
            if terminated or truncated:
                assert reward == 1.0
                break
    assert multi_hop > 5


def test_demonstrations_are_the_tokens_a_model_reads_and_writes(tokenizer):
    from envkit.policy.hf import encode_context
    from envkit.train.demonstrations import demonstration_dataset, demonstration_turns, oracle_trajectories

    trajectories = oracle_trajectories(lambda: oracle_env(), 4)
    assert len(trajectories) == 4 and all(t.success for t in trajectories)
    for trajectory in trajectories:
        turns = demonstration_turns(trajectory, tokenizer, answer_weight=3.0)
        assert len(turns) == len(trajectory.turns)
        for turn, record in zip(turns, trajectory.turns, strict=True):
            assert turn.prompt_ids == encode_context(tokenizer, record.context)
            assert tokenizer.decode(turn.completion_ids) == record.output
        assert [t.weight for t in turns] == [1.0] * (len(turns) - 1) + [3.0]
        assert "<answer>" in trajectory.turns[-1].output
    rows = demonstration_dataset(trajectories, tokenizer)
    assert len(rows) == 4 and len(rows[0]["prompt_ids"]) == len(trajectories[0].turns)


def test_demonstrations_under_mem1s_protocol_are_think_turns_in_the_agents_own_turn(tmp_path, tokenizer):
    from envkit.policy.hf import encode_context
    from envkit.train.demonstrations import demonstration_turns, oracle_trajectories
    from envkit.train.sft import Mem1SFTConfig
    from envkit.train.trainer import make_training_env

    args = Mem1SFTConfig(output_dir=str(tmp_path), source=SMALL_WORLD, n_tasks=4, protocol="mem1", max_turns=8)
    trajectories = oracle_trajectories(lambda: make_training_env(args), 4, state_tag=args.agent_state_tag)
    assert args.agent_state_tag == "think" and all(t.success for t in trajectories)
    assert all(t.reward == 2.0 for t in trajectories)  # summed EM over the two questions
    for trajectory in trajectories:
        second = trajectory.turns[1].context
        assert [m["role"] for m in second] == ["user", "assistant", "assistant"]
        assert second[1]["content"] == trajectory.turns[0].output and second[1]["content"].startswith("<think>")
        for turn, record in zip(demonstration_turns(trajectory, tokenizer), trajectory.turns, strict=True):
            assert turn.prompt_ids == encode_context(tokenizer, record.context)


@pytest.mark.parametrize("context", ["consolidated", "full", "window(2)"])
def test_the_sft_loss_is_the_per_turn_nll_of_agent_turns_only(tokenizer, tiny, context):
    """Packed as a prefix tree, the loss equals the one computed turn by turn on each turn's own context."""
    import torch

    from envkit.packing import pack_episodes, token_logps
    from envkit.train.demonstrations import demonstration_turns, oracle_trajectories

    _, model = tiny
    trajectories = oracle_trajectories(lambda: oracle_env(context), 2)
    episodes = [demonstration_turns(t, tokenizer, answer_weight=2.0) for t in trajectories]
    packed = pack_episodes(episodes, tokenizer.pad_token_id).as_dict()
    assert int(packed["completion_mask"].sum()) == sum(len(t.completion_ids) for e in episodes for t in e)
    with torch.no_grad():
        logps = token_logps(model, packed)
        weights = packed["loss_weights"]
        packed_loss = -(logps * weights).sum() / weights.sum()
        total, weight = 0.0, 0.0
        for episode in episodes:
            for turn in episode:
                ids = torch.tensor([turn.prompt_ids + turn.completion_ids])
                logits = model(ids).logits[0, len(turn.prompt_ids) - 1 : -1]
                chosen = torch.log_softmax(logits, -1).gather(-1, torch.tensor(turn.completion_ids)[:, None])
                total += -turn.weight * float(chosen.sum())
                weight += turn.weight * len(turn.completion_ids)
    assert float(packed_loss) == pytest.approx(total / weight, abs=1e-4)


@pytest.mark.slow
def test_sft_trainer_learns_the_oracle_turns(tmp_path, tokenizer):
    from envkit.policy.tiny import tiny_model
    from envkit.train.sft import Mem1SFTConfig, Mem1SFTTrainer

    model = tiny_model(tokenizer)
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    args = Mem1SFTConfig(
        output_dir=str(tmp_path / "sft"),
        source=SMALL_WORLD,
        n_objectives=1,
        n_tasks=4,
        max_steps=12,
        per_device_train_batch_size=2,
        learning_rate=3e-3,
        lr_scheduler_type="constant",
        report_to="none",
        save_strategy="no",
        seed=0,
        logging_steps=1,
    )
    trainer = Mem1SFTTrainer(model, args, processing_class=tokenizer)
    trainer.train()
    losses = [h["loss"] for h in trainer.state.log_history if "loss" in h]
    assert len(losses) == 12 and losses[-1] < 0.7 * losses[0]
    assert any(not p.detach().equal(before[n]) for n, p in model.named_parameters())
    assert len(trainer.demonstrations) == 4


def test_sft_config_errors_are_named(tmp_path):
    require("trl")
    from envkit.train.sft import Mem1SFTConfig

    for bad, fragment in [
        ({"answer_weight": 0}, "answer_weight"),
        ({"context": "rolling"}, "unknown context builder"),
        ({"n_tasks": 0}, "n_tasks"),
        ({"protocol": "mem2"}, "unknown protocol"),
        ({"state_tag": "a b"}, "invalid tag name"),
    ]:
        with pytest.raises(ValueError, match=fragment):
            Mem1SFTConfig(output_dir=str(tmp_path), **bad)


@pytest.mark.slow
def test_envkit_sft_then_train_continues_from_its_folder(tmp_path):
    require("torch", "transformers", "tokenizers", "trl")
    from typer.testing import CliRunner

    from envkit.cli.app import app

    runner = CliRunner()
    sft_dir = tmp_path / "sft"
    result = runner.invoke(
        app,
        [
            "sft",
            "--model",
            "tiny",
            "--source",
            SMALL_WORLD,
            "--n_objectives",
            "1",
            "--n_tasks",
            "4",
            "--max_steps",
            "2",
            "--output_dir",
            str(sft_dir),
            "--report_to",
            "none",
            "--save_strategy",
            "no",
        ],
    )
    assert result.exit_code == 0, result.output
    assert (sft_dir / "config.json").is_file() and (sft_dir / "tokenizer.json").is_file()
    assert f"envkit train --model {sft_dir}" in result.output
    result = runner.invoke(
        app,
        [
            "train",
            "--model",
            str(sft_dir),
            "--source",
            SMALL_WORLD,
            "--n_objectives",
            "1",
            "--n_tasks",
            "8",
            "--max_steps",
            "1",
            "--num_generations",
            "2",
            "--per_device_train_batch_size",
            "2",
            "--max_completion_length",
            "8",
            "--max_turns",
            "2",
            "--output_dir",
            str(tmp_path / "grpo"),
            "--report_to",
            "none",
            "--save_strategy",
            "no",
        ],
    )
    assert result.exit_code == 0, result.output
    assert (tmp_path / "grpo" / "config.json").is_file()


def test_envkit_sft_bad_options_are_one_line(tmp_path, capsys):
    require("trl")
    from envkit.cli.app import main

    for argv, fragment in [
        (["sft", "--answer_weight", "-1"], "answer_weight"),
        (["sft", "--no_such_option", "1"], "envkit sft --list-options"),
        (["sft", "--model", "/no/such/folder/x"], "cannot load the model"),
    ]:
        with pytest.raises(SystemExit) as exit_info:
            main([*argv, "--output_dir", str(tmp_path)])
        assert exit_info.value.code == 2
        err = capsys.readouterr().err.strip()
        assert err.startswith("error:") and fragment in err and "\n" not in err
