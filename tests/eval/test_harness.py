import json

import gymnasium as gym
import pytest

from composers.suites import SuitePart, SuitePreset, generate_suite
from envkit.envs import QA_ENV_ID
from envkit.eval.harness import EvalCase, evaluate, suite_cases
from envkit.eval.report import markdown_table, write_report
from envkit.kinds.oracle import TaskOracle
from envkit.policy.base import AgentPolicy
from envkit.policy.scripted import OracleAgent, RandomAgent
from envkit.rollout.trajectory import read_trajectories
from tests.conftest import SMALL_WORLD


def cases(ns, builders=("consolidated", "full")):
    return [
        EvalCase(n, b, lambda n=n, **kw: gym.make(QA_ENV_ID, n_objectives=n, source=SMALL_WORLD, split="test", **kw))
        for n in ns
        for b in builders
    ]


def test_oracle_rows_per_n_and_builder(tmp_path):
    path = tmp_path / "t.jsonl"
    rows = evaluate(cases((1, 4)), AgentPolicy(OracleAgent), episodes=6, batch_size=2, trajectories_path=path)
    assert [(r.n_objectives, r.builder) for r in rows] == [
        (1, "consolidated"),
        (1, "full"),
        (4, "consolidated"),
        (4, "full"),
    ]
    for row in rows:
        assert row.episodes == 6 and row.success == 1.0
        assert row.em_sum == row.n_objectives and row.em_mean == row.f1_mean == 1.0
        assert row.violations == 0 and row.tokens_per_s > 0 and row.gpu_peak_bytes is None
        assert row.peak_context_tokens >= row.mean_context_tokens > 0
    cons, full = rows[2], rows[3]
    assert full.peak_context_tokens > 1.5 * cons.peak_context_tokens
    assert full.dependency > cons.dependency
    trajectories = list(read_trajectories(path))
    assert len(trajectories) == 24
    assert {t.builder for t in trajectories} == {"consolidated", "full"}


def test_a_policy_that_never_answers_scores_zero_not_missing():
    rows = evaluate(cases((2,), ("consolidated",)), AgentPolicy(lambda: RandomAgent(seed=1, answer_rate=0.0)), 4)
    assert rows[0].em_sum == 0.0 and rows[0].success == 0.0 and rows[0].violations > 0


def test_report_has_a_table_results_and_two_plots(tmp_path):
    from PIL import Image

    rows = evaluate(cases((1, 2)), AgentPolicy(OracleAgent), episodes=3)
    report = write_report(rows, tmp_path / "r", "test report", {"policy": "oracle"})
    text = report.read_text()
    assert text.startswith("# test report") and "- policy: oracle" in text
    assert text.count("| consolidated |") == 2 and text.count("| full |") == 2
    for name in ("accuracy.png", "peak_tokens.png"):
        with Image.open(tmp_path / "r" / name) as image:
            assert image.format == "PNG" and image.width > 300
            # lines and labels, not a blank canvas
            assert len(image.convert("L").getcolors(maxcolors=256 * 256) or ()) > 10
    results = json.loads((tmp_path / "r" / "results.json").read_text())
    assert [r["n_objectives"] for r in results["rows"]] == [1, 1, 2, 2]
    assert "GPU peak" not in markdown_table(rows)  # no GPU column when no row has one


def test_a_mixed_suite_is_evaluated_per_task_file(tmp_path, monkeypatch):
    monkeypatch.setenv("ENVKIT_CACHE", str(tmp_path / "cache"))
    preset = SuitePreset(
        "tiny-mixed",
        "test",
        (SMALL_WORLD, "shop:products=300,seed=1"),
        (SuitePart("test", "mixed", 2, 3, (1, 1)), SuitePart("test", "mixed", 3, 3, (2, 1))),
    )
    generate_suite(preset, tmp_path / "suite")
    chosen = suite_cases(tmp_path / "suite", ["consolidated"])
    assert [(c.n_objectives, c.label) for c in chosen] == [(2, "test_mixed_n2.jsonl"), (3, "test_mixed_n3.jsonl")]
    rows = evaluate(chosen, AgentPolicy(TaskOracle), episodes=3)
    assert [r.success for r in rows] == [1.0, 1.0]
    assert rows[1].em_sum == 2.0  # two questions per task; the purchase counts in success
    with pytest.raises(ValueError, match="no 'train' task files"):
        suite_cases(tmp_path / "suite", ["full"], split="train")
