"""Pixel-level checks: flicker inside the face region and changes outside it.

The face region is the 'whole' face hull that the engine blends into (engine.face.mask), drawn
in frame coordinates from the driving frame's landmarks. Images are BGR uint8 (H, W, 3).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
from swapstream.engine.face.align import alignment_matrix, invert, transform_points
from swapstream.engine.face.mask import mask_polygon

HULL_FACE_TYPE = "whole"
_CROP = 256  # any size works: the polygon is mapped back to the frame


def face_region(landmarks: np.ndarray, frame_shape: tuple[int, ...], grow: float = 0.0) -> np.ndarray:
    """bool (H, W) face hull of one face, dilated by `grow` x the face's eye-to-chin size.

    landmarks: (478, 2|3) frame pixels. The hull is built upright in an aligned crop (where the
    forehead extension of mask_polygon is defined) and mapped back, so head roll is handled.
    """
    m = alignment_matrix(landmarks, HULL_FACE_TYPE, _CROP)
    crop_pts = transform_points(landmarks, m)
    poly = transform_points(mask_polygon(crop_pts, HULL_FACE_TYPE), invert(m))
    mask = np.zeros(frame_shape[:2], np.uint8)
    cv2.fillConvexPoly(mask, cv2.convexHull(np.round(poly * 16).astype(np.int32)), 255, shift=4)
    if grow > 0:
        height = float(np.linalg.norm(np.asarray(landmarks)[10, :2] - np.asarray(landmarks)[152, :2]))
        r = max(1, round(grow * height))
        mask = cv2.dilate(mask, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1)))
    return mask > 0


def mean_change(a: np.ndarray, b: np.ndarray, region: np.ndarray) -> float:
    """Mean absolute difference (0-255 levels, over channels) of two frames inside region."""
    if not region.any():
        return 0.0
    diff = cv2.absdiff(a, b)
    return float(diff[region].mean())


def changed_share(a: np.ndarray, b: np.ndarray, region: np.ndarray, threshold: int) -> tuple[float, float]:
    """(share of region pixels whose largest channel difference exceeds threshold, mean abs diff)."""
    if not region.any():
        return 0.0, 0.0
    diff = cv2.absdiff(a, b)[region]
    return float((diff.max(axis=1) > threshold).mean()), float(diff.mean())


@dataclass(frozen=True)
class StabilityResult:
    """Frame-to-frame change inside the face region, swapped vs driving.

    flicker_ratio = total swapped change / total driving change: 1 means the swapped face moves
    exactly as much as the original, > 1 means added flicker or jitter.
    """

    frames_compared: int
    driving_change: float  # mean abs level change per pixel per frame
    swapped_change: float
    flicker_ratio: float | None


@dataclass(frozen=True)
class BackgroundResult:
    """Pixels outside the dilated face hull of the driving frame, swapped vs driving."""

    frames_compared: int
    changed_share: float  # mean over frames of the share of pixels changed beyond threshold
    max_changed_share: float
    mean_abs_diff: float
    threshold: int
    hull_growth: float


def paired_means(driving: list[float], swapped: list[float]) -> tuple[int, float, float, float | None]:
    """(frames, mean of driving, mean of swapped, swapped / driving or None when driving is ~0)
    for one per-frame measure taken on both videos."""
    d, s = float(np.sum(driving)), float(np.sum(swapped))
    n = len(driving)
    return n, d / n if n else 0.0, s / n if n else 0.0, s / d if d > 1e-9 else None


def summarize_stability(driving: list[float], swapped: list[float]) -> StabilityResult:
    n, d, s, ratio = paired_means(driving, swapped)
    return StabilityResult(frames_compared=n, driving_change=d, swapped_change=s, flicker_ratio=ratio)


def summarize_background(shares: list[float], diffs: list[float], threshold: int, grow: float) -> BackgroundResult:
    return BackgroundResult(
        frames_compared=len(shares),
        changed_share=float(np.mean(shares)) if shares else 0.0,
        max_changed_share=float(np.max(shares)) if shares else 0.0,
        mean_abs_diff=float(np.mean(diffs)) if diffs else 0.0,
        threshold=threshold,
        hull_growth=grow,
    )
