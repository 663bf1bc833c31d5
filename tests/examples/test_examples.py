import subprocess
import sys
from pathlib import Path

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def run(script, *args):
    return subprocess.run(
        [sys.executable, str(EXAMPLES / script), *args], capture_output=True, text=True, timeout=300, check=False
    )


def test_compose_and_evaluate_runs():
    result = run("compose_and_evaluate.py", "--n-objectives", "4", "--tasks", "5", "--passages", "2000")
    assert result.returncode == 0, result.stderr
    assert "consolidated oracle: success 1.00" in result.stdout
    assert "full oracle: success 1.00" in result.stdout


def test_your_own_qa_set_runs():
    result = run("your_own_qa_set.py")
    assert result.returncode == 0, result.stderr
    assert "oracle: reward 1.00" in result.stdout


def test_mixed_qa_and_shop_runs(tmp_path):
    import os

    env = {**os.environ, "ENVKIT_CACHE": str(tmp_path / "cache")}
    result = subprocess.run(
        [sys.executable, str(EXAMPLES / "mixed_qa_and_shop.py"), "--episodes", "3"],
        capture_output=True, text=True, timeout=300, check=False, cwd=tmp_path, env=env,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stdout.count("reward 1.00") == 3 and "[shop]" in result.stdout
    assert (tmp_path / "mixed_test.jsonl").is_file()
