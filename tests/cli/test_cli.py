import hashlib
import json
import subprocess
import sys

import pytest

from composers import read_tasks
from tests.conftest import HANG_GUARD_S

WORLD = "synthetic:passages=2000,seed=3"


def envkit(*args, stdin=""):
    return subprocess.run(
        [sys.executable, "-m", "envkit", *args], input=stdin, capture_output=True, text=True, timeout=HANG_GUARD_S
    )


def assert_one_line_error(result, *fragments):
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    assert "Traceback" not in result.stderr + result.stdout
    for fragment in fragments:
        assert fragment in lines[0]


@pytest.mark.slow
def test_help_documents_every_flag():
    for command, flags in {
        "compose": ["--output", "--source", "--strategy", "--n-objectives", "--count", "--split", "--seed", "--format"],
        "demo": ["--ns", "--episodes", "--passages", "--seed"],
        "play": ["--n-objectives", "--source", "--context", "--task-file"],
    }.items():
        result = envkit(command, "--help")
        assert result.returncode == 0
        for flag in flags:
            assert flag in result.stdout


@pytest.mark.parametrize("suffix", ["jsonl", "parquet"])
def test_compose_writes_identical_files(tmp_path, suffix):
    paths = [tmp_path / f"{name}.{suffix}" for name in "ab"]
    for path in paths:
        result = envkit("compose", "-s", WORLD, "--strategy", "chained", "-n", "4", "--count", "300", "-o", str(path))
        assert result.returncode == 0, result.stderr
        assert "wrote 300 tasks" in result.stderr
    digests = {hashlib.sha256(p.read_bytes()).hexdigest() for p in paths}
    assert len(digests) == 1
    tasks = list(read_tasks(paths[0]))
    assert len(tasks) == 300 and {t.n_objectives for t in tasks} == {4}


@pytest.mark.parametrize(
    ("args", "fragments"),
    [
        (["compose", "-o", "x.jsonl", "-n", "0"], ["--n-objectives"]),
        (["compose", "-o", "x.jsonl", "--count", "many"], ["--count"]),
        (["compose", "-o", "x.jsonl", "--bogus"], ["--bogus"]),
        (["compose"], ["--output"]),
        (["compose", "-o", "x.csv"], ["x.csv"]),
        (["compose", "-o", "x.jsonl", "--strategy", "serial"], ["unknown strategy"]),
        (["compose", "-o", "x.jsonl", "-s", "synthetic:passages=5"], ["at least 40 passages"]),
        (["compose", "-o", "x.jsonl", "-s", "file:/no/such.jsonl"], ["/no/such.jsonl"]),
        (["compose", "-o", "x.jsonl", "--split", "validation"], ["validation"]),
        (["demo", "--ns", "1,zero"], ["comma-separated"]),
        (["play", "--context", "everything"], ["unknown context builder"]),
        (["nosuchcommand"], ["nosuchcommand"]),
    ],
)
def test_bad_flags_give_one_line_and_exit_2(tmp_path, args, fragments):
    result = subprocess.run(
        [sys.executable, "-m", "envkit", *args], capture_output=True, text=True, timeout=HANG_GUARD_S, cwd=tmp_path
    )
    assert_one_line_error(result, *fragments)
    assert not (tmp_path / "x.jsonl").exists()


def test_corrupt_task_file_names_file_and_line(tmp_path):
    path = tmp_path / "suite.jsonl"
    assert envkit("compose", "-s", WORLD, "-n", "2", "--count", "5", "-o", str(path)).returncode == 0
    lines = path.read_text().splitlines()
    lines[3] = lines[3][:40]
    path.write_text("\n".join(lines) + "\n")
    assert_one_line_error(envkit("play", "--task-file", str(path)), f"{path}:4", "invalid JSON")


