"""Face masks from landmarks, in crop coordinates.

Masks are uint8 (size, size), 255 inside the face, 0 outside. FaceMesh's oval stops at the
upper forehead; whole and head crops extend it upward so hairline and forehead are swapped too.
"""

from __future__ import annotations

import cv2
import numpy as np

# MediaPipe FACEMESH_FACE_OVAL, in order around the face.
FACE_OVAL = (
    10,
    338,
    297,
    332,
    284,
    251,
    389,
    356,
    454,
    323,
    361,
    288,
    397,
    365,
    379,
    378,
    400,
    377,
    152,
    148,
    176,
    149,
    150,
    136,
    172,
    58,
    132,
    93,
    234,
    127,
    162,
    21,
    54,
    103,
    67,
    109,
)
EYE_CORNERS = (33, 133, 362, 263)
# How far the part of the oval above the eyes is stretched upward, per face type.
FOREHEAD_STRETCH = {"half": 1.0, "mid": 1.0, "full": 1.0, "whole": 1.35, "head": 1.6}


def mask_polygon(crop_landmarks: np.ndarray, face_type_name: str) -> np.ndarray:
    """(36, 2) float32 outline of the face in crop pixels.

    crop_landmarks: (478, 2|3) landmarks already mapped into an aligned (upright) crop.
    """
    pts = np.asarray(crop_landmarks, np.float32)[list(FACE_OVAL), :2].copy()
    eye_y = float(np.asarray(crop_landmarks)[list(EYE_CORNERS), 1].mean())
    k = FOREHEAD_STRETCH[face_type_name]
    above = pts[:, 1] < eye_y
    pts[above, 1] = eye_y - (eye_y - pts[above, 1]) * k
    return pts


def hull_mask(crop_landmarks: np.ndarray, size: int, face_type_name: str) -> np.ndarray:
    """uint8 (size, size) convex-hull mask of the face, 255 inside."""
    poly = mask_polygon(crop_landmarks, face_type_name)
    hull = cv2.convexHull(np.round(poly * 16).astype(np.int32))
    mask = np.zeros((size, size), np.uint8)
    cv2.fillConvexPoly(mask, hull, 255, lineType=cv2.LINE_AA, shift=4)
    return mask


# MediaPipe FACEMESH_LIPS inner ring, in order around the mouth opening: upper lip left to right,
# then lower lip right to left (78 and 308 are the inner mouth corners).
INNER_LIPS = (78, 191, 80, 81, 82, 13, 312, 311, 310, 415, 308, 324, 318, 402, 317, 14, 87, 178, 88, 95)
MOUTH_CORNERS = (78, 308)
# MediaPipe FACEMESH_LIPS outer ring, in order around the lips (61 and 291: the outer corners).
OUTER_LIPS = (61, 185, 40, 39, 37, 0, 267, 269, 270, 409, 291, 375, 321, 405, 314, 17, 84, 181, 91, 146)


def lips_mask(crop_landmarks: np.ndarray, size: int, grow: float = 0.15) -> np.ndarray:
    """float32 (size, size) in [0, 1]: 1 over the whole mouth (lips and opening), grown by `grow`
    x the mouth width and feathered by as much, 0 elsewhere. crop_landmarks: (478, 2|3) in crop
    pixels."""
    pts = np.asarray(crop_landmarks, np.float32)[:, :2]
    width = float(np.linalg.norm(pts[OUTER_LIPS[0]] - pts[OUTER_LIPS[10]]))
    out = np.zeros((size, size), np.float32)
    if width < 2:
        return out
    ring = np.round(pts[list(OUTER_LIPS)] * 16).astype(np.int32)
    cv2.fillPoly(out, [ring], 1.0, lineType=cv2.LINE_AA, shift=4)
    radius = max(1, round(grow * width))
    # Only the mouth's box grown by what the dilation and the blur (4 sigma) reach: everything
    # beyond stays 0, and inside it the values are the whole crop's (a crop edge is one for both).
    x, y, w, h = cv2.boundingRect(ring >> 4)
    reach = 3 * radius + 2
    x0, y0 = max(x - reach, 0), max(y - reach, 0)
    x1, y1 = min(x + w + reach, size), min(y + h + reach, size)
    if x1 <= x0 or y1 <= y0:
        return out
    box = out[y0:y1, x0:x1]
    box = cv2.dilate(box, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1)))
    out[y0:y1, x0:x1] = cv2.GaussianBlur(box, (0, 0), sigmaX=radius / 2)
    return out


def mouth_interior_mask(crop_landmarks: np.ndarray, size: int, feather: float = 0.08) -> np.ndarray:
    """float32 (size, size) in [0, 1]: 1 inside the open mouth (teeth, tongue), 0 outside.

    crop_landmarks: (478, 2|3) landmarks in crop pixels. The filled inner-lip ring is shrunk and
    feathered inward by `feather` x the mouth width, so the swapped lips stay whole and the
    original interior fades in without a seam. A closed mouth's ring has no area: all zeros.
    """
    pts = np.asarray(crop_landmarks, np.float32)[:, :2]
    width = float(np.linalg.norm(pts[MOUTH_CORNERS[0]] - pts[MOUTH_CORNERS[1]]))
    out = np.zeros((size, size), np.float32)
    if width < 2:
        return out
    ring = np.round(pts[list(INNER_LIPS)] * 16).astype(np.int32)
    cv2.fillPoly(out, [ring], 1.0, lineType=cv2.LINE_AA, shift=4)
    radius = max(1, round(feather * width))
    # Erode by the feather radius, then blur by it: the ramp ends inside the lip line.
    out = cv2.erode(out, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1)))
    return cv2.GaussianBlur(out, (0, 0), sigmaX=radius / 2)
