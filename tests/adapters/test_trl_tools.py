"""envkit QA tasks as TRL ``environment_factory`` environments, through TRL's own code."""

import pytest

from tests.conftest import SMALL_WORLD, require

OPTIONS = {"n_objectives": 2, "source": SMALL_WORLD, "split": "test", "seed": 0}


@pytest.fixture(scope="module")
def factory():
    require("trl", "transformers")
    from envkit.adapters.trl_tools import qa_environment_factory

    return qa_environment_factory(**OPTIONS)


def make_env():
    import gymnasium as gym

    from envkit.envs import TASKS_ENV_ID

    return gym.make(TASKS_ENV_ID, **OPTIONS)


@pytest.mark.parametrize("task_index", [0, 5])
def test_the_oracle_playing_through_the_tools_gets_the_gymnasium_env_s_episode(factory, task_index):
    from envkit.protocol.parser import Turn, parse_answers, parse_turn
    from envkit.testing.conformance import assert_same_episode, oracle_turns, reference_episode

    turns = oracle_turns(make_env, task_index)
    reference = reference_episode(make_env, task_index, turns)
    environment = factory()
    prompt = environment.reset(task_index=task_index)
    for objective in make_env().unwrapped.tasks[task_index].objectives:
        assert objective.question in prompt
    for turn in turns:
        parsed = parse_turn(turn)
        assert isinstance(parsed, Turn)
        if parsed.action.name == "search":
            shown = environment.search(parsed.action.content)
        else:
            shown = environment.answer(parse_answers(parsed.action.content))
        assert shown.startswith(environment.steps[-1].latest)  # the tool returns what the env's step added
    assert_same_episode(reference, environment.steps, "TRL environment_factory tools", shown="latest")
    assert environment.get_reward() == reference[-1].reward == 1.0
    assert "episode is over" in environment.search("anything more")


def test_trl_parses_a_tool_call_into_the_environment_s_own_methods(factory):
    from transformers.utils import get_json_schema
    from trl.chat_template_utils import add_response_schema, qwen2_5_chat_template

    from envkit.policy.tiny import tiny_tokenizer

    environment = factory()
    environment.reset(task_index=0)
    tokenizer = tiny_tokenizer()
    tokenizer.chat_template = qwen2_5_chat_template
    tokenizer = add_response_schema(tokenizer)
    schemas = [get_json_schema(environment.search), get_json_schema(environment.answer)]
    assert schemas[1]["function"]["parameters"]["properties"]["answers"]["type"] == "array"
    rendered = tokenizer.apply_chat_template([{"role": "user", "content": "hi"}], tools=schemas, tokenize=False)
    assert '"name": "search"' in rendered and '"name": "answer"' in rendered
    text = '<tool_call>\n{"name": "search", "arguments": {"query": "river"}}\n</tool_call><|im_end|>'
    prompt = tokenizer.apply_chat_template(
        [{"role": "user", "content": "hi"}], tools=schemas, tokenize=False, add_generation_prompt=True
    )
    call = tokenizer.parse_response(text, prefix=prompt)["tool_calls"][0]["function"]
    shown = getattr(environment, call["name"])(**call["arguments"])
    assert shown.startswith("<information>")


@pytest.mark.slow
def test_a_grpo_step_runs_with_the_environment_factory(factory, tmp_path):
    require("torch", "peft")
    from datasets import Dataset
    from trl import GRPOConfig, GRPOTrainer
    from trl.chat_template_utils import qwen2_5_chat_template

    from envkit.policy.tiny import tiny_model, tiny_tokenizer

    tokenizer = tiny_tokenizer()
    tokenizer.chat_template = qwen2_5_chat_template
    rows = [{"prompt": [{"role": "user", "content": "Questions follow."}], "task_index": i % 4} for i in range(4)]
    args = GRPOConfig(
        output_dir=str(tmp_path),
        max_steps=1,
        per_device_train_batch_size=4,
        num_generations=2,
        max_completion_length=16,
        report_to="none",
        save_strategy="no",
        use_cpu=True,
        bf16=False,
    )
    trainer = GRPOTrainer(
        model=tiny_model(tokenizer),
        args=args,
        processing_class=tokenizer,
        train_dataset=Dataset.from_list(rows),
        environment_factory=factory,
    )
    assert "QAToolEnvironment" in trainer.reward_func_names  # the env owns the reward
    trainer.train()
    logged = [entry for entry in trainer.state.log_history if "rewards/QAToolEnvironment/mean" in entry]
    assert logged and logged[0]["rewards/QAToolEnvironment/mean"] == 0.0  # the random model answers nothing
