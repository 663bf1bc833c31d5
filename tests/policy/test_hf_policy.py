import pytest

from envkit.policy.base import TurnRequest
from envkit.policy.hf import GenerationSettings, HFPolicy, choose_device
from envkit.protocol.tags import QA_TAGS

STOP = ("</search>", "</answer>")


def request(slot, text, stop=STOP):
    return TurnRequest(slot, text, {"messages": [{"role": "user", "content": text}]}, stop)


def greedy(tiny, **options):
    tokenizer, model = tiny
    return HFPolicy(model, tokenizer, GenerationSettings(max_new_tokens=12, temperature=0), device="cpu", **options)


def test_tiny_tokenizer_is_deterministic_and_knows_the_protocol(tiny):
    from envkit.policy.tiny import tiny_tokenizer

    tokenizer, _ = tiny
    again = tiny_tokenizer()
    text = "<IS>Answers so far: 1. Velmora</IS>\n<search>who founded Ostrava Mills?</search> é 漢字 \x00"
    assert tokenizer(text)["input_ids"] == again(text)["input_ids"]
    assert tokenizer.decode(tokenizer(text)["input_ids"]) == text  # byte-level: any text round-trips
    for tag in ("<IS>", "</IS>", "<search>", "</search>", "<answer>", "</answer>", "</action>", "<information>"):
        assert len(tokenizer(tag, add_special_tokens=False)["input_ids"]) == 1, tag
    assert tokenizer.padding_side == "left"
    assert tokenizer.eos_token == "<|im_end|>"


def test_device_is_cpu_float32_without_a_gpu():
    import torch

    device, dtype = choose_device("auto")
    if not torch.cuda.is_available():
        assert (device, dtype) == ("cpu", torch.float32)
    assert choose_device("cpu") == ("cpu", torch.float32)


def test_the_chat_template_renders_the_context(tiny):
    policy = greedy(tiny)
    messages = [
        {"role": "user", "content": "Q?"},
        {"role": "assistant", "content": "<IS>s</IS>"},
        {"role": "user", "content": "obs"},
    ]
    assert policy.render(messages) == (
        "<|im_start|>user\nQ?<|im_end|>\n<|im_start|>assistant\n<IS>s</IS><|im_end|>\n<|im_start|>user\nobs<|im_end|>\n"
        "<|im_start|>assistant\n"
    )
    continued = [*messages[:2], {"role": "assistant", "content": " more"}]  # an open turn: the model continues it
    assert policy.render(continued) == "<|im_start|>user\nQ?<|im_end|>\n<|im_start|>assistant\n<IS>s</IS> more"
    tokenizer, model = tiny
    plain = HFPolicy(model, tokenizer, device="cpu")
    template, tokenizer.chat_template = tokenizer.chat_template, None
    try:
        assert plain.render(messages) == "Q?\n\n<IS>s</IS>\n\nobs\n\n"
        assert plain.render(continued) == "Q?\n\n<IS>s</IS> more"
    finally:
        tokenizer.chat_template = template


def test_batched_generation_matches_one_at_a_time(tiny):
    policy = greedy(tiny)
    texts = ["Who founded Velmora?", "A much longer question about the river that runs through Ostrava " * 3, "Hi"]
    batched = policy.act([request(i, t) for i, t in enumerate(texts)])
    for i, text in enumerate(texts):
        alone = policy.act([request(i, text)])[0]
        assert alone.completion_ids == batched[i].completion_ids
        assert alone.logprobs == pytest.approx(batched[i].logprobs, abs=1e-4)
    for generation, text in zip(batched, texts, strict=True):
        assert generation.context_tokens == len(policy.encode([{"role": "user", "content": text}]))
        assert generation.generated_tokens == len(generation.completion_ids) > 0
        assert generation.latency_s > 0
        assert not generation.over_budget


def test_recorded_logprobs_are_the_models_own(tiny):
    import torch

    tokenizer, model = tiny
    policy = HFPolicy(model, tokenizer, GenerationSettings(max_new_tokens=10, temperature=0.7), device="cpu", seed=1)
    generation = policy.act([request(0, "Which city hosts the Amber Archive?")])[0]
    ids = torch.tensor([generation.prompt_ids + generation.completion_ids])
    with torch.no_grad():
        logits = model(ids).logits[0, len(generation.prompt_ids) - 1 : -1] / 0.7
    expected = torch.log_softmax(logits, -1).gather(-1, torch.tensor(generation.completion_ids)[:, None])[:, 0]
    assert torch.allclose(expected, torch.tensor(generation.logprobs), atol=1e-4)


def favour(model, token, bias=100.0):
    """A forward hook that makes the model "want" ``token`` (added to its logits)."""

    def hook(module, inputs, output):
        output[..., token] += bias
        return output

    return model.lm_head.register_forward_hook(hook)


def test_generation_stops_at_the_action_closing_tag(tiny):
    tokenizer, model = tiny
    close = tokenizer.convert_tokens_to_ids("</search>")
    policy = greedy(tiny)
    handle = favour(model, close)
    try:
        generation = policy.act([request(0, "Find it.")])[0]
        unstopped = policy.act([request(0, "Find it.", stop=())])[0]
    finally:
        handle.remove()
    assert generation.completion_ids == [close]
    assert generation.text == "</search>"
    assert len(unstopped.completion_ids) == 12  # without a stop tag it runs to max_new_tokens


