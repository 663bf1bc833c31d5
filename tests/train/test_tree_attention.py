"""Block-sparse attention over packed prefix-tree rows: the same numbers as the dense mask, fewer computed."""

import pytest

from tests.conftest import require


@pytest.fixture(scope="module")
def torch():
    require("torch", "transformers")
    import torch

    return torch


def random_tree_visibility(torch, rows, length, seed):
    """``visible_until`` of random prefix trees in pre-order (subtrees contiguous); shorter rows end in padding."""
    generator = torch.Generator().manual_seed(seed)
    result = []
    for row in range(rows):
        size = length - row * 7  # shorter rows end in padding, which sees itself only
        depths = [0]
        for _ in range(size - 1):  # a child of the previous node, or a sibling of one of its ancestors
            jump = int(torch.randint(0, 3, (1,), generator=generator))
            depths.append(depths[-1] + 1 if jump == 0 or depths[-1] == 0 else max(depths[-1] - jump + 1, 1))
        until = [size] * size
        open_nodes = []
        for position, depth in enumerate(depths):
            while open_nodes and open_nodes[-1][1] >= depth:
                until[open_nodes.pop()[0]] = position
            open_nodes.append((position, depth))
        result.append(until + list(range(size + 1, length + 1)))
    return torch.tensor(result)


def dense_reference(torch, query, key, value, visible_until):
    from envkit.packing import attention_bias

    groups = query.shape[1] // key.shape[1]
    key, value = key.repeat_interleave(groups, dim=1), value.repeat_interleave(groups, dim=1)
    bias = attention_bias(visible_until, query.dtype)
    return torch.nn.functional.scaled_dot_product_attention(query, key, value, attn_mask=bias).transpose(1, 2)


@pytest.mark.parametrize("tile", [4, 16, 64])
@pytest.mark.parametrize("kv_heads", [4, 2])
def test_tiled_attention_equals_the_dense_mask_forward_and_backward(torch, tile, kv_heads):
    from envkit.tree_attention import tile_plan, tiled_attention

    visible = random_tree_visibility(torch, rows=3, length=150, seed=tile + kv_heads)
    torch.manual_seed(0)
    query = torch.randn(3, 4, 150, 8, dtype=torch.float64, requires_grad=True)
    key = torch.randn(3, kv_heads, 150, 8, dtype=torch.float64, requires_grad=True)
    value = torch.randn(3, kv_heads, 150, 8, dtype=torch.float64, requires_grad=True)
    weights = torch.randn(3, 150, 4, 8, dtype=torch.float64)
    tiled = tiled_attention(query, key, value, tile_plan(visible, tile))
    dense = dense_reference(torch, query, key, value, visible)
    assert tiled.shape == dense.shape == (3, 150, 4, 8)
    assert torch.allclose(tiled, dense, atol=1e-10)
    grads = torch.autograd.grad((tiled * weights).sum(), (query, key, value))
    expected = torch.autograd.grad((dense * weights).sum(), (query, key, value))
    for got, want in zip(grads, expected, strict=True):
        assert torch.allclose(got, want, atol=1e-10)


def test_the_plan_skips_the_tiles_no_turn_can_see(torch):
    """A consolidated row (a prompt and branches) computes a small share of L²; a causal chain about its triangle."""
    from envkit.tree_attention import tile_plan

    prompt, branch, turns = 64, 64, 8
    length = prompt + branch * turns
    branches = [prompt + branch * (t + 1) for t in range(turns) for _ in range(branch)]
    consolidated = torch.tensor([[length] * prompt + branches])
    assert tile_plan(consolidated, 16).computed_fraction() < 0.25
    chain = torch.full((1, length), length)
    assert 0.5 < tile_plan(chain, 16).computed_fraction() < 0.6
    with pytest.raises(ValueError, match="tile must be at least 1"):
        tile_plan(chain, 0)


def rollout_batch(tiny, context):
    from envkit.envs import QA_ENV_ID
    from envkit.packing import episode_turns, pack_episodes
    from envkit.policy.hf import GenerationSettings, HFPolicy
    from envkit.rollout.runner import RolloutRunner, env_factory
    from tests.conftest import SMALL_WORLD

    tokenizer, model = tiny
    policy = HFPolicy(model, tokenizer, GenerationSettings(max_new_tokens=20, temperature=1.0), device="cpu", seed=1)
    make = env_factory(QA_ENV_ID, n_objectives=2, source=SMALL_WORLD, split="test", max_turns=4, context=context)
    with RolloutRunner(make, policy, batch_size=2) as runner:
        episodes = [episode_turns(t) for t in runner.run(2)]
    return pack_episodes(episodes, tokenizer.pad_token_id)


@pytest.mark.parametrize("context", ["consolidated", "full"])
def test_tiles_and_chunked_logits_give_the_dense_forward_s_logprobs_and_gradients(torch, tiny, context):
    from envkit.packing import Scoring, token_logps_and_entropies
    from envkit.policy.tiny import tiny_model

    tokenizer, _ = tiny
    model = tiny_model(tokenizer)
    batch = rollout_batch(tiny, context).as_dict()
    results = {}
    for name, scoring in {
        "dense, one head pass": Scoring("dense", logit_chunk=0),
        "tiles, chunked head": Scoring("tiles", tile=16, logit_chunk=7),
    }.items():
        model.zero_grad()
        logps, entropies = token_logps_and_entropies(model, batch, 0.7, scoring)
        (logps.sum() + entropies.sum()).backward()
        results[name] = (logps, entropies, [p.grad.clone() for p in model.parameters()])
    (logps, entropies, grads), (logps2, entropies2, grads2) = results.values()
    assert torch.allclose(logps, logps2, atol=1e-5) and torch.allclose(entropies, entropies2, atol=1e-5)
    for got, want in zip(grads2, grads, strict=True):
        assert torch.allclose(got, want, atol=1e-5, rtol=1e-4)


