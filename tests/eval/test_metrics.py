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


def _hotpotqa_f1(prediction: str, ground_truth: str) -> float:
    """HotpotQA's official ``hotpot_evaluate_v1.f1_score`` (its F1), as written there."""
    from collections import Counter

    normalized_prediction = normalize_answer(prediction)
    normalized_ground_truth = normalize_answer(ground_truth)
    if normalized_prediction in ["yes", "no", "noanswer"] and normalized_prediction != normalized_ground_truth:
        return 0.0
    if normalized_ground_truth in ["yes", "no", "noanswer"] and normalized_prediction != normalized_ground_truth:
        return 0.0
    prediction_tokens = normalized_prediction.split()
    ground_truth_tokens = normalized_ground_truth.split()
    common = Counter(prediction_tokens) & Counter(ground_truth_tokens)
    num_same = sum(common.values())
    if num_same == 0:
        return 0.0
    precision = 1.0 * num_same / len(prediction_tokens)
    recall = 1.0 * num_same / len(ground_truth_tokens)
    return (2 * precision * recall) / (precision + recall)


@pytest.mark.parametrize(
    ("prediction", "gold"),
    [
        ("yes", "yes it is"),  # the prediction side of the rule (envkit gave 0.667)
        ("yes it is", "yes"),
        ("Yes.", "yes"),
        ("no", "No"),
        ("noanswer", "no answer"),
        ("no answer", "noanswer"),
        ("the Eiffel Tower in Paris", "Eiffel Tower"),
        ("Paris, France", "Paris"),
        ("", "Paris"),
        ("Paris", ""),
        ("a a a", "a"),
        ("New York New York", "New York"),
    ],
)
def test_f1_follows_hotpotqas_official_script(prediction, gold):
    assert f1_score(prediction, [gold]) == pytest.approx(_hotpotqa_f1(prediction, gold))


def _mem1_compute_score(solution_str: str, ground_truths: list[list[str]], val_type: str) -> float:
    """MEM1's ``Mem1/inference/eval.py: compute_score`` (its answer extraction and scoring), as written there."""
    import re
    import string

    def preprocess_text(text: str) -> str:
        text = text.lower()
        for punct in string.punctuation:
            text = text.replace(punct, " ")
        text = re.sub(r"\s+", " ", text)
        return text.strip()

    solution_str = solution_str.lower()
    answer_match = re.findall(r"<answer>(.*?)</answer>", solution_str, re.DOTALL)
    if not answer_match:
        return -0.0
    answers = [preprocess_text(answer) for answer in answer_match[-1].strip().split(";")]
    max_score = 0.0
    if len(answers) != len(ground_truths):
        return max_score
    for idx, answer in enumerate(answers):
        cur_max_score = 0.0
        gts = [preprocess_text(gt) for gt in ground_truths[idx]]
        if val_type == "em":
            if answer in gts:
                cur_max_score = 1.0
        else:
            for gt in gts:
                pred_tokens, gt_tokens = set(answer.split()), set(gt.split())
                if not gt_tokens or not pred_tokens:
                    continue
                common_tokens = pred_tokens & gt_tokens
                precision = len(common_tokens) / len(pred_tokens)
                recall = len(common_tokens) / len(gt_tokens)
                if precision + recall > 0:
                    cur_max_score = max(cur_max_score, 2 * (precision * recall) / (precision + recall))
        max_score += cur_max_score
    return max_score


@pytest.mark.parametrize(
    ("answer", "golds"),
    [
        ("The Beatles; 1969", [["Beatles"], ["1969"]]),  # articles stay in MEM1's normalisation
        ("the beatles; 1969", [["The Beatles"], ["1969"]]),
        ("Paris", [["Paris"], ["Rome"]]),  # one answer for two questions: 0 for both
        ("Paris; Rome; Oslo", [["Paris"], ["Rome"]]),
        ("sugar-free; U.S.A.", [["sugar free"], ["u s a"]]),
        ("new york new york; rome", [["New York"], ["Rome, Italy"]]),
        ("1. Paris; 2. Rome", [["Paris"], ["Rome"]]),  # no numbered form in MEM1's eval
        (" ; ", [["x"], ["y"]]),
    ],
)
def test_the_mem1_metric_follows_mem1s_eval_script(answer, golds):
    from envkit.metrics import mem1_scores

    em, f1 = mem1_scores(answer, golds)
    solution = f"<think>notes</think><answer>{answer}</answer>"
    assert sum(em) == pytest.approx(_mem1_compute_score(solution, golds, "em"))
    assert sum(f1) == pytest.approx(_mem1_compute_score(solution, golds, "f1"))


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
