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
