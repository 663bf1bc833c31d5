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
