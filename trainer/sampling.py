"""Which faces a batch draws: yaw-balanced, optionally balanced over eye and mouth openness.

Pure functions of the faces' yaw (degrees) and openness (engine.face.openness's
`eye_openness` and `mouth_openness`: exactly what `swapstream eval` correlates; eyes classed
relative to the person's open eye as `swapstream info` does), so a batch stays a function of
(seed, iteration) alone.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np
from swapstream.trainer.faceset_info import EYE_CLASSES

if TYPE_CHECKING:
    from swapstream.trainer.data import IdentityFaces

YAW_BIN_DEGREES = 10.0
MOUTH_BIN = 0.05  # mouth-openness bin of mouth-balanced sampling (lips meet at 0, wide open ~0.5)


def yaw_balanced_weights(yaw: np.ndarray) -> np.ndarray:
    """Sampling probabilities uniform over 10-degree yaw bins, uniform within a bin.

    A clip where the person looks ahead 90% of the time would otherwise starve profile views.
    """
    bins = np.floor(yaw / YAW_BIN_DEGREES).astype(np.int64)
    _, inverse, counts = np.unique(bins, return_inverse=True, return_counts=True)
    w = 1.0 / counts[inverse]
    return w / w.sum()


def eye_classes(eyes: np.ndarray) -> np.ndarray:
    """int (N,): each face's eye class (faceset_info.EYE_CLASSES: 0 closed, 1 half-closed, 2 open),
    its openness relative to this person's open eye (the 90th percentile), as `swapstream info`
    counts them. Fixed-width bins of absolute openness did not: a person with large eyes spread
    its open faces over more bins than one with small eyes, and "closed" fell in one or two."""
    reference = float(np.percentile(eyes, 90)) if len(eyes) else 0.0
    relative = eyes / reference if reference > 0 else eyes
    return np.searchsorted([bound for _, bound in EYE_CLASSES], relative, side="right")


def balanced_shares(weights: np.ndarray, group: np.ndarray, power: float, base: np.ndarray) -> np.ndarray:
    """weights (N,) > 0 rescaled within each group of `group` (N,) int so that a group's total is
    proportional to (its total under `base` (N,)) ** (1 - power): 1 every group alike, 0 as base."""
    _, inverse = np.unique(group, return_inverse=True)
    goal = np.bincount(inverse, weights=base) ** (1.0 - power)
    return weights * (goal / goal.sum() / np.bincount(inverse, weights=weights))[inverse]


def sampling_weights(
    faces: IdentityFaces,
    yaw_balance: bool,
    eye_balance: float,
    balance_cap: float = math.inf,
    mouth_balance: float = 0.0,
) -> np.ndarray | None:
    """Probability of drawing each face (None: uniform): yaw-balanced, then expression-balanced.

    mouth_balance p in [0, 1]: the MOUTH_BIN-wide mouth-openness bins are drawn in shares
    proportional to (their share of the faces) ** (1 - p) (1: every bin as often as every other;
    0: off); a wide-open mouth is as rare as a blink in most clips. eye_balance: then the same
    over the eye classes (`eye_classes`: closed, half-closed, open), on top of the mouth-balanced
    weights. Multiplying each face's two factors instead (what this did before) undid the eyes
    where they go with one mouth: in d3, 108 of the 128 closed-eye faces have closed lips, the
    most common mouth bin, and closed eyes came up in 19% of draws against 36% of the faces.
    balance_cap: no face is drawn more than ~cap times as often as without expression balance
    (uncapped, the one closed-eye frame of a 504-face clip, alone in its class, would be a third
    of all draws).
    """
    p = yaw_balanced_weights(faces.yaw) if yaw_balance else None
    base = np.full(len(faces), 1.0 / len(faces)) if p is None else p
    w = base
    if mouth_balance > 0 and faces.mouths is not None:
        w = balanced_shares(w, np.floor(faces.mouths / MOUTH_BIN).astype(np.int64), mouth_balance, base)
    if eye_balance > 0 and faces.eyes is not None:
        # Last, on the mouth-balanced weights, so the eye classes get their shares whatever
        # mouths they come with (more sweeps of both, fitting the mouth bins too, piled weight
        # onto rare eye-and-mouth pairs that the cap then cut, unbalancing the eyes again).
        w = balanced_shares(w, eye_classes(faces.eyes), eye_balance, base)
    factor = w / base
    if np.ptp(factor) < 1e-9 * factor.max():  # no expression balance asked, or nothing to even out
        return p
    w = capped(factor, balance_cap) * base
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
