"""Expression transfer: does the swapped face open its mouth and eyes, and turn its head, like
the driving face? Measured from FaceMesh landmarks of both videos, frame by frame."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from swapstream.engine.face.pose import yaw_pitch_roll

# MediaPipe FaceMesh indices. Outer eye corners: their distance is the face-size unit, since it
# does not change with expression and little with pitch.
OUTER_EYE_CORNERS = (33, 263)
INNER_LIPS = (13, 14)  # upper, lower inner lip at the midline
EYE_LIDS = ((159, 145), (386, 374))  # (upper, lower) lid centre, right and left eye


@dataclass(frozen=True)
class ExpressionSample:
    """One face's expression: openings in eye-corner distances, pose in degrees."""

    mouth: float
    eyes: float
    yaw: float
    pitch: float
    roll: float


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


def expression_of(landmarks: np.ndarray) -> ExpressionSample:
    """Expression of one face from float32 (478, 3) frame-pixel landmarks."""
    p = np.asarray(landmarks, np.float64)
    yaw, pitch, roll = yaw_pitch_roll(p)
    return ExpressionSample(mouth_openness(p), eye_openness(p), yaw, pitch, roll)


@dataclass(frozen=True)
class ExpressionResult:
    """How well the swapped face follows the driving face, over frames where both have one.

    Correlations are Pearson's r (None when a signal is flat, so r is undefined); pose errors
    are mean absolute differences in degrees.
    """

    frames_compared: int
    mouth_correlation: float | None
    eye_correlation: float | None
    yaw_error_deg: float
    pitch_error_deg: float
    roll_error_deg: float
    pose_error_deg: float  # mean of the three


def _pearson(a: np.ndarray, b: np.ndarray) -> float | None:
    if len(a) < 3 or a.std() < 1e-9 or b.std() < 1e-9:
        return None
    return float(np.corrcoef(a, b)[0, 1])


def compare_expressions(driving: list[ExpressionSample], swapped: list[ExpressionSample]) -> ExpressionResult:
    """Summary over paired samples (driving[i] and swapped[i] are the same frame; len >= 1)."""
    d = np.array([[s.mouth, s.eyes, s.yaw, s.pitch, s.roll] for s in driving])
    s = np.array([[x.mouth, x.eyes, x.yaw, x.pitch, x.roll] for x in swapped])
    pose_err = np.abs(d[:, 2:] - s[:, 2:]).mean(0)
    return ExpressionResult(
        frames_compared=len(d),
        mouth_correlation=_pearson(d[:, 0], s[:, 0]),
        eye_correlation=_pearson(d[:, 1], s[:, 1]),
        yaw_error_deg=float(pose_err[0]),
        pitch_error_deg=float(pose_err[1]),
        roll_error_deg=float(pose_err[2]),
        pose_error_deg=float(pose_err.mean()),
    )
