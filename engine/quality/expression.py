"""Expression transfer: does the swapped face open its mouth and eyes, and turn its head, like
the driving face? Measured from FaceMesh landmarks of both videos, frame by frame (openings:
engine.face.openness).

A correlation sees whether the swap's opening moves with the driver's, not whether it is the
same: a swap that holds its mouth wide open while the driver's lips stay together reads r near 0
whatever it shows, and one that opens a little with each of the driver's wide openings reads high.
So the named states are compared too: how often the swap's mouth is in the driver's state
(closed, parted, open, wide open), and how many of the driver's closed-eye frames the swap's eyes
close in (each face's eyes relative to its own open eye, as `swapstream info` counts them)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from swapstream.engine.face.openness import MOUTH_CLASSES, eye_openness, eye_states, mouth_openness, state_index
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
    are mean absolute differences in degrees. mouth_state_agreement: share of frames whose swapped
    mouth is in the driver's MOUTH_CLASSES state; mouth_opening_error: mean absolute difference of
    the openings (outer eye-corner distances); closed_eyes_followed: share of the driver's
    closed-eye frames (EYE_CLASSES, relative to its own open eye) where the swap's are closed too
    (None when the driver never closes its eyes), out of driver_closed_eye_frames.
    """

    frames_compared: int
    mouth_correlation: float | None
    eye_correlation: float | None
    yaw_error_deg: float
    pitch_error_deg: float
    roll_error_deg: float
    pose_error_deg: float  # mean of the three
    mouth_state_agreement: float
    mouth_opening_error: float
    closed_eyes_followed: float | None
    driver_closed_eye_frames: int


def _pearson(a: np.ndarray, b: np.ndarray) -> float | None:
    if len(a) < 3 or a.std() < 1e-9 or b.std() < 1e-9:
        return None
    return float(np.corrcoef(a, b)[0, 1])


def compare_expressions(driving: list[ExpressionSample], swapped: list[ExpressionSample]) -> ExpressionResult:
    """Summary over paired samples (driving[i] and swapped[i] are the same frame; len >= 1)."""
    d = np.array([[s.mouth, s.eyes, s.yaw, s.pitch, s.roll] for s in driving])
    s = np.array([[x.mouth, x.eyes, x.yaw, x.pitch, x.roll] for x in swapped])
    pose_err = np.abs(d[:, 2:] - s[:, 2:]).mean(0)
    driver_closed = eye_states(d[:, 1]) == 0
    swap_closed = eye_states(s[:, 1]) == 0
    same_mouth = state_index(d[:, 0], MOUTH_CLASSES) == state_index(s[:, 0], MOUTH_CLASSES)
    return ExpressionResult(
        frames_compared=len(d),
        mouth_correlation=_pearson(d[:, 0], s[:, 0]),
        eye_correlation=_pearson(d[:, 1], s[:, 1]),
        yaw_error_deg=float(pose_err[0]),
        pitch_error_deg=float(pose_err[1]),
        roll_error_deg=float(pose_err[2]),
        pose_error_deg=float(pose_err.mean()),
        mouth_state_agreement=float(same_mouth.mean()),
        mouth_opening_error=float(np.abs(d[:, 0] - s[:, 0]).mean()),
        closed_eyes_followed=float(swap_closed[driver_closed].mean()) if driver_closed.any() else None,
        driver_closed_eye_frames=int(driver_closed.sum()),
    )
