import json
import subprocess
import sys

import pytest

from composers import SourceError, read_tasks
from composers.suites import SuitePart, SuitePreset, generate_suite, read_manifest, verify_suite
from tests.conftest import SMALL_WORLD

SMALL = SuitePreset(
    "small-qa",
    "a small suite for tests",
    (SMALL_WORLD,),
    (SuitePart("train", "parallel", 2, 40), SuitePart("test", "parallel", 4, 10), SuitePart("test", "chained", 3, 10)),
)


def snapshot(folder):
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def test_regenerating_a_suite_reproduces_every_byte(tmp_path):
    first = generate_suite(SMALL, tmp_path / "a", seed=5)
    generate_suite(SMALL, tmp_path / "b", seed=5)
    assert snapshot(tmp_path / "a") == snapshot(tmp_path / "b")
    generate_suite(SMALL, tmp_path / "c", seed=6)
    assert snapshot(tmp_path / "a")["suite.json"] != snapshot(tmp_path / "c")["suite.json"]
    assert [f["path"] for f in first["files"]] == [
        "train_parallel_n2.jsonl", "test_parallel_n4.jsonl", "test_chained_n3.jsonl"
    ]  # fmt: skip
    assert read_manifest(tmp_path / "a") == first


def test_manifest_describes_the_files(tmp_path):
    manifest = generate_suite(SMALL, tmp_path / "s", scale=0.5)
    assert manifest["format"] == "envkit.suite/3" and manifest["scale"] == 0.5
    assert len(manifest["sources"][0]["sha256"]) == 64
    for entry in manifest["files"]:
        tasks = list(read_tasks(tmp_path / "s" / entry["path"]))
        assert len(tasks) == entry["count"]
        assert {t.n_objectives for t in tasks} == {entry["n_objectives"]}
        assert {t.split for t in tasks} == {entry["split"]} and {t.strategy for t in tasks} == {entry["strategy"]}


def test_verify_finds_tampering_and_missing_files(tmp_path):
    generate_suite(SMALL, tmp_path / "s")
    assert verify_suite(tmp_path / "s") == []
    target = tmp_path / "s" / "test_parallel_n4.jsonl"
    target.write_text(target.read_text().replace('"split":"test"', '"split":"train"', 1))
    (tmp_path / "s" / "test_chained_n3.jsonl").unlink()
    problems = verify_suite(tmp_path / "s")
    assert problems == [
        "test_parallel_n4.jsonl: content differs from the manifest (sha256)",
        "test_chained_n3.jsonl: missing",
    ]


def test_the_manifest_is_covered_by_its_own_digest(tmp_path):
    """A flipped n_objectives in suite.json itself passed verification (only the task files had checksums)."""
    from composers.suites import manifest_digest

    manifest = generate_suite(SMALL, tmp_path / "s")
    assert manifest["digest"] == manifest_digest(manifest)
    path = tmp_path / "s" / "suite.json"
    path.write_text(path.read_text().replace('"n_objectives": 4', '"n_objectives": 5', 1))
    assert verify_suite(tmp_path / "s") == ["suite.json: content differs from its digest (edited by hand?)"]
    refused = subprocess.run(
        [
            sys.executable,
            "-m",
            "envkit",
            "eval",
            "--suite",
            str(tmp_path / "s"),
            "--episodes",
            "1",
            "-o",
            str(tmp_path / "r"),
        ],
        capture_output=True,
        text=True,
    )
    assert refused.returncode == 1 and "suite.json: content differs from its digest" in refused.stderr


def test_a_suite_file_plays_in_the_env(tmp_path):
    import gymnasium as gym

    from envkit.envs import QA_ENV_ID
    from envkit.policy import OracleAgent
    from envkit.rollout.episode import run_episode

    generate_suite(SMALL, tmp_path / "s")
    env = gym.make(QA_ENV_ID, task_file=tmp_path / "s" / "test_chained_n3.jsonl")
    assert all(run_episode(env, OracleAgent(), task_index=i).success for i in range(10))