@pytest.mark.parametrize("attn", ["sdpa", "eager"])
def test_tiles_survive_activation_checkpointing_and_leave_generation_alone(torch, tiny, attn):
    """Checkpointing reruns each layer in the backward pass: it must rerun the tiles, and sampling stays the model's."""
    from envkit.packing import Scoring, token_logps
    from envkit.policy.base import TurnRequest
    from envkit.policy.hf import GenerationSettings, HFPolicy
    from envkit.policy.tiny import tiny_model

    tokenizer, _ = tiny
    batch = rollout_batch(tiny, "consolidated").as_dict()
    gradients = {}
    for name, scoring, checkpointing in (
        ("dense", Scoring("dense"), False),
        ("tiles", Scoring("tiles", tile=16), True),
    ):
        model = tiny_model(tokenizer, attn_implementation=attn)
        if checkpointing:
            model.gradient_checkpointing_enable()
        model.train()
        token_logps(model, batch, scoring=scoring).sum().backward()
        gradients[name] = [p.grad for p in model.parameters()]
    for got, want in zip(gradients["tiles"], gradients["dense"], strict=True):
        assert torch.allclose(got, want, atol=1e-5, rtol=1e-4)
    assert model.config._attn_implementation == f"envkit_tree_{attn}"  # the dispatcher stays installed
    # generation after a tiled forward samples exactly as a fresh model does
    settings = GenerationSettings(max_new_tokens=12, temperature=0)
    text = "Who wrote Hamlet?"
    requests = [TurnRequest(slot, text, {"messages": [{"role": "user", "content": text}]}) for slot in (0, 1)]
    model.eval()
    fresh = tiny_model(tokenizer, attn_implementation=attn)
    with torch.no_grad():
        fresh.load_state_dict(model.state_dict())
    ids = [
        [g.completion_ids for g in HFPolicy(m, tokenizer, settings, device="cpu").act(requests)] for m in (model, fresh)
    ]
    assert ids[0] == ids[1]


@pytest.mark.slow
def test_flex_attention_block_mask_reproduces_the_tiles(torch, tiny):
    """FlexAttention's forward runs on CPU (its backward needs a GPU): its log-probs match the tiles'."""
    from envkit.packing import Scoring, token_logps
    from envkit.policy.tiny import tiny_model

    tokenizer, _ = tiny
    flex = tiny_model(tokenizer, attn_implementation="flex_attention")
    batch = rollout_batch(tiny, "consolidated").as_dict()
    with torch.no_grad():
        auto = token_logps(flex, batch)  # auto picks flex for a FlexAttention model
        tiles = token_logps(flex, batch, scoring=Scoring("tiles"))
    assert (auto - tiles).abs().max().item() < 1e-4
    assert (tiles * batch["completion_mask"]).abs().sum() > 0


def test_attention_choices_that_cannot_work_are_refused_in_one_line(torch, tiny):
    from envkit.packing import Scoring, token_logps

    _, model = tiny
    batch = rollout_batch(tiny, "consolidated").as_dict()
    with pytest.raises(ValueError, match="attention='flex' needs a model loaded with"):
        token_logps(model, batch, scoring=Scoring("flex"))
    with pytest.raises(ValueError, match="unknown attention 'sparse'"):
        Scoring("sparse")
    with pytest.raises(ValueError, match="logit_chunk must be non-negative"):
        Scoring(logit_chunk=-1)


def test_a_flash_attention_model_trains_with_the_tiles_and_is_refused_the_dense_mask(torch, tiny):
    """Flash-attention cannot take a 4-D mask: the dense path says so; the tiles never hand it one."""
    from envkit.packing import Scoring, token_logps
    from envkit.policy.tiny import tiny_model

    tokenizer, _ = tiny
    batch = rollout_batch(tiny, "consolidated").as_dict()
    reference = token_logps(tiny_model(tokenizer), batch, scoring=Scoring("dense"))
    model = tiny_model(tokenizer)
    model.config._attn_implementation = "flash_attention_2"  # what a flash-attention model reports (no GPU here)
    with pytest.raises(ValueError, match="flash_attention_2 cannot take the packed rows' 4-D mask"):
        token_logps(model, batch, scoring=Scoring("dense"))
    tiled = token_logps(model, batch)  # auto: the tiles, whatever the model was loaded with
    assert torch.allclose(tiled, reference, atol=1e-5)
    assert model.config._attn_implementation == "envkit_tree_flash_attention_2"


def test_config_passes_loading_options_to_trl_and_checks_the_kernel(torch):
    require("trl")
    from envkit.train.config import Mem1GRPOConfig

    common = {"output_dir": "/tmp/unused", "max_completion_length": 16, "report_to": "none"}
    config = Mem1GRPOConfig(attn_implementation="eager", device_map="cpu", packed_attention="dense", **common)
    assert config.model_init_kwargs["attn_implementation"] == "eager"
    assert config.model_init_kwargs["device_map"] == "cpu"
    assert config.scoring.attention == "dense"
    with pytest.raises(ValueError, match="unknown attention 'blocks'"):
        Mem1GRPOConfig(packed_attention="blocks", **common)
