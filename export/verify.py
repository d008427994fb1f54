"""Numerical verification of an exported model against PyTorch on real aligned faces.

fp32: the float twin of the graph must match PyTorch within FP32_TOLERANCE (max abs difference,
values in [0, 1]), and the shipped uint8 graph may differ from PyTorch's uint8 output by at most
one level (a 1e-6 difference can cross a rounding boundary). fp16 and int8: the shipped output
is compared with the fp32 PyTorch output by SSIM (faces) and mean abs difference (masks).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import onnxruntime as ort
from skimage.metrics import structural_similarity
from swapstream.engine.runtime.providers import RuntimeConfig, create_session
from swapstream.export.graph import FACE_OUTPUT, INPUT_NAME, MASK_OUTPUT

FP32_TOLERANCE = 1e-4
MIN_SSIM = 0.98
# One thread: verification batches are small, and extra threads only contend with the exporter.
VERIFY_RUNTIME = RuntimeConfig(providers=("cpu",), intra_op_threads=1)


@dataclass(frozen=True)
class Verification:
    """Figures of one check. max_abs_diff in [0, 1] units; ssim_* over faces; passed against the limits."""

    precision: str
    faces: int
    max_abs_diff: float
    mean_abs_diff: float
    mask_mean_abs_diff: float
    ssim_mean: float
    ssim_min: float
    passed: bool
    criterion: str

    def summary(self) -> str:
        verdict = "ok" if self.passed else "FAILED"
        return (
            f"{self.precision}: {self.faces} faces, max |diff| {self.max_abs_diff:.2e}, "
            f"mean |diff| {self.mean_abs_diff:.2e}, mask mean |diff| {self.mask_mean_abs_diff:.2e}, "
            f"SSIM mean {self.ssim_mean:.4f} min {self.ssim_min:.4f} [{self.criterion}: {verdict}]"
        )


def run_onnx(model: bytes | ort.InferenceSession, faces: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Run a graph exported by export.graph on `faces` (its input layout); returns (face, mask)."""
    session = model if isinstance(model, ort.InferenceSession) else create_session(model, VERIFY_RUNTIME)[0]
    face, mask = session.run([FACE_OUTPUT, MASK_OUTPUT], {INPUT_NAME: faces})
    return face, mask


def ssim_per_face(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """SSIM of each pair of uint8 (N, R, R, 3) images, float64 (N,)."""
    return np.array(
        [structural_similarity(x, y, channel_axis=2, data_range=255) for x, y in zip(a, b, strict=True)],
        np.float64,
    )


def _unit(x: np.ndarray) -> np.ndarray:
    return x.astype(np.float64) / (255.0 if x.dtype == np.uint8 else 1.0)


def compare_fp32(
    float_onnx: tuple[np.ndarray, np.ndarray],
    float_torch: tuple[np.ndarray, np.ndarray],
    uint8_onnx: tuple[np.ndarray, np.ndarray],
    uint8_torch: tuple[np.ndarray, np.ndarray],
) -> Verification:
    """fp32 check: float graph within FP32_TOLERANCE, shipped uint8 graph within one level."""
    diff = np.abs(float_onnx[0].astype(np.float64) - float_torch[0])
    mask_diff = np.abs(float_onnx[1].astype(np.float64) - float_torch[1])
    level_diff = max(
        int(np.abs(uint8_onnx[0].astype(np.int16) - uint8_torch[0]).max()),
        int(np.abs(uint8_onnx[1].astype(np.int16) - uint8_torch[1]).max()),
    )
    ssim = ssim_per_face(uint8_onnx[0], uint8_torch[0])
    max_diff = max(float(diff.max()), float(mask_diff.max()))
    return Verification(
        precision="fp32",
        faces=len(diff),
        max_abs_diff=max_diff,
        mean_abs_diff=float(diff.mean()),
        mask_mean_abs_diff=float(mask_diff.mean()),
        ssim_mean=float(ssim.mean()),
        ssim_min=float(ssim.min()),
        passed=max_diff <= FP32_TOLERANCE and level_diff <= 1,
        criterion=f"max |diff| <= {FP32_TOLERANCE:g} and uint8 within 1 level (got {level_diff})",
    )


def compare_by_ssim(
    precision: str, candidate: tuple[np.ndarray, np.ndarray], reference: tuple[np.ndarray, np.ndarray]
) -> Verification:
    """fp16/int8 check: SSIM of uint8 faces vs the fp32 reference, mean over faces >= MIN_SSIM."""
    ssim = ssim_per_face(candidate[0], reference[0])
    diff = np.abs(_unit(candidate[0]) - _unit(reference[0]))
    mask_diff = np.abs(_unit(candidate[1]) - _unit(reference[1]))
    return Verification(
        precision=precision,
        faces=len(ssim),
        max_abs_diff=float(diff.max()),
        mean_abs_diff=float(diff.mean()),
        mask_mean_abs_diff=float(mask_diff.mean()),
        ssim_mean=float(ssim.mean()),
        ssim_min=float(ssim.min()),
        passed=float(ssim.mean()) >= MIN_SSIM,
        criterion=f"SSIM mean >= {MIN_SSIM}",
    )