def test_bad_suites(tmp_path):
    with pytest.raises(SourceError, match="unknown suite preset"):
        generate_suite("mem2-qa", tmp_path / "x")
    (tmp_path / "taken").mkdir()
    with pytest.raises(SourceError, match="already exists"):
        generate_suite(SMALL, tmp_path / "taken")
    with pytest.raises(SourceError, match="not a suite"):
        read_manifest(tmp_path / "taken")
    (tmp_path / "taken" / "suite.json").write_text("{broken")
    with pytest.raises(SourceError, match=r"suite\.json:1: invalid JSON"):
        read_manifest(tmp_path / "taken")
    assert not any(p.name.startswith(".x.") for p in tmp_path.iterdir())


@pytest.mark.slow
def test_suite_cli(tmp_path):
    def envkit(*args):
        return subprocess.run([sys.executable, "-m", "envkit", *args], capture_output=True, text=True, timeout=600)

    listed = envkit("suite", "list")
    assert listed.returncode == 0 and "mem1-qa" in listed.stdout and "chained-qa" in listed.stdout
    folder = tmp_path / "chained"
    made = envkit("suite", "generate", "--preset", "chained-qa", "-o", str(folder), "--scale", "0.01")
    assert made.returncode == 0, made.stderr
    assert json.loads((folder / "suite.json").read_text())["preset"] == "chained-qa"
    shown = envkit("suite", "info", str(folder))
    assert shown.returncode == 0 and "every file matches the manifest" in shown.stdout
    (folder / "test_chained_n16.jsonl").write_text("")
    assert envkit("suite", "info", str(folder)).returncode == 1
    bad = envkit("suite", "generate", "--preset", "nope", "-o", str(tmp_path / "n"))
    assert bad.returncode == 2 and "unknown preset" in bad.stderr and len(bad.stderr.strip().splitlines()) == 1


@pytest.mark.slow
def test_shop_presets_generate_playable_suites(tmp_path, monkeypatch):
    import gymnasium as gym

    import envkit  # noqa: F401
    from composers.suites import generate_suite, verify_suite
    from envkit.kinds.oracle import TaskOracle
    from envkit.rollout.episode import run_episode

    monkeypatch.setenv("ENVKIT_CACHE", str(tmp_path / "cache"))
    manifest = generate_suite("mixed", tmp_path / "mixed", scale=0.005)
    assert [s["spec"] for s in manifest["sources"]] == [
        "synthetic:passages=100000,seed=0",
        "shop:products=10000,seed=0",
    ]
    assert verify_suite(tmp_path / "mixed") == []
    test_file = tmp_path / "mixed" / "test_mixed_n10.jsonl"
    tasks = read_tasks(test_file)
    assert all([o.kind for o in t.objectives].count("shop") == 2 for t in tasks)
    env = gym.make("envkit/Composite-v0", task_file=test_file)
    assert run_episode(env, TaskOracle(), task_index=0).reward == 1.0
    again = generate_suite("webshop", tmp_path / "webshop", scale=0.01)
    assert {f["n_objectives"] for f in again["files"]} == {1}


def test_a_suite_of_your_own_questions_names_its_corpus(tmp_path):
    """MEM1's protocol on a QA set of files: the preset's source replaced, the corpus recorded and used by eval."""
    import json

    from envkit.eval.harness import evaluate, suite_cases
    from envkit.kinds.oracle import TaskOracle
    from envkit.policy.base import AgentPolicy

    towns = [f"Town{i}" for i in range(400)]  # the preset tests N up to 32: a 10% hold-out of 400 questions
    questions = [
        {"id": str(i), "question": f"Which river runs through {t}?", "golden_answers": [f"River{i}"]}
        for i, t in enumerate(towns)
    ]
    qa = tmp_path / "qa.jsonl"
    qa.write_text("".join(json.dumps(q) + "\n" for q in questions))
    passages = [{"id": str(i), "contents": f"{t}\n{t} lies on the River{i}."} for i, t in enumerate(towns)]
    corpus = tmp_path / "corpus.jsonl"
    corpus.write_text("".join(json.dumps(p) + "\n" for p in passages))
    manifest = generate_suite("mem1-qa", tmp_path / "suite", scale=0.001, sources=(f"file:{qa}",), corpus=corpus)
    assert manifest["corpus"] == str(corpus.resolve()) and manifest["sources"][0]["spec"] == f"file:{qa}"
    cases = [c for c in suite_cases(tmp_path / "suite", ["consolidated"]) if c.n_objectives <= 2]
    rows = evaluate(cases, AgentPolicy(TaskOracle), episodes=1)
    assert [r.success for r in rows] == [1.0, 1.0]
    with pytest.raises(SourceError, match="composes 1 source"):
        generate_suite("mem1-qa", tmp_path / "two", sources=("synthetic", "synthetic"))


