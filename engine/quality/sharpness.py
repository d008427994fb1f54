"""Sharpness: high-frequency energy of the swapped face relative to the driving face.

Measured in the same frames, at frame resolution (what a viewer sees after the engine's upscale
and paste), inside the driving frame's face hull shrunk by SHRINK x the face height, so the
blend's feathered seam and the background never count. High-frequency energy = mean of the
squared difference between the grey frame and its Gaussian blur (sigma SIGMA_PX): detail with
a wavelength of a few pixels (skin texture, eyelashes, lip lines), which a model that renders
too few pixels for the face's size cannot produce. The ratio summed over frames is
1.0 for an identical face, below 1 for a softer one (a Gaussian blur of sigma 2 px gives about
0.1-0.3 on real faces) and above 1 for added noise or ringing.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
from swapstream.engine.quality.pixels import face_region, paired_means

SIGMA_PX = 1.5
SHRINK = 0.15


@dataclass(frozen=True)
class SharpnessResult:
    """ratio = total swapped energy / total driving energy over the frames compared (None: no
    driving face, or a driving face without any detail)."""

    frames_compared: int
    driving_energy: float  # mean over frames of the per-pixel energy, grey levels squared
    swapped_energy: float
    ratio: float | None
    sigma_px: float = SIGMA_PX
    shrink: float = SHRINK


def inner_face_region(landmarks: np.ndarray, frame_shape: tuple[int, ...], shrink: float = SHRINK) -> np.ndarray:
    """bool (H, W): the face hull eroded by `shrink` x the face's forehead-to-chin height."""
    region = face_region(landmarks, frame_shape).astype(np.uint8)
    pts = np.asarray(landmarks)
    r = round(shrink * float(np.linalg.norm(pts[10, :2] - pts[152, :2])))
    if r > 0:
        region = cv2.erode(region, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1)))
    return region > 0


def high_frequency_energy(frame: np.ndarray, region: np.ndarray, sigma: float = SIGMA_PX) -> float:
    """Mean squared high-pass response (grey levels^2) of a BGR uint8 frame inside a bool region."""
    if not region.any():
        return 0.0
    ys, xs = np.nonzero(region)
    pad = int(np.ceil(4 * sigma)) + 1  # enough context for the blur, without filtering the whole frame
    y0, y1 = max(0, ys.min() - pad), min(frame.shape[0], ys.max() + pad + 1)
    x0, x1 = max(0, xs.min() - pad), min(frame.shape[1], xs.max() + pad + 1)
    grey = cv2.cvtColor(frame[y0:y1, x0:x1], cv2.COLOR_BGR2GRAY).astype(np.float32)
    high = grey - cv2.GaussianBlur(grey, (0, 0), sigma, borderType=cv2.BORDER_REFLECT)
    return float(np.mean(np.square(high[region[y0:y1, x0:x1]])))


def summarize_sharpness(driving: list[float], swapped: list[float]) -> SharpnessResult:
    n, d, s, ratio = paired_means(driving, swapped)
    return SharpnessResult(frames_compared=n, driving_energy=d, swapped_energy=s, ratio=ratio)
