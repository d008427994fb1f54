"""Detail transfer: the driver's own fine detail (skin texture, lash and hair edges) above the
finest detail the model can render, added back inside the pasted face.

A model renders R px across the face; pasted onto a face S px tall in the frame it is upscaled by
about S / R, and everything finer than the crop's pixel grid is simply absent: on a 300 px
close-up a 128 px render carries about half of the face's high-frequency energy even when the
render is perfect (benchmarks/results_log/2026-11-to-2026-12-06.md,
"Sharpness ceiling"). That missing band is taken from
the original frame: the ROI minus the ROI shrunk by the upscale (INTER_AREA, what a crop of that
resolution holds) and enlarged back (bicubic, as the blend pastes the face), weighted by an alpha
(the blend stage's: the blend mask without the mouth) and `amount`.
Frames and ROIs are uint8 (h, w, 3) BGR; alphas uint8 (h, w) (0 = untouched, 255 = all swap).

A depth-to-space model reads the face at half the resolution it renders: the band between its
input grid and its output grid is the decoder's guess, and a model trained for minutes on a CPU
guesses it soft. restore_guessed_band adds the driver's own band there, in crop pixels, but only
the share of it the model's render lacks, so a well-trained model that draws its own band gets
little or nothing on top of it.
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


def _band(image: np.ndarray, cell: float) -> np.ndarray:
    """float32 (R, R, 3): image minus itself shrunk `cell` times (INTER_AREA) and enlarged back
    (bicubic): the detail finer than a grid `cell` times coarser holds."""
    r = image.shape[0]
    small = max(1, round(r / cell))
    low = cv2.resize(
        cv2.resize(image, (small, small), interpolation=cv2.INTER_AREA), (r, r), interpolation=cv2.INTER_CUBIC
    )
    return image.astype(np.float32) - low


def restore_guessed_band(
    swapped: np.ndarray, driver: np.ndarray, weight: np.ndarray, cell: float, amount: float
) -> np.ndarray:
    """uint8 (R, R, 3) BGR: the swapped crop plus the driver crop's band finer than a grid `cell`
    times coarser (the model's input grid), times `weight` (float32 (R, R) in [0, 1]) and
    amount x the share of that band's energy (inside weight) the swapped crop lacks:
    amount x clip(1 - E_swapped / E_driver, 0, 1). swapped and driver: uint8 (R, R, 3) BGR,
    aligned alike. Pixels with weight 0 keep their value.
    """
    w = np.ascontiguousarray(weight, np.float32)
    if cell <= 1 or amount <= 0 or not w.any():
        return swapped
    w3 = cv2.merge((w, w, w))
    own, theirs = _band(swapped, cell), _band(driver, cell)
    e_own = sum(cv2.sumElems(cv2.multiply(cv2.multiply(own, own), w3))[:3])
    e_theirs = sum(cv2.sumElems(cv2.multiply(cv2.multiply(theirs, theirs), w3))[:3])
    gain = amount * min(max(1.0 - e_own / e_theirs, 0.0), 1.0) if e_theirs > 0 else 0.0
    if gain <= 0:
        return swapped
    return cv2.add(swapped, cv2.multiply(theirs, w3, scale=gain), dtype=cv2.CV_8U)  # rounds, saturates


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


@kernel
def _composite_detail_kernel(frame, face, detail_alpha, low, gain):
    for y in range(frame.shape[0]):
        for x in range(frame.shape[1]):
            a = np.int32(face[y, x, 3])
            if a == 0:
                continue
            k = np.float32(detail_alpha[y, x]) * gain
            for c in range(3):
                f = np.int32(frame[y, x, c])
                pasted = (f * (255 - a) + np.int32(face[y, x, c]) * a + 127) // 255
                v = np.float32(pasted) + k * (np.float32(f) - np.float32(low[y, x, c]))
                frame[y, x, c] = np.uint8(min(max(v + np.float32(0.5), np.float32(0.0)), np.float32(255.0)))


def composite_with_detail(
    roi_frame: np.ndarray, face: np.ndarray, detail_alpha: np.ndarray, low: np.ndarray, amount: float
) -> None:
    """In place, in one pass: the BGRA face composited as engine.image.blend.composite_bgra does,
    then add_detail's band (roi_frame as it was minus `low`) added; the same pixels as the two
    in turn. face: uint8 (h, w, 4); detail_alpha: uint8 (h, w), 0 wherever face's alpha is 0;
    low: uint8 (h, w, 3) from detail_source. Pixels with face alpha 0 keep their exact value."""
    _composite_detail_kernel(roi_frame, face, detail_alpha, low, np.float32(amount / 255.0))


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
            composite_with_detail(roi, bgra, alpha, z, 1.0)
