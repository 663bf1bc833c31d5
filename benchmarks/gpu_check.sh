#!/usr/bin/env bash
# The GPU checks of the trainer, in one run of under 10 minutes on one CUDA GPU.
#
#   bash benchmarks/gpu_check.sh            # on a GPU machine; writes benchmarks/results/gpu_check.json
#   bash benchmarks/gpu_check.sh --smoke    # the same steps on small CPU shapes (what the tests run)
#
# 1. bf16 log-prob drift of the packed forward on a Qwen2.5-7B-shaped random model
#    (python -m benchmarks.gpu_check drift);
# 2. the packing benchmark on the GPU, oracle episodes (benchmarks/results/train_packing_gpu.json);
# 3. the rollout benchmark on the GPU, a Qwen2.5-7B-shaped policy (benchmarks/results/rollout_gpu.json);
# 4. two LoRA training steps in bf16 (python -m benchmarks.gpu_check train).
#
# A machine without envkit's dependencies installed takes them as wheels: put them in .whl/
# (see the device notes) and they are installed into /tmp/site first. Results are also
# copied to $OUT when that is set, so they come back from a lent machine.
set -euo pipefail
cd "$(dirname "$0")/.."
smoke=""
[[ "${1:-}" == "--smoke" ]] && smoke="--smoke"
if compgen -G ".whl/*.whl" > /dev/null; then
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl
    export PYTHONPATH="/tmp/site:${PYTHONPATH:-}"
fi
export PYTHONPATH=".:${PYTHONPATH:-}" PYTHONUNBUFFERED=1
if [[ -z "$smoke" ]] && ! python3 -c "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)"; then
    echo "gpu_check: no CUDA GPU here; nothing measured (use --smoke to test the script on the CPU)" >&2
    exit 2
fi
results="${GPU_CHECK_RESULTS:-benchmarks/results}"
mkdir -p "$results"
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
python3 -m benchmarks.gpu_check drift $smoke --output "$scratch/drift.json"
if [[ -z "$smoke" ]]; then
    python3 -m benchmarks.train_packing --only oracle/consolidated oracle/full
    python3 -m benchmarks.rollout
fi
python3 -m benchmarks.gpu_check train $smoke --output "$scratch/train.json"
name="gpu_check$([[ -n "$smoke" ]] && echo _smoke || true).json"
python3 - "$results/$name" "$scratch/drift.json" "$scratch/train.json" <<'PY'
import json, sys
path, drift, train = sys.argv[1], json.load(open(sys.argv[2])), json.load(open(sys.argv[3]))
with open(path, "w") as out:
    json.dump({"command": "bash benchmarks/gpu_check.sh", "drift": drift, "lora_train": train}, out, indent=2)
print(path)
PY
if [[ -n "${OUT:-}" ]]; then
    cp "$results/$name" benchmarks/results/*_gpu.json "$OUT"/ 2>/dev/null || true
fi
