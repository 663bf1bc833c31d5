import json
from pathlib import Path

import pytest

from envkit.metrics import exact_match, f1_score, normalize_answer


@pytest.mark.parametrize(
    ("text", "normal"),
    [("The  Eiffel Tower!", "eiffel tower"), ("an Apple, a day", "apple day"), ("U.S.A.", "usa"), ("  ", "")],
)
def test_normalisation(text, normal):
    assert normalize_answer(text) == normal


def test_exact_match_takes_the_best_gold():
    assert exact_match("the eiffel tower", ["Tour Eiffel", "Eiffel Tower"]) == 1.0
    assert exact_match("eiffel", ["Eiffel Tower"]) == 0.0


def test_f1_partial_overlap_and_yes_no():
    assert f1_score("eiffel", ["Eiffel Tower"]) == pytest.approx(2 / 3)
    assert f1_score("tower of paris", ["Eiffel Tower", "tower"]) == pytest.approx(0.5)
    assert f1_score("yes it is", ["yes"]) == 0.0
    assert f1_score("", ["x"]) == 0.0


# Outputs of the originals' own code (Search-R1's em_check, HotpotQA's official f1_score and
# exact_match_score, MEM1's compute_score), run once outside envkit; provenance inside the file.
GOLDEN = json.loads((Path(__file__).parent / "fixtures" / "metrics_golden.json").read_text())


def test_the_golden_fixture_names_where_it_came_from():
    provenance = GOLDEN["provenance"]
    assert {"search_r1", "hotpotqa", "mem1", "command"} <= set(provenance)
    assert all(len(provenance[k]["commit"]) == 40 for k in ("search_r1", "hotpotqa", "mem1"))
    assert len(GOLDEN["cases"]) >= 300 and any(isinstance(c["gold"], str) for c in GOLDEN["cases"])


@pytest.mark.parametrize("case", GOLDEN["cases"], ids=lambda c: f"{c['prediction']!r}-{c['gold']!r}")
def test_em_and_f1_follow_search_r1_and_hotpotqas_official_scripts(case):
    gold = case["gold"]  # a bare string is one gold answer, as Search-R1 reads it
    assert exact_match(case["prediction"], gold) == case["em_search_r1"]
    if isinstance(gold, str):
        assert exact_match(case["prediction"], gold) == case["em_hotpotqa"]
        assert f1_score(case["prediction"], gold) == pytest.approx(case["f1_hotpotqa"])
    else:
        assert f1_score(case["prediction"], gold) == pytest.approx(case["f1_hotpotqa_max"])


def test_a_bare_string_gold_is_one_gold_not_its_characters():
    assert exact_match("", "Paris") == 0.0
    assert exact_match("p", "Paris") == 0.0 and f1_score("p", "Paris") == 0.0
    assert exact_match("paris", "Paris") == 1.0


@pytest.mark.parametrize("case", GOLDEN["mem1_cases"], ids=lambda c: repr(c["answer"]))
def test_the_mem1_metric_follows_mem1s_eval_script(case):
    from envkit.metrics import mem1_scores

    em, f1 = mem1_scores(case["answer"], case["golds"])
    assert sum(em) == pytest.approx(case["em_sum"])
    assert sum(f1) == pytest.approx(case["f1_sum"])


def test_the_qa_env_scores_with_mem1s_rules_when_asked(make_env):
    env = make_env(n_objectives=2, metric="mem1", split="test")
    env.reset(options={"task_index": 0})
    task = env.get_wrapper_attr("task")
    golds = "; ".join(o.golden_answers[0] for o in task.objectives)
    _, reward, *_, info = env.step(f"<IS>x</IS><answer>{golds}</answer>")
    assert reward == 1.0 and info["objective_scores"] == [1.0, 1.0]
    env.reset(options={"task_index": 0})
    numbered = " ".join(f"{i}. {o.golden_answers[0]}" for i, o in enumerate(task.objectives, 1))
    _, reward, *_, info = env.step(f"<IS>x</IS><answer>{numbered}</answer>")
    assert reward == 0.0  # MEM1's eval reads one answer for two questions
