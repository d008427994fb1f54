"""scripts/gpu-check.sh (issue 15, item 4): says "no CUDA" and exits 0 on a machine without it;
its checks run on a CUDA machine (tests marked `cuda`, skipped here)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import torch
from swapstream.trainer.config import available_presets

from benchmarks import gpu_check

REPO = Path(__file__).resolve().parents[1]
NO_CUDA = not torch.cuda.is_available()


@pytest.mark.skipif(not NO_CUDA, reason="this machine has CUDA: the real checks run instead")
def test_without_cuda_it_says_so_and_exits_0():
    done = subprocess.run(
        ["bash", str(REPO / "scripts" / "gpu-check.sh")],
        check=False,
        env={"PYTHON": sys.executable, "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("no CUDA: torch ") and "sees no CUDA device" in done.stdout, done.stdout


def test_the_training_step_it_times_runs_in_both_precisions():
    """The same code on the CPU (bf16/fp16 autocast, channels_last, GradScaler), one step each."""
    for precision in gpu_check.PRECISIONS:
        r = gpu_check.train_speed("demo", precision, steps=1, batch=2, device="cpu")
        assert r["iters_per_s"] > 0 and r["loss_finite"], r


@pytest.mark.cuda
@pytest.mark.skipif(NO_CUDA, reason="needs a CUDA GPU")
@pytest.mark.parametrize("preset", available_presets())
@pytest.mark.parametrize("precision", gpu_check.PRECISIONS)
def test_cuda_training_step(preset, precision):
    r = gpu_check.train_speed(preset, precision, steps=2)
    assert r.get("skipped") or (r["iters_per_s"] > 0 and r["loss_finite"]), r


@pytest.mark.cuda
@pytest.mark.skipif(NO_CUDA, reason="needs a CUDA GPU")
def test_cuda_trained_run_exports_and_infers(tmp_path):
    result = gpu_check.cuda_trained_export(tmp_path, iters=4)
    assert result["device"].startswith("cuda") and result["iterations"] == 4
    rows = gpu_check.provider_inference(tmp_path / "model_fp32.onnx", tmp_path, repeat=3)
    for row in rows:
        assert "skipped" in row or row["ran_on"] in ("cuda", "tensorrt"), row
