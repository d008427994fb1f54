"""One-Euro filtering of landmarks against jitter (Casiez et al., CHI 2012).

Low cutoff when the face is still (kills jitter), higher cutoff when it moves (no lag).
Coordinates are divided by the face height before filtering so the same parameters work for a
face of 80 px and one of 800 px.
"""

from __future__ import annotations

import math

import numpy as np

LOCAL_QUANTILE = 0.95  # of the points' speeds: the mouth's and the lids' points are 5-10% of the mesh


def _alpha(cutoff: float, dt: float) -> float:
    tau = 1.0 / (2.0 * math.pi * cutoff)
    return 1.0 / (1.0 + tau / dt)


class OneEuroFilter:
    """Filters arrays of any fixed shape sampled at (possibly irregular) times in seconds."""

    def __init__(self, min_cutoff: float = 1.0, beta: float = 5.0, d_cutoff: float = 1.0):
        self.min_cutoff, self.beta, self.d_cutoff = min_cutoff, beta, d_cutoff
        self.reset()

    def reset(self) -> None:
        self._x: np.ndarray | None = None
        self._dx: np.ndarray | None = None
        self._t = 0.0

    def __call__(self, x: np.ndarray, t: float) -> np.ndarray:
        x = np.asarray(x, np.float64)
        if self._x is None or t <= self._t:
            self._x, self._dx, self._t = x.copy(), np.zeros_like(x), t
            return x.copy()
        dt = t - self._t
        dx = (x - self._x) / dt
        self._dx = self._dx + _alpha(self.d_cutoff, dt) * (dx - self._dx)
        # One cutoff for the whole array: per-element cutoffs would give each point its own lag
        # and bend a rigid shape (a face) out of shape while it moves. For points (N, D) it is set
        # by the faster of their rms speed and the LOCAL_QUANTILE of their speeds: a mouth that
        # snaps shut moves a tenth of the mesh, and by the mean speed alone the lips stayed 0.05-0.25
        # of the eye-corner distance apart for 4-5 frames after d6's had closed.
        speed = float(np.sqrt(np.mean(self._dx**2)))
        if self._dx.ndim == 2:
            speed = max(speed, float(np.quantile(np.linalg.norm(self._dx, axis=1), LOCAL_QUANTILE)))
        a = _alpha(self.min_cutoff + self.beta * speed, dt)
        self._x = self._x + a * (x - self._x)
        self._t = t
        return self._x.copy()


class LandmarkSmoother:
    """One-Euro filter for a (478, 3) landmark array, in face-height units."""

    def __init__(self, min_cutoff: float = 1.0, beta: float = 5.0):
        self._filter = OneEuroFilter(min_cutoff, beta)
        self._scale: float | None = None

    def reset(self) -> None:
        self._filter.reset()
        self._scale = None

    def __call__(self, landmarks: np.ndarray, t: float) -> np.ndarray:
        lm = np.asarray(landmarks, np.float64)
        if self._scale is None:
            # Fixed for the track's life: a per-frame scale would carry its own jitter into
            # every coordinate when the filtered values are scaled back.
            self._scale = max(float(np.linalg.norm(lm[10, :2] - lm[152, :2])), 1.0)
        return (self._filter(lm / self._scale, t) * self._scale).astype(np.float32)
