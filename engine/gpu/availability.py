"""The one switch of the device frame path, and the honest line when it stays off.

`frame_path(model, blend_mode)` says whether a swap's per-pixel work runs on the GPU: asked for
with `--device cuda`, or by default (`auto`) whenever the model's session runs on CUDA or
TensorRT. It stays on the CPU path (today's pixels, today's speed) when Numba finds no CUDA
device (no NVIDIA GPU, no driver, no CUDA-enabled Numba: numba-cuda) or the blend is 'poisson'
(OpenCV's seamlessClone, CPU only), and says so in one line. With `--device cuda` but no
onnxruntime-gpu (or a session that fell back to the CPU) the pixels still run on the device and
inference on the CPU, and that is said too. Nothing here imports numba.cuda unless a device was
asked for or the session is on the GPU, so the CPU path does not pay for it.
"""

from __future__ import annotations

import functools
import logging
from dataclasses import dataclass

log = logging.getLogger(__name__)

GPU_PROVIDERS = ("cuda", "tensorrt")  # sessions whose tensors can stay on the device


@dataclass(frozen=True)
class FramePathChoice:
    """use: run the device stages; io_binding: inference on device buffers; why: the line to print."""

    use: bool
    io_binding: bool = False
    why: str = ""


def cuda_problem() -> str:
    """'' when Numba can launch CUDA kernels here (or its simulator is on), else why not."""
    try:
        from numba import cuda
    except ImportError as e:  # a numba build without its CUDA target
        return f"numba has no CUDA target here ({e}); install numba-cuda"
    try:
        if cuda.is_available():
            return ""
    except Exception as e:  # a broken driver raises instead of answering
        return f"CUDA is not usable ({e})"
    return "Numba finds no CUDA device (no NVIDIA GPU, no driver, or numba without numba-cuda)"


def frame_path(model, blend_mode: str) -> FramePathChoice:
    """Where `model`'s swaps run (model: an engine.runtime SwapModel; its runtime.frame_device asks)."""
    requested = model.runtime.frame_device if model.runtime is not None else "auto"
    on_gpu = model.provider in GPU_PROVIDERS
    if requested == "cpu" or (requested == "auto" and not on_gpu):
        return FramePathChoice(False)
    if blend_mode == "poisson":
        return FramePathChoice(False, why="GPU frame path off: poisson blending runs on the CPU only; CPU path")
    problem = cuda_problem()
    if problem:
        return FramePathChoice(False, why=f"GPU frame path off: {problem}; CPU path")
    if on_gpu:
        return FramePathChoice(True, True, f"GPU frame path on: inference on {model.provider} through IO binding")
    return FramePathChoice(
        True,
        False,
        f"GPU frame path on (--device cuda); inference on {model.provider}, not the GPU: onnxruntime-gpu "
        "is missing or its CUDA provider did not start, so each face's crop (a few KB) crosses to the host",
    )


def report(choice: FramePathChoice) -> None:
    """The one line about the choice (a warning when the asked-for device path is off), once per
    process: convert builds its stages once per segment."""
    if choice.why:
        _say_once(choice.use, choice.why)


@functools.cache
def _say_once(on_device: bool, why: str) -> None:
    (log.info if on_device else log.warning)("%s", why)
