"""Identity judge: whose face the swapped frames show, by dlib's 128-D face embeddings
(engine.face.embedding, independent of the swap model). Distances are Euclidean."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# dlib's own same-person tolerance (pairwise; a face is nearer than that to its person's mean).
# "Nearer the target than the driver" alone would also count a face that looks like nobody.
SAME_PERSON_DISTANCE = 0.6
# A judge whose two identity clouds are not clearly apart cannot say whose face it sees.
TRUSTED_SEPARATION = 1.5


@dataclass(frozen=True)
class IdentityResult:
    """Whose face the swapped frames show, per the judge, and how far to trust it."""

    frames_judged: int
    share_nearer_target: float
    share_recognised_as_target: float  # distance to the target mean below SAME_PERSON_DISTANCE
    mean_distance_to_target: float
    mean_distance_to_driving: float
    identity_distance: float  # between the target's and the driving person's mean embeddings
    target_spread: float  # mean distance of the target's faces to their own mean
    driving_spread: float
    separation: float  # identity_distance / the larger spread
    trusted: bool
    target_faces: int
    driving_faces: int


def judge_identity(
    target: np.ndarray, driving: np.ndarray, swapped: np.ndarray
) -> tuple[IdentityResult, np.ndarray, np.ndarray]:
    """Compare swapped embeddings with both identities.

    target: (K, 128) faceset embeddings; driving: (M, 128) driving-video embeddings;
    swapped: (N, 128) swapped-video embeddings (N >= 1). Returns the summary and the per-frame
    distances (N,) to the target mean and to the driving mean.
    """
    mt, md = target.mean(0), driving.mean(0)
    to_target = np.linalg.norm(swapped - mt, axis=1)
    to_driving = np.linalg.norm(swapped - md, axis=1)
    between = float(np.linalg.norm(mt - md))
    spread_t = float(np.linalg.norm(target - mt, axis=1).mean())
    spread_d = float(np.linalg.norm(driving - md, axis=1).mean())
    separation = between / max(spread_t, spread_d, 1e-6)
    result = IdentityResult(
        frames_judged=len(swapped),
        share_nearer_target=float((to_target < to_driving).mean()),
        share_recognised_as_target=float((to_target < SAME_PERSON_DISTANCE).mean()),
        mean_distance_to_target=float(to_target.mean()),
        mean_distance_to_driving=float(to_driving.mean()),
        identity_distance=between,
        target_spread=spread_t,
        driving_spread=spread_d,
        separation=separation,
        trusted=separation >= TRUSTED_SEPARATION,
        target_faces=len(target),
        driving_faces=len(driving),
    )
    return result, to_target, to_driving
