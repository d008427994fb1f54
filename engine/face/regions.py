"""The face's parts (eyes, brows, nose, mouth, skin) as masks in an aligned crop, from FaceMesh.

Each part is the convex hull of its FaceMesh points (478-point topology), each eye and each brow
on its own, dilated by a margin of size / 24 so lids, lashes, brow hairs and lip edges count
too; skin is the face oval shrunk by SKIN_SHRINK x the crop (clear of the blend's seam) minus
the other parts. Masks are bool (size, size); landmarks (478, 2|3) crop pixels.
"""

from __future__ import annotations

import cv2
import numpy as np
from swapstream.engine.face.mask import FACE_OVAL, OUTER_LIPS

# MediaPipe FaceMesh contours of each part.
LEFT_EYE = (33, 7, 163, 144, 145, 153, 154, 155, 133, 173, 157, 158, 159, 160, 161, 246)
RIGHT_EYE = (263, 249, 390, 373, 374, 380, 381, 382, 362, 398, 384, 385, 386, 387, 388, 466)
LEFT_BROW = (70, 63, 105, 66, 107, 55, 65, 52, 53, 46)
RIGHT_BROW = (300, 293, 334, 296, 336, 285, 295, 282, 283, 276)
NOSE = (168, 6, 197, 195, 5, 4, 1, 19, 94, 2, 98, 97, 326, 327, 64, 294, 48, 278, 115, 344, 220, 440, 129, 358)
FACE_PARTS = ("eyes", "brows", "nose", "mouth", "skin")
_CONTOURS = {
    "eyes": (LEFT_EYE, RIGHT_EYE),
    "brows": (LEFT_BROW, RIGHT_BROW),
    "nose": (NOSE,),
    "mouth": (OUTER_LIPS,),
}
SKIN_SHRINK = 0.06
LID_REACH = 0.3  # an eye's lids reach this many eye widths either side of the line through its corners


def eye_lid_hull(landmarks: np.ndarray, contour: tuple[int, ...]) -> np.ndarray:
    """int32 (K, 1, 2) convex hull of one eye's contour (LEFT_EYE or RIGHT_EYE: outer corner
    first, inner corner at index 8) and of the band LID_REACH eye widths either side of the line
    through its corners: where the lids are, open or shut (the contour alone shrinks to a slit
    when the eye shuts). landmarks: (478, 2|3) pixels."""
    pts = np.asarray(landmarks, np.float64)[list(contour), :2]
    corners = pts[[0, 8]]
    along = corners[1] - corners[0]
    normal = np.array([-along[1], along[0]]) * LID_REACH
    band = np.vstack([corners + normal, corners - normal])
    return cv2.convexHull(np.round(np.vstack([pts, band])).astype(np.int32))


def _hulls(landmarks: np.ndarray, contours: tuple[tuple[int, ...], ...], size: int) -> np.ndarray:
    out = np.zeros((size, size), np.uint8)
    for contour in contours:
        pts = np.round(np.asarray(landmarks)[list(contour), :2] * 16).astype(np.int32)
        cv2.fillConvexPoly(out, cv2.convexHull(pts), 255, shift=4)
    return out


def part_masks(landmarks: np.ndarray, size: int) -> dict[str, np.ndarray]:
    """{part: bool (size, size)} for every name in FACE_PARTS; the parts do not overlap (a pixel
    in two dilated hulls goes to the one listed first)."""
    k = max(3, size // 24) | 1
    disc = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k, k))
    taken = np.zeros((size, size), bool)
    masks: dict[str, np.ndarray] = {}
    for part, contours in _CONTOURS.items():
        m = cv2.dilate(_hulls(landmarks, contours, size), disc) > 0
        masks[part] = m & ~taken
        taken |= m
    oval = _hulls(landmarks, (FACE_OVAL,), size)
    r = max(1, round(SKIN_SHRINK * size))
    oval = cv2.erode(oval, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1)))
    masks["skin"] = (oval > 0) & ~taken
    return {part: masks[part] for part in FACE_PARTS}
