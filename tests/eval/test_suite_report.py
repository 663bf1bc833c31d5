"""``envkit suite report``: one table across policies, with 95% intervals, seeds and versions."""

import json
import random
import statistics

import pytest

from tests.conftest import SMALL_WORLD


@pytest.fixture(scope="module")
def suite(tmp_path_factory):
    from composers.suites import generate_suite

    folder = tmp_path_factory.mktemp("suites") / "qa"
    generate_suite("chained-qa", folder, scale=0.02, sources=(SMALL_WORLD,))
    return folder


def test_the_bootstrap_interval_brackets_the_mean_and_narrows_with_more_episodes():
    from envkit.eval.suite_report import bootstrap_interval

    rng = random.Random(1)
    few = [float(rng.random() < 0.5) for _ in range(10)]
    many = [float(rng.random() < 0.5) for _ in range(400)]
    low, high = bootstrap_interval(few)
    assert low <= statistics.fmean(few) <= high and 0 <= low < high <= 1
    low_many, high_many = bootstrap_interval(many)
    assert high_many - low_many < high - low
    # the normal approximation of a proportion's interval at n=400: ±1.96·sqrt(p(1-p)/n)
    half = 1.96 * (statistics.fmean(many) * (1 - statistics.fmean(many)) / 400) ** 0.5
    assert abs((high_many - low_many) / 2 - half) < 0.01
    assert bootstrap_interval([1.0, 1.0, 1.0]) == (1.0, 1.0) and bootstrap_interval([0.5]) == (0.5, 0.5)


@pytest.mark.slow
def test_suite_report_compares_policies_on_the_same_tasks(tmp_path, suite):
    from tests.cli.test_cli import envkit

    out = tmp_path / "report"
    done = envkit("suite", "report", str(suite), "-p", "oracle", "-p", "random", "--episodes", "4", "-o", str(out))
    assert done.returncode == 0, done.stderr
    record = json.loads((out / "report.json").read_text())
    assert record["command"].startswith("envkit suite report") and "-p random" in record["command"]
    assert record["suite"]["preset"] == "chained-qa" and len(record["suite"]["sha256"]) == 64
    assert record["versions"]["mem1-envkit"] != "not installed" and "torch" in record["versions"]
    by_policy = {}
    for row in record["results"]:
        by_policy.setdefault(row["policy"], []).append(row)
    assert set(by_policy) == {"oracle", "random"}
    assert [r["n_objectives"] for r in by_policy["oracle"]] == [r["n_objectives"] for r in by_policy["random"]]
    for row in by_policy["oracle"]:
        assert row["em_mean"] == 1.0 and row["em_interval"] == [1.0, 1.0] and row["episodes"] == 4
    assert all(row["em_interval"][0] <= row["em_mean"] <= row["em_interval"][1] for row in by_policy["random"])
    assert statistics.fmean(r["em_mean"] for r in by_policy["random"]) < 1.0
    table = (out / "report.md").read_text()
    assert "| oracle | 2 | consolidated | 4 | 1.000 [1.000, 1.000]" in table and "Versions: mem1-envkit" in table


@pytest.mark.slow
def test_bad_report_requests_are_one_line_errors(tmp_path, suite):
    from tests.cli.test_cli import assert_one_line_error, envkit

    assert_one_line_error(envkit("suite", "report", str(suite), "-p", "nothing"), "nothing")
    assert_one_line_error(envkit("suite", "report", str(suite), "-p", "oracle", "--builders", "sideways"), "sideways")
    assert_one_line_error(envkit("suite", "report", str(tmp_path / "none"), "-p", "oracle"), "none")
