"""How open the mouth and the eyes are, from FaceMesh landmarks: what the trainer balances and
synthesises blinks by (trainer/data.py, sampling.py, faceset_info.py) and eval compares between
the driving and the swapped face (engine/quality/expression.py).

Openings are in units of the outer eye-corner distance, which does not change with expression
and little with pitch, so they compare across face sizes and crops.
"""

from __future__ import annotations

import math
from collections import OrderedDict, deque

import numpy as np

# MediaPipe FaceMesh indices. Outer eye corners: their distance is the face-size unit.
OUTER_EYE_CORNERS = (33, 263)
INNER_LIPS = (13, 14)  # upper, lower inner lip at the midline
EYE_LIDS = ((159, 145), (386, 374))  # (upper, lower) lid centre, right and left eye

# Named states, (name, upper bound), for `swapstream info` and eval. Eyes: the opening as a share
# of the person's own open eye, the EYE_REFERENCE_PERCENTILE of their openings (eye shapes differ,
# and a clip full of blinks would pull a median down). Mouths: the opening itself.
EYE_CLASSES = (("closed", 0.4), ("half-closed", 0.75), ("open", math.inf))
EYE_REFERENCE_PERCENTILE = 90
MOUTH_CLASSES = (("closed", 0.05), ("parted", 0.15), ("open", 0.3), ("wide open", math.inf))


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


def state_index(values: np.ndarray, classes: tuple[tuple[str, float], ...]) -> np.ndarray:
    """int (N,): the index into classes (EYE_CLASSES, MOUTH_CLASSES) of each value of float (N,)."""
    return np.searchsorted([bound for _, bound in classes], np.asarray(values, np.float64), side="right")


def eye_reference(eyes: np.ndarray) -> float:
    """One person's open eye: the EYE_REFERENCE_PERCENTILE of their eye openings (float (N,)); 0 if none."""
    return _percentile(sorted(map(float, eyes)), EYE_REFERENCE_PERCENTILE) if len(eyes) else 0.0


def eye_states(eyes: np.ndarray) -> np.ndarray:
    """int (N,): EYE_CLASSES index of each of one person's eye openings (float (N,)), relative to
    their own eye_reference."""
    reference = eye_reference(eyes)
    return state_index(np.asarray(eyes, np.float64) / reference if reference > 0 else eyes, EYE_CLASSES)


class OpenEyeTracker:
    """Each tracked face's own open eye, online: the EYE_REFERENCE_PERCENTILE of its last `frames`
    eye openings, for up to `tracks` faces (the least recently seen forgotten first)."""

    def __init__(self, frames: int = 90, tracks: int = 16):
        self.frames, self.tracks = frames, tracks
        self._history: OrderedDict[int, deque] = OrderedDict()

    def relative(self, track: int, eyes: float) -> float:
        """eyes (an opening in any unit) over this track's open eye in that unit, after adding it
        to the track's history: about 1 open, under 0.4 shut (EYE_CLASSES). 1.0 for an untracked
        face (track < 0), whose open eye is unknown."""
        if track < 0:
            return 1.0
        history = self._history.pop(track, None) or deque(maxlen=self.frames)
        history.append(float(eyes))
        self._history[track] = history
        if len(self._history) > self.tracks:
            self._history.popitem(last=False)
        reference = _percentile(sorted(history), EYE_REFERENCE_PERCENTILE)
        return float(eyes) / reference if reference > 0 else 1.0


def _percentile(ordered: list[float], q: float) -> float:
    """np.percentile's (linear) of a sorted list, without its ~40 us per call (the tracker's, per
    frame)."""
    at = (len(ordered) - 1) * q / 100
    low = int(at)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (at - low)