def test_a_task_file_that_is_not_utf8_is_named_with_its_line(tmp_path):
    from composers import compose

    path = tmp_path / "tasks.jsonl"
    compose(SMALL_WORLD, "parallel", 2, 3).write(path)
    lines = path.read_bytes().splitlines(keepends=True)
    lines[1] = lines[1].replace(b"?", b"?\xff", 1)
    path.write_bytes(b"".join(lines))
    with pytest.raises(SourceError, match=r"tasks\.jsonl:2: not UTF-8 text"):
        list(read_tasks(path))


def test_written_files_follow_the_umask_and_killed_writers_leave_nothing(tmp_path):
    import os
    import signal
    import subprocess
    import sys
    import time

    from composers import compose
    from composers.atomic import atomic_file

    old = os.umask(0o022)
    try:
        compose(SMALL_WORLD, "parallel", 2, 3).write(tmp_path / "shared.jsonl")
        generate_suite(SuitePreset("p", "d", (SMALL_WORLD,), (SuitePart("test", "parallel", 2, 2),)), tmp_path / "s")
    finally:
        os.umask(old)
    assert (tmp_path / "shared.jsonl").stat().st_mode & 0o777 == 0o644  # was 0600 whatever the umask
    assert (tmp_path / "s").stat().st_mode & 0o777 == 0o755
    # a writer killed outright leaves its staging file; the next write beside it removes it
    stale = tmp_path / ".shared.jsonl.999999999.abc.tmp"
    stale.write_text("half")
    with atomic_file(tmp_path / "shared.jsonl", "w") as handle:
        handle.write("whole")
    assert not stale.exists() and (tmp_path / "shared.jsonl").read_text() == "whole"
    # SIGTERM mid-compose: the staging file goes with the process
    command = [sys.executable, "-m", "envkit", "compose", "-s", SMALL_WORLD, "-n", "16", "--count", "2000000"]
    writer = subprocess.Popen([*command, "-o", str(tmp_path / "big.jsonl")], stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while not list(tmp_path.glob(".big.jsonl.*.tmp")) and time.monotonic() < deadline:
        time.sleep(0.05)
    writer.send_signal(signal.SIGTERM)
    assert writer.wait(timeout=60) != 0
    assert not list(tmp_path.glob(".big.jsonl.*")) and not (tmp_path / "big.jsonl").exists()


@pytest.mark.slow
def test_the_long_horizon_preset_reaches_128_objectives_and_plays_them(tmp_path):
    """mem1-qa-long: N = 32, 64, 128 test files; the oracle solves an N=128 task in a consolidated context
    whose retained part stays what it is at N = 2 (the state the agent writes), with peak tokens accounted."""
    import gymnasium as gym

    from composers.suites import generate_suite
    from envkit.envs import TASKS_ENV_ID
    from envkit.testing.conformance import oracle_turns, reference_episode

    manifest = generate_suite("mem1-qa-long", tmp_path / "long", scale=0.01)
    files = sorted(part["path"] for part in manifest["files"])
    assert files == sorted(["train_parallel_n2.jsonl", *(f"test_parallel_n{n}.jsonl" for n in (32, 64, 128))])

    def make():
        return gym.make(TASKS_ENV_ID, task_file=tmp_path / "long" / "test_parallel_n128.jsonl")

    turns = oracle_turns(make, 0)
    steps = reference_episode(make, 0, turns)
    assert steps[-1].done and steps[-1].reward == 1.0 and len(turns) > 128
    env = make()
    _, info = env.reset(options={"task_index": 0})
    for turn in turns:
        *_, info = env.step(turn)
    assert info["peak_context_tokens"] == max(info["context_tokens_per_turn"])
    assert info["peak_context_tokens"] < 2 * info["prompt_tokens"] + 2000  # the prompt plus one turn, not 128 turns