def test_a_stop_string_split_over_tokens_ends_the_turn_at_the_token_that_completes_it(tiny):
    from envkit.policy.decoding import stop_checker

    policy = greedy(tiny)
    turn = QA_TAGS.format_turn("state", "search", "query")
    ids = policy.tokenizer(turn + " trailing words <answer>x</answer>", add_special_tokens=False)["input_ids"]
    stopped = stop_checker(policy.tokenizer, STOP)
    end = next(k for k in range(1, len(ids) + 1) if stopped(ids[:k]))
    assert policy.tokenizer.decode(ids[:end]).endswith("</search>")
    assert policy._turn_text(ids[:end], STOP) == turn
    assert policy._turn_text(ids, STOP) == turn  # whatever follows the first closing tag is not the env's


def test_the_models_own_generation_config_does_not_change_sampling(tiny):
    tokenizer, model = tiny
    policy = HFPolicy(model, tokenizer, GenerationSettings(max_new_tokens=10, temperature=0.7), device="cpu", seed=3)
    plain = policy.act([request(0, "Which city hosts the Amber Archive?")])[0]
    model.generation_config.repetition_penalty = 5.0
    model.generation_config.no_repeat_ngram_size = 1
    try:
        again = policy.act([request(0, "Which city hosts the Amber Archive?")])[0]
    finally:
        model.generation_config.repetition_penalty = 1.0
        model.generation_config.no_repeat_ngram_size = 0
    assert again.completion_ids == plain.completion_ids
    assert again.logprobs == pytest.approx(plain.logprobs, abs=1e-6)


def test_finished_rows_leave_the_batch_and_the_rest_match_their_solo_runs(tiny):
    from envkit.policy.decoding import GenerationSettings, sample

    greedy6 = GenerationSettings(max_new_tokens=6, temperature=0)
    tokenizer, model = tiny
    close = tokenizer.convert_tokens_to_ids("</search>")
    prompts = [tokenizer(t, add_special_tokens=False)["input_ids"] for t in ("Who founded Velmora?", "Hi there")]
    alone = [sample(model, [p], greedy6, pad_id=tokenizer.pad_token_id, eos_ids=set())[0] for p in prompts]
    steps = []
    handle = model.register_forward_pre_hook(
        lambda module, args, kwargs: steps.append(kwargs["input_ids"].shape[0]), with_kwargs=True
    )
    try:  # row 0 stops at once (its first token is an end token); row 1 runs on alone
        rows = sample(model, prompts, greedy6, pad_id=tokenizer.pad_token_id, eos_ids={alone[0].ids[0]})
    finally:
        handle.remove()
    assert alone[1].ids[0] != alone[0].ids[0]  # the two rows do differ from their first token
    assert rows[0].ids == alone[0].ids[:1]
    assert len(rows[1].ids) > 1 and rows[1].ids == alone[1].ids[: len(rows[1].ids)]
    assert steps[0] == 2 and steps[1:] and all(batch == 1 for batch in steps[1:])  # the finished row costs nothing
    assert close not in rows[0].ids


def test_a_context_over_budget_is_refused_not_truncated(tiny):
    policy = greedy(tiny, max_context_tokens=20)
    short, long = request(0, "Hi"), request(1, "word " * 100)
    generations = policy.act([short, long])
    assert not generations[0].over_budget and generations[0].generated_tokens > 0
    assert generations[1].over_budget
    assert generations[1].generated_tokens == 0 and generations[1].text == ""
    assert generations[1].context_tokens > 20


def test_saved_tiny_model_loads_and_generates_the_same(tiny, tmp_path):
    from envkit.policy.specs import load_policy
    from envkit.policy.tiny import save_tiny_model

    save_tiny_model(tmp_path / "tiny")
    settings = GenerationSettings(max_new_tokens=8, temperature=0)
    loaded = load_policy(f"hf:{tmp_path / 'tiny'}", settings, device="cpu")
    in_memory = greedy(tiny)
    expected = in_memory.act([request(0, "Who?")])[0].completion_ids[:8]
    assert loaded.act([request(0, "Who?")])[0].completion_ids == expected


@pytest.mark.parametrize(
    ("spec", "fragment"),
    [("gpt5", "unknown policy"), ("hf:", "hf: needs a model folder"), ("hf:/no/such/folder", "cannot load the model")],
)
def test_bad_policy_specs_are_one_line_errors(spec, fragment):
    from envkit.policy.specs import load_policy

    with pytest.raises(ValueError, match=fragment):
        load_policy(spec, device="cpu")


def test_from_pretrained_takes_the_attention_implementation_and_a_device_map(tiny, tmp_path):
    from envkit.policy.tiny import save_tiny_model

    folder = str(save_tiny_model(tmp_path / "tiny"))
    settings = GenerationSettings(max_new_tokens=8, temperature=0)
    eager = HFPolicy.from_pretrained(folder, "cpu", attn_implementation="eager", generation=settings)
    assert eager.model.config._attn_implementation == "eager"
    mapped = HFPolicy.from_pretrained(folder, "cpu", device_map="cpu", generation=settings)
    assert mapped.model.config._attn_implementation == "sdpa"
    # the same greedy turn, whatever computes the attention
    assert eager.act([request(0, "Who?")])[0].completion_ids == mapped.act([request(0, "Who?")])[0].completion_ids
    with pytest.raises(ValueError, match=r"model .*tiny.*warp_drive"):
        HFPolicy.from_pretrained(folder, "cpu", attn_implementation="warp_drive")
