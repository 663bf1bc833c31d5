"""No agent answer runs as code: reasoning answers are scored in a locked-down worker, on a clock.

reasoning-gym's countdown, puzzle24, polynomial_multiplication, simple_integration and
intermediate_integration score an answer with sympy's ``parse_expr`` (Python's ``eval``):
in process, ``<solve>__import__('pathlib').Path('MARKER').touch()</solve>`` created the file
and ``9**9**9`` held one step for 44-50 s.
"""

from __future__ import annotations

import time

import gymnasium as gym
import pytest

from tests.conftest import require

require("reasoning_gym")

from reasoning_gym.factory import DATASETS  # noqa: E402

from composers.sources.base import SourceError  # noqa: E402
from composers.sources.reasoning_gym import ReasoningGymSource, problem_of  # noqa: E402
from envkit.envs import TASKS_ENV_ID  # noqa: E402
from envkit.kinds.answer_sandbox import DEFAULT_TIMEOUT_S, AnswerSandbox  # noqa: E402

EVALUATING = ("countdown", "puzzle24", "polynomial_multiplication", "simple_integration", "intermediate_integration")
# a step's bound: the scorer's clock, plus a fresh worker's start on a loaded machine
STEP_BOUND_S = DEFAULT_TIMEOUT_S + 60


def payloads(marker):
    return [
        f"__import__('pathlib').Path({str(marker)!r}).touch()",
        f"open({str(marker)!r}, 'w').write('x')",
        f"__import__('os').system('touch {marker}')",
        f"__import__('subprocess').run(['touch', {str(marker)!r}])",
        "__import__('socket').create_connection(('127.0.0.1', 9))",
        "9**9**9",
        "[0] * 10**10",
    ]


@pytest.mark.slow
@pytest.mark.parametrize("name", EVALUATING)
def test_an_answer_that_is_code_neither_runs_nor_holds_the_step(name, tmp_path):
    marker = tmp_path / "MARKER"
    env = gym.make(TASKS_ENV_ID, source=f"reasoning_gym:{name}", n_objectives=1)
    for payload in payloads(marker):
        env.reset(options={"task_index": 0})
        started = time.monotonic()
        _, reward, terminated, _, info = env.step(f"<IS>x</IS><solve>{payload}</solve>")
        assert time.monotonic() - started < STEP_BOUND_S
        assert terminated and reward <= 0.01 and info["objective_scores"][0] <= 0.01
        assert not marker.exists(), payload
    env.reset(options={"task_index": 0})
    answer = env.get_wrapper_attr("task").objectives[0].golden_answers[0]
    _, reward, *_ = env.step(f"<IS>x</IS><solve>{answer}</solve>")
    assert reward == 1.0  # the worker still scores a right answer after killing a runaway one


def test_the_worker_refuses_writes_and_says_why(tmp_path):
    objective = ReasoningGymSource(["polynomial_multiplication"]).questions("test")[0]
    _, entry = problem_of(objective)
    box = AnswerSandbox(timeout_s=2.0)
    try:
        slow = box.score(objective.id, entry, "9**9**9")
        assert slow.score == 0.0 and "longer than 2 s" in (slow.problem or "")
        right = box.score(objective.id, entry, objective.golden_answers[0])
        assert right.score == 1.0 and right.problem is None
    finally:
        box.close()
    with pytest.raises(ValueError, match="timeout_s"):
        AnswerSandbox(timeout_s=0)


@pytest.mark.slow
def test_every_generator_scores_as_in_process_and_runs_no_payload(tmp_path):
    """Every generator reasoning-gym offers: the reference answer scores as its own scorer scores it in
    process, and no payload writes, spawns or connects (the worker's audit hook refuses)."""
    marker = tmp_path / "MARKER"
    played = 0
    box = AnswerSandbox(timeout_s=2.0)  # a shorter clock than the default keeps 9**9**9 on 9 generators cheap
    for name in sorted(DATASETS):
        try:
            objective = ReasoningGymSource([name]).questions("test")[0]
        except SourceError:  # generators that need options to build (composite, word_ladder)
            continue
        played += 1
        dataset, entry = problem_of(objective)
        reference = objective.golden_answers[0]
        expected = min(1.0, max(0.0, float(dataset.score_answer(reference, entry))))
        assert box.score(objective.id, entry, reference).score == pytest.approx(expected), name
        for payload in [*payloads(marker)[:4], "9**9**9"]:
            started = time.monotonic()
            verdict = box.score(objective.id, entry, payload)
            assert time.monotonic() - started < STEP_BOUND_S and 0.0 <= verdict.score <= 1.0
            assert not marker.exists(), (name, payload)
    box.close()
    assert played >= 100
