"""Synthetic blinks: a face's upper lids drawn down over its eyes, for targets filmed without blinking.

A per-pair decoder never draws its target (-b) doing what the target's faceset does not hold: d19,
filmed without a blink, kept its eyes open through every blink of its driver
(benchmarks/results_log/2026-11-to-2026-12-06.md,
"Why pair 2's eyes do not follow"). With `synthetic_blinks` > 0, for a faceset with (almost) no
closed eyes the trainer closes the eyes of that share of the faces it draws, input and target
alike, before augmentation: each upper lid and the band of skin above it are stretched down to (a
share of the way to) the lower lid, as a blink moves them, so the decoder sees the person's own
lid skin and lash line over the eye. Measured: at 30 CPU-minutes it did not make d19 blink
(benchmarks/results_log/2026-11-to-2026-12-06.md, "Blinks a target never shows"), so no preset turns it on.

Images are any-channel uint8 crops; landmarks are FaceMesh (478, 2+) points in the crop's pixels.
"""

from __future__ import annotations

import cv2
import numpy as np

# FaceMesh lid contours from the outer to the inner eye corner (the corners are shared).
RIGHT_UPPER = (33, 246, 161, 160, 159, 158, 157, 173, 133)
RIGHT_LOWER = (33, 7, 163, 144, 145, 153, 154, 155, 133)
LEFT_UPPER = (263, 466, 388, 387, 386, 385, 384, 398, 362)
LEFT_LOWER = (263, 249, 390, 373, 374, 380, 381, 382, 362)
CORNER_FADE = 0.15  # share of the eye width over which the shift fades to 0 at each corner
LID_BAND = 0.45  # skin above the upper lid that stretches with it, in eye widths (about to the brow)
CLOSED_SHARE = 0.02  # a faceset with fewer closed-eye faces than this share gets synthetic blinks
AMOUNT_RANGE = (0.4, 1.2)  # drawn uniformly, clipped to 1: a quarter fully shut, the rest half to nearly


def _interp_sorted(x: np.ndarray, xp: np.ndarray, fp: np.ndarray) -> np.ndarray:
    order = np.argsort(xp)
    return np.interp(x, xp[order], fp[order])


def _close_one(map_x: np.ndarray, map_y: np.ndarray, p: np.ndarray, upper, lower, amount: float) -> None:
    """Write into the remap of one eye (map_x, map_y: (H, W) float32, the identity elsewhere).

    In the eye's frame (u along the corners, v towards the lower lid), each column between the
    corners maps the band [v_top, new lid] to [v_top, upper lid] (the skin stretches down) and
    [new lid, lower lid] to [upper lid, lower lid] (what is left of the eye opening); the shift
    fades to 0 at the corners, so the map is continuous and the identity outside.
    """
    c0, c1 = p[upper[0]], p[upper[-1]]
    width = float(np.linalg.norm(c1 - c0))
    if width < 2.0:
        return
    eu = (c1 - c0) / width
    ev = np.array([-eu[1], eu[0]])
    mid = len(upper) // 2
    if np.dot(p[lower[mid]] - p[upper[mid]], ev) < 0:
        ev = -ev
    up, low = p[list(upper)] - c0, p[list(lower)] - c0
    band = LID_BAND * width
    corners = np.vstack([p[list(upper)], p[list(lower)], p[list(upper)] - band * ev])
    h, w = map_x.shape
    x0, y0 = np.floor(corners.min(0)).astype(int).clip(0, [w - 1, h - 1])
    x1, y1 = np.ceil(corners.max(0)).astype(int).clip(0, [w - 1, h - 1]) + 1
    ys, xs = np.mgrid[y0:y1, x0:x1].astype(np.float64)
    dx, dy = xs - c0[0], ys - c0[1]
    u, v = dx * eu[0] + dy * eu[1], dx * ev[0] + dy * ev[1]
    v_up = _interp_sorted(u, up @ eu, up @ ev)
    v_low = _interp_sorted(u, low @ eu, low @ ev)
    gap = np.maximum(v_low - v_up, 0.0)
    v_new = v_up + amount * gap
    v_top = v_up - band
    inside = (u > 0) & (u < width)
    src = v.copy()
    skin = inside & (v >= v_top) & (v <= v_new)
    src[skin] = (v_top + (v - v_top) * band / (band + amount * gap))[skin]
    eye = inside & (v > v_new) & (v < v_low)
    src[eye] = (v_up + (v - v_new) * gap / np.maximum(v_low - v_new, 1e-6))[eye]
    # Lid contours can reach past the corners' line at an angle; fading the shift over the outer
    # CORNER_FADE of the width keeps the map continuous at the corners whatever the contours do.
    fade = np.clip(np.minimum(u, width - u) / (CORNER_FADE * width), 0.0, 1.0)
    shift = (src - v) * fade
    map_x[y0:y1, x0:x1] += (shift * ev[0]).astype(np.float32)
    map_y[y0:y1, x0:x1] += (shift * ev[1]).astype(np.float32)


def close_eyes(image: np.ndarray, landmarks: np.ndarray, amount: float) -> np.ndarray:
    """A copy of `image` (H, W[, C] uint8) with both eyes closed by `amount` in [0, 1] (the share
    of each lid gap the upper lid moves down; 1: the lids meet). landmarks: (478, 2+) in its pixels.
    Pixels away from the eyes and the band above them are unchanged (bit-exact)."""
    if amount <= 0:
        return image.copy()
    h, w = image.shape[:2]
    map_x, map_y = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    p = np.asarray(landmarks, np.float64)[:, :2]
    for upper, lower in ((RIGHT_UPPER, RIGHT_LOWER), (LEFT_UPPER, LEFT_LOWER)):
        _close_one(map_x, map_y, p, upper, lower, min(float(amount), 1.0))
    return cv2.remap(image, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT101)


def needs_blinks(closed_faces: int, total_faces: int) -> bool:
    """True for a faceset that (almost) never shows its eyes closed (expression_coverage's count)."""
    return total_faces > 0 and closed_faces < CLOSED_SHARE * total_faces


def blink_amounts(rng: np.random.Generator, count: int, rate: float) -> np.ndarray:
    """(count,) float: 0 (eyes as they are) or the amount to close each drawn face's eyes by,
    non-zero with probability `rate`."""
    amounts = np.minimum(rng.uniform(*AMOUNT_RANGE, count), 1.0)
    return np.where(rng.random(count) < rate, amounts, 0.0)


def blink_batch(
    rng: np.random.Generator, images: np.ndarray, smalls, landmarks: np.ndarray, rate: float
) -> tuple[np.ndarray, list]:
    """Drawn faces with the eyes of about `rate` of them closed (blink_amounts), the model's input
    crop alike. images (N, O, O, 3) uint8 at the output resolution, landmarks (N, 478, 2) in its
    pixels; smalls: (N, R, R, 3) the same crops at the input resolution, or N Nones (R = O)."""
    amounts = blink_amounts(rng, len(images), rate)
    out, out_small = images.copy(), list(smalls)
    for i in np.flatnonzero(amounts):
        out[i] = close_eyes(images[i], landmarks[i], amounts[i])
        if smalls[i] is not None:
            k = smalls[i].shape[0] / images.shape[1]  # OpenCV's resize maps pixel centres
            out_small[i] = close_eyes(smalls[i], k * (landmarks[i] + 0.5) - 0.5, amounts[i])
    return out, out_small
