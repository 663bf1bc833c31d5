from __future__ import annotations

import json

import pytest

from composers import compose
from composers.sources.base import SourceError
from composers.sources.registry import load_source
from composers.sources.shop import ShopSource, SyntheticCatalog
from composers.strategies.base import CompositionError


def test_synthetic_catalog_is_deterministic_with_unique_asins():
    a, b = SyntheticCatalog(2000, seed=5), SyntheticCatalog(2000, seed=5)
    products = [a.product(i) for i in range(2000)]
    assert products[:50] == [b.product(i) for i in range(50)]
    assert len({p.asin for p in products}) == 2000
    assert {p.category for p in products} == {"beauty", "electronics", "fashion", "food", "furniture"}
    assert SyntheticCatalog(2000, seed=6).product(0) != products[0]
    for p in products[:200]:
        assert p.pricing[0] <= p.price <= p.pricing[-1]
        assert 2 <= len(p.attributes) <= 4


def test_goals_are_derived_from_their_product_the_webshop_way():
    catalog = SyntheticCatalog(500, seed=2)
    for i in range(100):
        product, goal = catalog.product(i), catalog.goal(i, f"g{i}")
        assert goal.asin == product.asin and goal.name == product.name
        assert set(goal.attributes) <= set(product.attributes)
        offered = dict(product.options)
        assert all(value in offered[name] for name, value in goal.goal_options)
        assert goal.price_upper > product.price or goal.price_upper == 1_000_000.0
        if goal.price_upper < 1_000_000.0:
            assert goal.instruction_text.endswith(f"price lower than {goal.price_upper:.2f} dollars")


def test_shop_splits_are_disjoint_and_objectives_carry_the_goal():
    source = ShopSource.synthetic(1000, seed=0)
    ids = {split: {g.id for g in source.goals(split)} for split in ("train", "dev", "test")}
    assert sum(len(v) for v in ids.values()) == 1000
    assert not (ids["train"] & ids["test"]) and not (ids["train"] & ids["dev"])
    objective = source.questions("test")[3]
    assert objective.kind == "shop" and objective.source == source.name
    assert source.goal(objective.id).asin == objective.golden_answers[0]
    with pytest.raises(SourceError, match="no goal"):
        source.goal("g99999")


def test_webshop_files_load_like_webshop(webshop_folder):
    source = load_source(f"shop:webshop={webshop_folder}")
    products = {p.asin: p for p in source.products()}
    assert set(products) == {"B000SHOE01", "B000SHOE02", "B000XSS003"}  # 'nan' skipped
    shoe = products["B000SHOE01"]
    assert shoe.options == (("color", ("black", "navy blue | white")), ("size", ("9", "10")))
    assert shoe.attributes == ("arch support", "rubber sole") and shoe.price == 45.99
    sneaker = products["B000SHOE02"]
    assert sneaker.pricing == (30.0, 60.0) and 30.0 <= sneaker.price <= 60.0
    goals = [g for split in ("train", "dev", "test") for g in source.goals(split)]
    assert len(goals) == 3  # the instruction without attributes is dropped, as WebShop does
    navy = next(g for g in goals if g.asin == "B000SHOE01")
    assert [v for _, v in navy.goal_options] == ["navy blue | white", "10"]
    assert navy.instruction_text.startswith("i'm looking for men's running shoes")


def test_bad_webshop_files_name_the_file(tmp_path):
    (tmp_path / "items_shuffle_1.json").write_text("{not json")
    with pytest.raises(SourceError, match=r"items_shuffle_1\.json: not valid JSON"):
        load_source(f"shop:webshop={tmp_path}")
    (tmp_path / "items_shuffle_1.json").write_text(json.dumps([{"asin": "B1", "pricing": "$1"}]))
    with pytest.raises(SourceError, match="has no field 'name'"):
        load_source(f"shop:webshop={tmp_path}/")
    with pytest.raises(SourceError, match="not a folder"):
        load_source(f"shop:webshop={tmp_path}/missing")
    with pytest.raises(SourceError, match="unknown shop option"):
        load_source("shop:items=3")


def test_mixed_counts_compose_questions_and_purchases():
    tasks = compose(["synthetic:passages=2000,seed=3", "shop:products=300,seed=1"], "mixed", 3, 20, counts=(2, 1))
    for task in tasks:
        assert [o.kind for o in task.objectives] == ["qa", "qa", "shop"]
    with pytest.raises(CompositionError, match="summing to N=3"):
        compose(["synthetic:passages=2000,seed=3", "shop:products=300,seed=1"], "mixed", 3, 5, counts=(1, 1))
    with pytest.raises(CompositionError, match="not both"):
        compose(["synthetic", "shop:products=300,seed=1"], "mixed", 2, 5, weights=(1, 1), counts=(1, 1))


def test_a_shop_source_object_is_used_as_given(webshop_folder, tmp_path):
    import gymnasium as gym

    from composers import compose
    from composers.sources.shop import ShopSource
    from envkit.envs import TASK_FILE_ENV_ID
    from envkit.kinds.shop import ShopOracleAgent
    from envkit.rollout.episode import run_episode
    from envkit.shop.shop import open_shop

    files = sorted(webshop_folder.glob("items_*.json"))
    products = next(f for f in files if f.name.startswith("items_shuffle"))
    attributes = next(f for f in files if f.name.startswith("items_ins_v2"))
    source = ShopSource.webshop(products, attributes)  # named after a file, not a resolvable spec
    shop = open_shop(source, cache_dir=tmp_path)
    assert shop.source is source and len(shop.catalog) == 3
    tasks = compose(source, "parallel", 1, 2, split="train")
    path = tmp_path / "goals.jsonl"
    tasks.write(path)
    env = gym.make(TASK_FILE_ENV_ID, task_file=path, shop=source)
    rewards = [run_episode(env, ShopOracleAgent(shop), task_index=i).reward for i in range(2)]
    assert rewards == [1.0, 1.0], rewards