@pytest.mark.parametrize(
    ("line", "said"),
    [
        ("[1, 2]", "a task must be a JSON object, got an array"),
        ('"task"', "a task must be a JSON object, got a string"),
        ('{"schema": "envkit.task/1", "id": "t", "objectives": {"a": 1}}', "objectives must be a JSON array"),
        ('{"schema": "envkit.task/1", "id": "t", "objectives": [[1]]}', "an objective must be a JSON object"),
    ],
)
def test_a_task_line_of_the_wrong_json_type_is_named(tmp_path, line, said):
    """A JSON array as a task line said "'list' object has no attribute 'get'"."""
    path = tmp_path / "tasks.jsonl"
    path.write_text(line + "\n")
    assert_one_line_error(envkit("play", "--task-file", str(path)), f"{path}:1", said)


def test_failed_compose_keeps_the_previous_file(tmp_path):
    path = tmp_path / "suite.jsonl"
    assert envkit("compose", "-s", WORLD, "-n", "2", "--count", "5", "-o", str(path)).returncode == 0
    before = path.read_bytes()
    assert_one_line_error(envkit("compose", "-s", WORLD, "-n", "100000", "-o", str(path)), "fewer than N")
    assert path.read_bytes() == before


def test_demo_prints_success_and_peak_tokens():
    result = envkit("demo", "--ns", "1,4", "--episodes", "3", "--passages", "2000")
    assert result.returncode == 0, result.stderr
    rows = [line for line in result.stdout.splitlines() if line.startswith("│")]
    assert len(rows) == 2
    cells = [[c.strip() for c in row.strip("│").split("│")] for row in rows]
    assert [c[0] for c in cells] == ["1", "4"]
    for row in cells:
        assert row[2] == row[3] == "1.00"  # oracle success under both builders
    assert float(cells[1][6].rstrip("x")) > 1.5  # full context larger than consolidated at N=4


def test_play_a_winning_episode_through_stdin(tmp_path):
    from composers import compose

    path = tmp_path / "one.jsonl"
    compose(WORLD, "parallel", 2, 1, split="test", seed=8).write(path)
    task = next(read_tasks(path))
    lines = [
        f"search {task.objectives[0].queries[0]}",
        "<IS>oops",
        "answer " + "; ".join(o.golden_answers[0] for o in task.objectives),
    ]
    result = envkit("play", "--task-file", str(path), stdin="\n".join(lines) + "\n")
    assert result.returncode == 0, result.stderr
    assert "Doc 1(Title:" in result.stdout
    assert "Invalid turn" in result.stdout
    assert "1. [qa] " in result.stdout and ": achieved" in result.stdout and "reward 1.00" in result.stdout


def test_play_ends_cleanly_at_end_of_input():
    result = envkit("play", "-s", WORLD, stdin="")
    assert result.returncode == 0 and "episode abandoned" in result.stdout


@pytest.mark.slow
def test_eval_writes_a_report_with_plots_and_trajectories(tmp_path):
    out = tmp_path / "report"
    result = envkit("eval", "--source", WORLD, "--ns", "1,2", "--episodes", "3", "--builders", "consolidated,window(2)",
                    "-o", str(out))  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "| 2 | window(2) | 3 |" in result.stdout
    assert {p.name for p in out.iterdir()} == {"report.md", "results.json", "accuracy.png", "peak_tokens.png",
                                               "trajectories.jsonl", "run.json"}  # fmt: skip
    assert len((out / "trajectories.jsonl").read_text().splitlines()) == 12


@pytest.mark.slow
def test_eval_with_the_tiny_model(tmp_path):
    out = tmp_path / "tiny"
    result = envkit("eval", "--policy", "tiny", "--source", WORLD, "--ns", "2", "--episodes", "2", "--batch-size", "2",
                    "--max-new-tokens", "8", "--device", "cpu", "-o", str(out), "--no-trajectories")  # fmt: skip
    assert result.returncode == 0, result.stderr
    rows = __import__("json").loads((out / "results.json").read_text())["rows"]
    assert [r["builder"] for r in rows] == ["consolidated", "full"]
    assert all(r["generated_tokens"] > 0 and r["em_sum"] is not None for r in rows)
    assert not (out / "trajectories.jsonl").exists()


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["--builders", "rolling"], "unknown context builder"),
        (["--policy", "gpt5"], "unknown policy"),
        (["--ns", "0"], "positive"),
        (["--suite", "/no/such/suite"], "not a suite"),
        (["--episodes", "0"], "--episodes"),
        (["--protocol", "mem2"], "unknown protocol 'mem2'"),
        (["--state-tag", "my state"], "invalid tag name"),
        (["--protocol", "mem1", "--source", "reasoning_gym:chain_sum"], "protocol 'mem1' plays qa tasks only"),
    ],
)
def test_eval_bad_input_is_one_line(args, fragment, tmp_path):
    assert_one_line_error(envkit("eval", "-o", str(tmp_path / "r"), *args), fragment)


