#!/usr/bin/env bash
# GPU readiness check for a machine with an NVIDIA GPU (set it up with scripts/setup.sh, which
# installs a CUDA torch and onnxruntime-gpu when nvidia-smi works): training steps on CUDA under
# fp16 and bf16 autocast with channels_last for each preset (iterations/s), a CUDA-trained run
# exported to ONNX, and inference through onnxruntime-gpu's CUDA/TensorRT providers and the
# tensorrt package where installed (ms per face, which provider really ran).
# Without CUDA it says so and exits 0. Options: benchmarks/gpu_check.py --help.
#   scripts/gpu-check.sh [--presets live balanced] [--steps 20] [--json gpu-check.json]
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-.venv/bin/python}
[ -x "$PY" ] || PY=python3
exec "$PY" benchmarks/gpu_check.py "$@"
