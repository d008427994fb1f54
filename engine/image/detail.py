"""Detail transfer: the driver's own fine detail (skin texture, lash and hair edges) above the
finest detail the model can render, added back inside the pasted face.

A model renders R px across the face; pasted onto a face S px tall in the frame it is upscaled by
about S / R, and everything finer than the crop's pixel grid is simply absent: on a 300 px
close-up a 128 px render carries about half of the face's high-frequency energy even when the
render is perfect (benchmarks/RESULTS.md, "sharpness ceiling"). That missing band is taken from
the original frame: the ROI minus the ROI shrunk by the upscale (INTER_AREA, what a crop of that
resolution holds) and enlarged back (bicubic, as the blend pastes the face), weighted by an alpha
(the blend stage's: the blend mask without the mouth) and `amount`.
Frames and ROIs are uint8 (h, w, 3) BGR; alphas uint8 (h, w) (0 = untouched, 255 = all swap).
"""

from __future__ import annotations

import math

import cv2
import numpy as np
from swapstream.engine.image._jit import kernel

MIN_UPSCALE = 1.2  # a face pasted at (nearly) its crop size misses no detail


def upscale_of(matrix: np.ndarray) -> float:
    """Frame pixels per crop pixel of a (2, 3) frame->crop similarity matrix."""
    return 1.0 / math.sqrt(abs(float(np.linalg.det(np.asarray(matrix, np.float64)[:, :2]))))


def detail_source(roi_frame: np.ndarray, upscale: float) -> tuple[np.ndarray, np.ndarray] | None:
    """(the ROI as it was, its low-passed copy): both uint8 (h, w, 3), read before the swap is
    pasted; None when a crop upscaled by `upscale` misses nothing (upscale < MIN_UPSCALE)."""
    if upscale < MIN_UPSCALE:
        return None
    h, w = roi_frame.shape[:2]
    small = (max(1, round(w / upscale)), max(1, round(h / upscale)))
    low = cv2.resize(cv2.resize(roi_frame, small, interpolation=cv2.INTER_AREA), (w, h), interpolation=cv2.INTER_CUBIC)
    return roi_frame.copy(), low


@kernel
def _add_detail_kernel(frame, original, low, alpha, gain):
    for y in range(frame.shape[0]):
        for x in range(frame.shape[1]):
            a = alpha[y, x]
            if a == 0:
                continue
            k = np.float32(a) * gain
            for c in range(3):
                v = np.float32(frame[y, x, c]) + k * (np.float32(original[y, x, c]) - np.float32(low[y, x, c]))
                frame[y, x, c] = np.uint8(min(max(v + np.float32(0.5), np.float32(0.0)), np.float32(255.0)))


def add_detail(roi_frame: np.ndarray, source: tuple[np.ndarray, np.ndarray], alpha: np.ndarray, amount: float) -> None:
    """In place: roi_frame += amount * alpha/255 * (original - low), rounded and clipped; pixels
    with alpha 0 keep their exact value."""
    original, low = source
    _add_detail_kernel(roi_frame, original, low, alpha, np.float32(amount / 255.0))


def warmup() -> None:
    """Compile (or load the cached) kernel before the first frame, for the layouts it meets: a
    ROI view of a frame or a whole frame, the alpha channel of a BGRA warp or a plain alpha."""
    frame, bgra = np.zeros((4, 4, 3), np.uint8), np.zeros((2, 2, 4), np.uint8)
    z = np.zeros((2, 2, 3), np.uint8)
    for roi in (frame[1:3, 1:3], frame[:2, :4].reshape(2, 2, 6)[:, :, :3].copy()):
        for alpha in (bgra[:, :, 3], np.zeros((2, 2), np.uint8)):
            add_detail(roi, (z, z), alpha, 1.0)
