"""Head pose (yaw, pitch, roll in degrees) from FaceMesh landmarks.

A 3D similarity fit (Kabsch) of the template's 3D points onto the observed landmarks; the
template is symmetric, so a frontal face reads yaw = roll = 0. Sign convention (image axes,
x right, y down): yaw > 0 when the face turns toward the image's right, roll > 0 when the head
tilts clockwise on screen, pitch > 0 when the chin goes down.
"""

from __future__ import annotations

import numpy as np
from swapstream.engine.face.template import ALIGN_INDICES, TEMPLATE_POINTS


def rotation_to(landmarks: np.ndarray) -> np.ndarray:
    """(3, 3) rotation taking the template's orientation to the observed face's."""
    obs = np.asarray(landmarks, np.float64)[list(ALIGN_INDICES), :3]
    a = TEMPLATE_POINTS - TEMPLATE_POINTS.mean(0)
    b = obs - obs.mean(0)
    u, _, vt = np.linalg.svd(b.T @ a)
    d = np.sign(np.linalg.det(u @ vt))
    return u @ np.diag([1.0, 1.0, d]) @ vt


def yaw_pitch_roll(landmarks: np.ndarray) -> tuple[float, float, float]:
    """Euler angles in degrees of a (478, 3) landmark array (R = Rz(roll) Ry(yaw) Rx(pitch))."""
    r = rotation_to(landmarks)
    yaw = np.degrees(np.arcsin(np.clip(-r[2, 0], -1.0, 1.0)))
    pitch = np.degrees(np.arctan2(r[2, 1], r[2, 2]))
    roll = np.degrees(np.arctan2(r[1, 0], r[0, 0]))
    return float(yaw), float(pitch), float(roll)