@pytest.mark.slow
def test_play_and_eval_take_any_objective_kind(tmp_path):
    from tests.conftest import require

    require("reasoning_gym")
    result = envkit("play", "-s", "reasoning_gym:chain_sum", "-n", "2", stdin="<IS>x</IS><solve>0</solve>\n" * 2)
    assert result.returncode == 0, result.stderr
    assert "Problems:" in result.stdout and "[reasoning]" in result.stdout
    assert "episode over after 2 turns" in result.stdout
    report = envkit("eval", "--source", "reasoning_gym:chain_sum", "--ns", "2", "--episodes", "2", "-o", str(tmp_path))
    assert report.returncode == 0, report.stderr
    assert "| 2 | consolidated | 2 | 1.000 |" in report.stdout  # the oracle solves every problem


@pytest.mark.slow
def test_eval_on_your_own_qa_files_names_the_corpus_by_flag(tmp_path):
    questions = [
        {"id": str(i), "question": f"Which river runs through Town{i}?", "golden_answers": [f"River{i}"]}
        for i in range(40)
    ]
    qa = tmp_path / "nq.jsonl"
    qa.write_text("".join(json.dumps(q) + "\n" for q in questions))
    corpus = tmp_path / "wiki.jsonl"
    rows = [{"id": str(i), "contents": f'"Town{i}"\nTown{i} lies on the River{i}.'} for i in range(40)]
    corpus.write_text("".join(json.dumps(r) + "\n" for r in rows))
    missing = envkit("eval", "--source", f"file:test={qa}", "--ns", "1", "--episodes", "2", "-o", str(tmp_path / "a"))
    assert_one_line_error(missing, "--corpus PATH")
    command = ["eval", "--source", f"file:test={qa}", "--corpus", str(corpus), "--top-k", "2", "--max-turns", "3"]
    report = envkit(*command, "--ns", "1,2", "--episodes", "2", "-o", str(tmp_path / "b"))
    assert report.returncode == 0, report.stderr
    assert "| 1 | consolidated | 2 | 1.000 | 1.000" in report.stdout  # EM sum 1 of 1, every episode


@pytest.mark.slow
def test_eval_and_play_take_mems1_protocol(tmp_path):
    """``--protocol mem1``: MEM1's prompt, <think> turns, summed EM, 6 turns, its observations in the agent's turn."""
    flags = ["--protocol", "mem1", "--ns", "2", "--episodes", "2", "--builders", "consolidated"]
    report = envkit("eval", "--source", WORLD, *flags, "-o", str(tmp_path))
    assert report.returncode == 0, report.stderr
    assert "| 2 | consolidated | 2 | 2.000 | 1.000" in report.stdout  # the oracle answers both, in <think> turns
    first = json.loads((tmp_path / "trajectories.jsonl").read_text().splitlines()[0])
    assert first["turns"][0]["output"].startswith("<think>")
    assert "Answer the following questions:" in first["turns"][0]["context"][0]["content"]
    assert "[HINT]You have 5 turns left.[/HINT]" in first["turns"][1]["context"][-1]["content"]
    played = envkit("play", "-s", WORLD, "--protocol", "mem1", stdin="search something\n")
    assert played.returncode == 0, played.stderr
    assert "full <think>...</think> turn" in played.stdout
    assert "<information>[HINT]You have 5 turns left" in played.stdout
    tagged = envkit("play", "-s", WORLD, "--state-tag", "think", stdin="<think>x</think><search>q</search>\n")
    assert tagged.returncode == 0 and "Invalid turn" not in tagged.stdout
    assert "<information>No results." in tagged.stdout


