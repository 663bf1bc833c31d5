#!/usr/bin/env bash
# Set up a development install with every extra, on a fresh machine.
# torch goes first and pinned: an unpinned or open-ended torch makes pip fetch the
# newest CUDA build (GBs); 2.13.0 resolves to the CPU wheel here and satisfies the
# range the extras declare, so nothing else pulls a second torch.
set -euo pipefail
cd "$(dirname "$0")/.."
python -m pip install --quiet --upgrade pip
if ! python -c "import torch" 2>/dev/null; then
  python -m pip install --quiet "torch==2.13.0"
fi
python -m pip install --quiet -e ".[all,dev]"
