"""How open the mouth and the eyes are, from FaceMesh landmarks: what the trainer balances and
synthesises blinks by (trainer/data.py, sampling.py, faceset_info.py) and eval compares between
the driving and the swapped face (engine/quality/expression.py).

Openings are in units of the outer eye-corner distance, which does not change with expression
and little with pitch, so they compare across face sizes and crops.
"""

from __future__ import annotations

import numpy as np

# MediaPipe FaceMesh indices. Outer eye corners: their distance is the face-size unit.
OUTER_EYE_CORNERS = (33, 263)
INNER_LIPS = (13, 14)  # upper, lower inner lip at the midline
EYE_LIDS = ((159, 145), (386, 374))  # (upper, lower) lid centre, right and left eye


def _face_unit(p: np.ndarray) -> float:
    return max(float(np.linalg.norm(p[OUTER_EYE_CORNERS[0], :2] - p[OUTER_EYE_CORNERS[1], :2])), 1e-6)


def mouth_openness(landmarks: np.ndarray) -> float:
    """Inner-lip gap at the midline over the outer eye-corner distance ((478, 2|3) landmarks, any
    pixel unit): 0 with the lips together, ~0.5 wide open."""
    p = np.asarray(landmarks, np.float64)
    return float(np.linalg.norm(p[INNER_LIPS[0], :2] - p[INNER_LIPS[1], :2]) / _face_unit(p))


def eye_openness(landmarks: np.ndarray) -> float:
    """Mean lid gap of both eyes over the outer eye-corner distance ((478, 2|3) landmarks)."""
    p = np.asarray(landmarks, np.float64)
    return float(np.mean([np.linalg.norm(p[a, :2] - p[b, :2]) for a, b in EYE_LIDS]) / _face_unit(p))
