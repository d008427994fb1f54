#!/usr/bin/env bash
# GPU readiness check for a machine with an NVIDIA GPU (set it up with scripts/setup.sh, which
# installs a CUDA torch and onnxruntime-gpu when nvidia-smi works): training steps on CUDA under
# fp16 and bf16 autocast with channels_last for each preset (iterations/s), a CUDA-trained run
# exported to ONNX, and inference through onnxruntime-gpu's CUDA/TensorRT providers and the
# tensorrt package where installed (ms per face, which provider really ran).
# Without CUDA it says so and exits 0. Options: benchmarks/gpu_check.py --help.
#   scripts/gpu-check.sh [--presets live balanced] [--steps 20] [--json gpu-check.json]
# The engine's GPU frame path against its CPU path, on a pack made where MediaPipe is
# (`python benchmarks/gpu_engine_check.py prepare CLIP out/gpu-pack`), alone:
#   scripts/gpu-check.sh --engine-only --engine-pack out/gpu-pack --json gpu-check.json
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-.venv/bin/python}
[ -x "$PY" ] || PY=python3
if ! "$PY" -c "import swapstream.engine" 2>/dev/null; then
  # A checkout that is not installed (a bare GPU machine): the one namespace as pyproject's
  # package-dir maps it, from links in a temporary folder.
  SHIM=$(mktemp -d)
  mkdir "$SHIM/swapstream"
  for f in swapstream/*; do ln -s "$PWD/$f" "$SHIM/swapstream/"; done
  for d in engine trainer export configs; do ln -s "$PWD/$d" "$SHIM/swapstream/$d"; done
  export PYTHONPATH="$SHIM:$PWD${PYTHONPATH:+:$PYTHONPATH}"
fi
exec "$PY" benchmarks/gpu_check.py "$@"
