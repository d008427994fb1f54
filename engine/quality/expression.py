"""Expression transfer: does the swapped face open its mouth and eyes, and turn its head, like
the driving face? Measured from FaceMesh landmarks of both videos, frame by frame (openings:
engine.face.openness)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from swapstream.engine.face.openness import eye_openness, mouth_openness
from swapstream.engine.face.pose import yaw_pitch_roll


@dataclass(frozen=True)
class ExpressionSample:
    """One face's expression: openings in eye-corner distances, pose in degrees."""

    mouth: float
    eyes: float
    yaw: float
    pitch: float
    roll: float


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
