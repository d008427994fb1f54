#!/usr/bin/env bash
# Create or refresh .venv with everything swapstream needs. Idempotent: a second run with
# unchanged project files returns at once.
#   SWAPSTREAM_GPU=1     install onnxruntime-gpu instead of onnxruntime and a CUDA torch build
#   SWAPSTREAM_TORCH=... pip requirement for torch (overrides the automatic choice)
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
VENV=.venv
[ -x "$VENV/bin/python" ] || "$PY" -m venv "$VENV"
PIP=("$VENV/bin/python" -m pip --disable-pip-version-check -q)

gpu=${SWAPSTREAM_GPU:-0}
if [ -z "${SWAPSTREAM_GPU:-}" ] && command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1; then gpu=1; fi
stamp="$VENV/.swapstream-setup-$(cat pyproject.toml scripts/setup.sh | sha1sum | cut -c1-12)-gpu$gpu"
[ -f "$stamp" ] && exit 0

echo "setting up $VENV (gpu=$gpu) ..." >&2
"${PIP[@]}" install -U pip wheel
if [ -n "${SWAPSTREAM_TORCH:-}" ]; then torch_req=$SWAPSTREAM_TORCH
elif [ "$gpu" = 1 ]; then torch_req="torch>=2.3"
# A CPU machine: 2.13.0 is the CPU build on these machines' local disk; any other torch
# requirement would pull a multi-GB CUDA build.
else torch_req="torch==2.13.0"; fi
"${PIP[@]}" install "$torch_req"
"${PIP[@]}" install --no-deps "mediapipe==0.10.21"
if [ "$gpu" = 1 ]; then
  "${PIP[@]}" uninstall -y onnxruntime >/dev/null 2>&1 || true
  "${PIP[@]}" install -e ".[gpu,train,dev,cluster,webrtc]"
else
  "${PIP[@]}" uninstall -y onnxruntime-gpu >/dev/null 2>&1 || true
  "${PIP[@]}" install -e ".[cpu,train,dev,cluster,webrtc]"
fi
# The identity judge of `swapstream eval`: dlib wheel (no compiling) + its model files.
"${PIP[@]}" install "dlib-bin>=20.0.1"
"${PIP[@]}" install --no-deps "face-recognition-models==0.3.0"
# Importing is the real check (numpy<2 for mediapipe, one cv2, one onnxruntime).
"$VENV/bin/python" -c "import mediapipe, cv2, onnxruntime, numba, av, torch; print('environment ok:', onnxruntime.get_available_providers())" >&2
rm -f "$VENV"/.swapstream-setup-*
touch "$stamp"