def test_a_task_file_composed_with_a_corpus_names_it_and_replays_anywhere(tmp_path, monkeypatch):
    import gymnasium as gym

    from envkit.envs import TASK_FILE_ENV_ID
    from envkit.policy.specs import load_policy
    from envkit.rollout.runner import RolloutRunner

    qa = tmp_path / "nq.jsonl"
    questions = [
        {"id": str(i), "question": f"Which river runs through Town{i}?", "golden_answers": [f"River{i}"]}
        for i in range(20)
    ]
    qa.write_text("".join(json.dumps(q) + "\n" for q in questions))
    corpus = tmp_path / "wiki.jsonl"
    passages = [{"id": str(i), "contents": f'"Town{i}"\nTown{i} lies on the River{i}.'} for i in range(20)]
    corpus.write_text("".join(json.dumps(p) + "\n" for p in passages))
    tasks = tmp_path / "out" / "nq_n2.jsonl"
    tasks.parent.mkdir()
    compose = ["compose", "-s", f"file:train={qa}", "-n", "2", "--count", "3", "-o", str(tasks)]
    missing = envkit(*compose, "--corpus", "nope.jsonl")
    assert_one_line_error(missing, "nope.jsonl: no such file")
    written = envkit(*compose, "--corpus", str(corpus))
    assert written.returncode == 0, written.stderr
    assert {json.loads(line)["corpus"] for line in tasks.read_text().splitlines()} == {str(corpus.resolve())}
    monkeypatch.chdir(tmp_path / "out")
    make = lambda: gym.make(TASK_FILE_ENV_ID, task_file=tasks.name)  # noqa: E731
    with RolloutRunner(make, load_policy("oracle"), batch_size=3) as runner:
        assert all(t.success for t in runner.run(3))


@pytest.mark.slow
@pytest.mark.parametrize("command", [("retriever", "serve", "--corpus", WORLD, "--no-jit"), ("shop", "serve")])
def test_a_busy_port_is_one_line_before_anything_claims_to_serve(command, tmp_path):
    """It printed "serving" and then exited 3."""
    import os
    import socket

    os.environ.setdefault("ENVKIT_CACHE", str(tmp_path))
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = str(taken.getsockname()[1])
        result = envkit(*command, "--port", port)
    assert_one_line_error(result, f"cannot serve on 127.0.0.1:{port}")
    assert "serving" not in result.stdout + result.stderr


@pytest.mark.slow
def test_eval_refuses_a_suite_whose_files_changed_and_suite_info_names_a_bad_key(tmp_path):
    from composers.suites import SuitePart, SuitePreset, generate_suite

    preset = SuitePreset("tiny", "test", (WORLD,), (SuitePart("test", "parallel", 2, 3),))
    generate_suite(preset, tmp_path / "suite")
    task_file = tmp_path / "suite" / "test_parallel_n2.jsonl"
    task_file.write_text(task_file.read_text().replace("?", "?!", 1))  # one question edited by hand
    refused = envkit("eval", "--suite", str(tmp_path / "suite"), "--episodes", "1", "-o", str(tmp_path / "r"))
    assert refused.returncode == 1 and "content differs from the manifest" in refused.stderr
    played = envkit(
        "eval", "--suite", str(tmp_path / "suite"), "--no-verify", "--episodes", "1", "-o", str(tmp_path / "r2")
    )
    assert played.returncode == 0, played.stderr
    manifest = tmp_path / "suite" / "suite.json"
    manifest.write_text(manifest.read_text().replace('"preset"', '"presat"'))
    assert_one_line_error(envkit("suite", "info", str(tmp_path / "suite")), "no 'preset' field")


