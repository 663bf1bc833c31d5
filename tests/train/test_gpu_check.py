"""The GPU check script runs end to end: here on small CPU shapes (``--smoke``), as a lent GPU would run it."""

import json
import math
import os
import subprocess
from pathlib import Path

import pytest

from tests.conftest import require

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_gpu_check_script_runs_its_steps_on_small_cpu_shapes(tmp_path):
    require("torch", "transformers", "trl", "peft")
    environment = {**os.environ, "GPU_CHECK_RESULTS": str(tmp_path), "OUT": ""}
    run = subprocess.run(
        ["bash", "benchmarks/gpu_check.sh", "--smoke"], cwd=ROOT, env=environment, capture_output=True, text=True
    )
    assert run.returncode == 0, run.stderr[-2000:]
    result = json.loads((tmp_path / "gpu_check_smoke.json").read_text())
    drift = result["drift"]
    assert drift["float32 masked/tiles"]["max"] < 1e-4  # the packed forward reproduces one row per turn
    for name in ("bf16 per_turn/dense (peer)", "bf16 masked/tiles", "bf16 masked/flex"):
        assert 0 < drift[name]["max"] < 1.0, name  # bf16 drifts, boundedly
    train = result["lora_train"]
    assert train["steps"] == 2 and len(train["step_s"]) == 2
    assert train["losses"] and all(math.isfinite(loss) for loss in train["losses"])


@pytest.mark.slow
def test_gpu_check_without_a_gpu_says_so_and_measures_nothing(tmp_path):
    require("torch")
    import torch

    if torch.cuda.is_available():
        pytest.skip("a GPU is here: the script measures")
    environment = {**os.environ, "GPU_CHECK_RESULTS": str(tmp_path)}
    run = subprocess.run(["bash", "benchmarks/gpu_check.sh"], cwd=ROOT, env=environment, capture_output=True, text=True)
    assert run.returncode == 2
    assert (
        run.stderr.strip()
        == "gpu_check: no CUDA GPU here; nothing measured (use --smoke to test the script on the CPU)"
    )
    assert not list(tmp_path.iterdir())
