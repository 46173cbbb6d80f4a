#!/usr/bin/env bash
# Makes .venv-hf: PyTorch (CPU build), transformers and peft, for the Hugging Face parity tests.
# Uses this machine's pip configuration: the find-links folder's +cpu torch wheel (a plain
# `pip install torch` would pick a large CUDA build), then the configured package indexes.
set -euo pipefail
cd "$(dirname "$0")/.."
venv=.venv-hf
if [ -x "$venv/bin/python" ] && "$venv/bin/python" -c 'import torch, transformers, peft, safetensors' 2>/dev/null; then
  echo "$venv ready: $("$venv/bin/python" -c 'import torch, transformers, peft; print("torch", torch.__version__, "transformers", transformers.__version__, "peft", peft.__version__)')"
  exit 0
fi
rm -rf "$venv"
/usr/bin/python3 -m venv "$venv"
# The venv's own pip reads the machine's pip configuration files; no system pip is needed.
pip_config() { "$venv/bin/pip" config get "$1" 2>/dev/null || true; }
links=$(pip_config global.find-links)
indexes=$(pip_config global.extra-index-url)
wheel=$(ls "${links:-/nonexistent}"/torch-*+cpu*.whl 2>/dev/null | sort -V | tail -n1 || true)
[ -n "$wheel" ] || { echo "no +cpu torch wheel in pip's find-links folder (${links:-unset})"; exit 1; }
# The configured indexes are the only reachable ones, so the first becomes the main index.
if [ -n "$indexes" ]; then
  export PIP_INDEX_URL="${indexes%% *}"
  rest="${indexes#"$PIP_INDEX_URL"}"
  export PIP_EXTRA_INDEX_URL="${rest# }"
fi
"$venv/bin/pip" install -q "$wheel" transformers peft safetensors 2>&1 | grep -v 'is ignored: it is neither a file nor a directory' || true
"$venv/bin/python" -c 'import torch, transformers, peft, safetensors; print("torch", torch.__version__, "transformers", transformers.__version__, "peft", peft.__version__)'