def test_a_missing_extra_is_one_line_naming_it(monkeypatch, capsys):
    """A command whose extra is not installed printed a 35-100 line traceback."""
    from envkit.cli.app import main

    monkeypatch.setitem(sys.modules, "fastapi", None)  # as if the 'server' extra were not installed
    monkeypatch.delitem(sys.modules, "envkit.retrieval.server", raising=False)
    with pytest.raises(SystemExit) as exited:
        main(["retriever", "serve", "--corpus", WORLD, "--no-jit", "--port", "1"])
    err = capsys.readouterr().err
    assert exited.value.code == 2 and err.strip().splitlines() == [
        "error: this command needs fastapi (pip install 'mem1-envkit[server]')"
    ]


@pytest.mark.slow
def test_hub_lookups_fail_fast_when_the_hub_does_not_answer(tmp_path):
    """Offline, each Hub look-up spent 25-50 s and a dozen retry lines before its error."""
    import os
    import time

    env = {k: v for k, v in os.environ.items() if k not in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE")}
    env.update(HF_ENDPOINT="http://127.0.0.1:9", HF_HOME=str(tmp_path / "hf"))  # nothing listens there
    for command in (
        ("compose", "-s", "flashrag:nq", "-n", "2", "--count", "2", "-o", str(tmp_path / "x.jsonl")),
        ("eval", "--policy", "hf:someone/no-such-model", "--ns", "1", "--episodes", "1", "-o", str(tmp_path / "r")),
    ):
        started = time.monotonic()
        result = subprocess.run([sys.executable, "-m", "envkit", *command], capture_output=True, text=True, env=env)
        assert time.monotonic() - started < 20
        assert_one_line_error(result)


@pytest.mark.slow
def test_eval_resumes_an_interrupted_report(tmp_path):
    out = tmp_path / "report"
    command = ["eval", "--source", WORLD, "--ns", "1,2", "--episodes", "3", "-o", str(out)]
    full = envkit(*command)
    assert full.returncode == 0, full.stderr
    trajectories = out / "trajectories.jsonl"
    lines = trajectories.read_text().splitlines()
    assert len(lines) == 12  # 2 N x 2 builders x 3 episodes
    trajectories.write_text("\n".join(lines[:5]) + "\n")  # as if the run had stopped after 5 episodes
    resumed = envkit(*command, "--resume")
    assert resumed.returncode == 0, resumed.stderr
    records = [json.loads(line) for line in trajectories.read_text().splitlines()]
    keys = [(r["n_objectives"], r["builder"], r["task_index"]) for r in records]
    assert len(keys) == 12 and len(set(keys)) == 12  # every episode once: the first 5 were not played again
    assert records[:5] == [json.loads(line) for line in lines[:5]]
    assert "| 2 | full | 3 | 2.000 |" in resumed.stdout  # the row counts the 3 episodes, old and new


def _qa_file(path, questions):
    path.write_text(
        "".join(
            json.dumps({"id": str(i), "question": q, "golden_answers": [f"A{i}"]}) + "\n"
            for i, q in enumerate(questions)
        )
    )
    return path


def _corpus(path, n):
    rows = [{"id": str(i), "title": f"Office {i}", "text": f"Office {i} stands in the city of A{i}."} for i in range(n)]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def _asked(report, questions):
    """The questions the episodes of a report's trajectories were asked (read from their prompts)."""
    prompts = [json.dumps(json.loads(line)["turns"][0]["context"]) for line in (report / "trajectories.jsonl").open()]
    return {q for q in questions if any(q in p for p in prompts)}


def test_eval_of_a_bare_file_says_which_split_it_plays_and_how_to_name_one(tmp_path):
    """FlashRAG's 17-question NQ test file evaluated as 0 questions, and a large file was quietly cut to a tenth."""
    from composers.sources.files import FileSource

    questions = [f"In which city does office {i} stand?" for i in range(60)]
    whole = _qa_file(tmp_path / "all.jsonl", questions)
    held_out = {o.question for o in FileSource.holdout(whole).questions("test")}
    assert 0 < len(held_out) < len(questions)
    corpus = _corpus(tmp_path / "corpus.jsonl", 60)
    common = ("--corpus", str(corpus), "--ns", "1", "--episodes", "100", "--builders", "consolidated")

    played = envkit("eval", "--source", f"file:{whole}", *common, "-o", str(tmp_path / "r1"))
    assert played.returncode == 0, played.stderr
    note = f"playing the {len(held_out)} of its 60 questions a hash holds out for test"
    assert note in played.stderr and f"--source file:test={whole} plays the whole file" in played.stderr
    report = json.loads((tmp_path / "r1" / "results.json").read_text())
    assert f"split test (the {len(held_out)} of 60 questions a hash holds out)" in report["tasks"]
    assert _asked(tmp_path / "r1", questions) == held_out

    everything = envkit("eval", "--source", f"file:test={whole}", *common, "-o", str(tmp_path / "r2"))
    assert everything.returncode == 0, everything.stderr
    assert len(_asked(tmp_path / "r2", questions)) > len(held_out)  # questions from the whole file

    train_side = _qa_file(tmp_path / "train_side.jsonl", [q for q in questions if q not in held_out][:17])
    refused = envkit("eval", "--source", f"file:{train_side}", *common, "-o", str(tmp_path / "r3"))
    assert_one_line_error(refused, "none of its 17", f"--source file:test={train_side} plays the whole file")


def test_the_eval_report_says_how_it_was_made(tmp_path):
    out = tmp_path / "report"
    result = envkit(
        "eval", "-s", WORLD, "--ns", "1", "--episodes", "2", "--metric", "f1", "--top-k", "2", "--max-turns", "5",
        "--protocol", "mem1", "--retriever", "bm25:rank_bm25", "-o", str(out),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    results = json.loads((out / "results.json").read_text())
    assert results["metric"] == "f1" and results["top-k"] == 2 and results["max turns"] == 5
    assert results["protocol"] == "mem1" and "rank_bm25" in results["retriever"]
    assert results["corpus"] == "the source's own passages" and results["seed"] == 0
    markdown = (out / "report.md").read_text()
    for line in ("- metric: f1", "- top-k: 2", "- max turns: 5", "- protocol: mem1", "- retriever: BM25Retriever"):
        assert line in markdown
    bad = envkit("eval", "-s", WORLD, "--ns", "1", "--metric", "bleu", "-o", str(tmp_path / "r2"))
    assert_one_line_error(bad, "bleu")


def test_a_resume_with_other_settings_is_refused_and_a_half_written_line_is_dropped(tmp_path):
    """--policy random, then --policy oracle --resume into the same folder: exit 0 and a report of mixed runs."""
    out = tmp_path / "report"
    base = ["eval", "-s", WORLD, "--ns", "1", "--builders", "consolidated", "-o", str(out)]
    first = envkit(*base, "--episodes", "3", "--policy", "random")
    assert first.returncode == 0, first.stderr
    trajectories = out / "trajectories.jsonl"
    before = trajectories.read_bytes()
    for other in (
        ["--policy", "oracle"],
        ["--policy", "random", "--seed", "1"],
        ["--policy", "random", "--top-k", "5"],
    ):
        refused = envkit(*base, "--episodes", "6", *other, "--resume")
        assert_one_line_error(refused, "--resume", "other settings")
        assert trajectories.read_bytes() == before  # nothing lost or added
    assert "policy 'random' there, 'oracle' now" in envkit(*base, "--episodes", "6", "--resume").stderr

    trajectories.write_bytes(before + b'{"format": "envkit.trajec')  # a crash in the middle of an append
    resumed = envkit(*base, "--episodes", "5", "--policy", "random", "--resume")
    assert resumed.returncode == 0, resumed.stderr
    assert "dropped a half-written last line" in resumed.stderr
    records = [json.loads(line) for line in trajectories.read_text().splitlines()]
    assert len(records) == 5 and sorted(r["task_index"] for r in records) == [0, 1, 2, 3, 4]
