"""Which faces a batch draws: yaw-balanced, optionally balanced over eye and mouth openness.

Pure functions of the faces' yaw (degrees) and openness (engine.face.openness's
`eye_openness` and `mouth_openness`: exactly what `swapstream eval` correlates), so a batch stays a
function of (seed, iteration) alone.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from swapstream.trainer.data import IdentityFaces

YAW_BIN_DEGREES = 10.0
EYE_BIN = 0.025  # eye-openness bin of eye-balanced sampling, in outer-eye-corner distances
MOUTH_BIN = 0.05  # mouth-openness bin of mouth-balanced sampling (lips meet at 0, wide open ~0.5)


def yaw_balanced_weights(yaw: np.ndarray) -> np.ndarray:
    """Sampling probabilities uniform over 10-degree yaw bins, uniform within a bin.

    A clip where the person looks ahead 90% of the time would otherwise starve profile views.
    """
    bins = np.floor(yaw / YAW_BIN_DEGREES).astype(np.int64)
    _, inverse, counts = np.unique(bins, return_inverse=True, return_counts=True)
    w = 1.0 / counts[inverse]
    return w / w.sum()


def sampling_weights(
    faces: IdentityFaces,
    yaw_balance: bool,
    eye_balance: float,
    balance_cap: float = math.inf,
    mouth_balance: float = 0.0,
) -> np.ndarray | None:
    """Probability of drawing each face (None: uniform): yaw-balanced, times expression balance.

    eye_balance p in [0, 1]: a face's weight is also divided by (faces in its EYE_BIN-wide
    openness bin) ** p, so closed and half-closed eyes, rare in most clips, are drawn more often
    (1: every openness bin as often as every other, like yaw balance; 0: off). mouth_balance: the
    same over MOUTH_BIN-wide mouth-openness bins (a wide-open mouth is as rare as a blink in most
    clips). balance_cap: the two factors together are at most this many times their mean, so no
    face is drawn more than ~cap times as often as without expression balance (uncapped, the one
    closed-eye frame of a 504-face clip, alone in its bin, was 15% of all draws).
    """
    p = yaw_balanced_weights(faces.yaw) if yaw_balance else None
    factor = np.ones(len(faces))
    for power, values, width in ((eye_balance, faces.eyes, EYE_BIN), (mouth_balance, faces.mouths, MOUTH_BIN)):
        if power > 0 and values is not None:
            bins = np.floor(values / width).astype(np.int64)
            _, inverse, counts = np.unique(bins, return_inverse=True, return_counts=True)
            factor = factor * counts[inverse].astype(np.float64) ** -power
    if np.ptp(factor) == 0:  # no expression balance asked, or every face in one bin
        return p
    w = capped(factor, balance_cap)
    w = w if p is None else w * p
    return w / w.sum()


def capped(w: np.ndarray, cap: float) -> np.ndarray:
    """Positive weights rescaled to mean 1 with none above `cap` (>= 1): the excess of the clipped
    ones is spread over the others in proportion, repeated until nothing is over."""
    w = w / w.mean()
    for _ in range(len(w)):  # each pass clips at least one more weight
        over = w >= cap
        if w.max() <= cap * (1 + 1e-9) or over.all():
            break
        w = np.where(over, cap, w * (len(w) - cap * over.sum()) / w[~over].sum())
    return np.minimum(w, cap)
