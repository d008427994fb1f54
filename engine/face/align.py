"""Similarity alignment of a face to the canonical template, and its inverse.

The single implementation of the alignment contract: extract (training data) and the engine
(inference) both call `alignment_matrix` + `warp_face`, so crops can never drift apart.
Matrices are float64 (2, 3) affine maps from frame pixels to crop pixels.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
from swapstream.engine.face.template import ALIGN_INDICES, TEMPLATE_POINTS

from swapstream.common.choices import FACE_TYPES


@dataclass(frozen=True)
class FaceType:
    """How much of the head a crop covers.

    pad: margin added around the template's unit box on each side (negative zooms in);
    shift: how far the face sits below the crop centre, as a share of the crop (room for the
    forehead and hair in whole/head crops).
    """

    name: str
    pad: float
    shift: float


# (pad, shift) per face type, in the order of swapstream.common.choices.FACE_TYPES.
_GEOMETRY = ((-0.15, 0.0), (-0.05, 0.0), (0.08, 0.0), (0.20, 0.05), (0.45, 0.08))
FACE_GEOMETRY = {name: FaceType(name, pad, shift) for name, (pad, shift) in zip(FACE_TYPES, _GEOMETRY, strict=True)}


def face_type(name: str) -> FaceType:
    try:
        return FACE_GEOMETRY[name]
    except KeyError:
        raise ValueError(f"unknown face type {name!r}; known: {', '.join(FACE_TYPES)}") from None


def template_points(ft: FaceType, size: int) -> np.ndarray:
    """(K, 2) float64: where the ALIGN_INDICES landmarks land in a `size` px crop of type ft."""
    t = TEMPLATE_POINTS[:, :2]
    return ((t - 0.5) / (1.0 + 2.0 * ft.pad) + 0.5 + np.array([0.0, ft.shift])) * size


def umeyama(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """Least-squares similarity (rotation, uniform scale, translation) taking src onto dst.

    src, dst: (K, 2) float arrays of corresponding points. Returns a (2, 3) float64 matrix.
    Umeyama 1991, "Least-squares estimation of transformation parameters between two point
    patterns"; the reflection case is excluded so a mirrored face is never produced.
    """
    src = np.asarray(src, np.float64)
    dst = np.asarray(dst, np.float64)
    ms, md = src.mean(0), dst.mean(0)
    a, b = src - ms, dst - md
    cov = b.T @ a / len(src)
    u, s, vt = np.linalg.svd(cov)
    d = np.array([1.0, np.sign(np.linalg.det(u) * np.linalg.det(vt))])
    rot = u @ np.diag(d) @ vt
    scale = (s * d).sum() / a.var(0).sum()
    m = np.empty((2, 3))
    m[:, :2] = scale * rot
    m[:, 2] = md - m[:, :2] @ ms
    return m


def alignment_matrix(landmarks: np.ndarray, face_type_name: str, size: int) -> np.ndarray:
    """(2, 3) float64 map from frame pixels to a `size` px crop for a (478, 2|3) landmark array."""
    ft = face_type(face_type_name)
    return umeyama(np.asarray(landmarks)[ALIGN_INDICES, :2], template_points(ft, size))


def warp_face(frame: np.ndarray, m: np.ndarray, size: int) -> np.ndarray:
    """Aligned crop (size, size, C) of a BGR uint8 frame; outside the frame is replicated edge."""
    return cv2.warpAffine(frame, m, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def invert(m: np.ndarray) -> np.ndarray:
    """Inverse of a (2, 3) affine map, as (2, 3)."""
    return cv2.invertAffineTransform(np.asarray(m, np.float64))


def transform_points(points: np.ndarray, m: np.ndarray) -> np.ndarray:
    """Apply a (2, 3) affine map to (N, 2) points (extra columns such as z are ignored)."""
    p = np.asarray(points, np.float64)[:, :2]
    return p @ m[:, :2].T + m[:, 2]


def scale_of(m: np.ndarray) -> float:
    """Uniform scale factor of a similarity matrix (crop px per frame px)."""
    return float(np.sqrt(abs(np.linalg.det(m[:, :2]))))


# A crop made by stretching each frame pixel over more than this many crop pixels (per side) holds
# under a quarter of the detail its resolution promises: such faces are too small for a useful crop
# at that resolution (extract and the engine warn about them; they are still used).
MAX_UPSCALE = 2.0


__all__ = [
    "FACE_TYPES",
    "MAX_UPSCALE",
    "FaceType",
    "alignment_matrix",
    "face_type",
    "invert",
    "scale_of",
    "template_points",
    "transform_points",
    "umeyama",
    "warp_face",
]
