"""The mouth from the target's own faces, shaped to the driver's lips.

A model trained for minutes on two people may draw the target's mouth in a state the driver is
not in: d9 -> d18 (issue 28) held d18's wide-open mouth while d9's lips stayed together in every
frame, and d14 -> d6 drew a soft grimace over d14's closed smile. The model's shared code does not
carry these drivers' mouths to the target's decoder, and no training lever measured moved it
(benchmarks/results_log/2026-12-07-mouths.md). The target's faceset often holds its own mouth in
the driver's state. Here, over the mouth, the face of the bank whose lips fit the driver's best
(pose, the lips' shape about their centre, the inner lips' gap) is warped onto the driver's
landmarks (engine.face.neighbours.landmark_warp), its colour scaled to the render's skin around
the mouth, and laid over the render, feathered. The pixels are the target's own; only their
geometry is the driver's. Where no face of the bank fits (lips of another shape, or parted where
the target's are together: a driver opening wider than the target ever does, a smile with the
lips apart over a target whose lips never part), the weight fades to 0 and the render's mouth
stays: bent that far, the target's lips are stretched into a smear.

Crops are uint8 BGR (S, S, 3); landmarks (478, 2|3) crop pixels at S.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from swapstream.engine.face.mask import INNER_LIPS, OUTER_LIPS
from swapstream.engine.face.neighbours import StickyChoice, match_features
from swapstream.engine.image.target_parts import TargetFaces, bent_part, load_target_faces, part_region

LIPS = OUTER_LIPS + INNER_LIPS
SHAPE_UNIT = 0.05  # lip misfit (rms of LIPS about their centre, a share of the mouth's width) per match unit
# Full weight while the chosen face's lip misfit is under FIT[0], none from FIT[1]: lips bent by
# more than that are stretched into a smear (a driver's mouth opened wider than the target's ever is).
FIT = (0.1, 0.2)
# ... and from GAP_FIT[0] to GAP_FIT[1] match units apart in the inner lips' gap (0.05 of the
# eye-corner distance each): closed lips stretched over an open smile drew a smear (the demo).
GAP_FIT = (1.0, 2.0)
MOUTH_GROW = 0.35  # the region laid over: the lips grown by this x the mouth's width, eased out over as much
RING_GROW = (0.2, 0.6)  # the skin ring whose colour is matched: between the lips grown by these


def lip_shapes(landmarks: np.ndarray) -> np.ndarray:
    """float32 (N, len(LIPS), 2): the lips of landmarks (N, 478, 2+) about their centre."""
    lips = np.asarray(landmarks, np.float32)[:, list(LIPS), :2]
    return lips - lips.mean(axis=1, keepdims=True)


class TargetMouth:
    """Lays the best-fitting mouth of `faces` over swapped crops; remembers each track's face."""

    def __init__(self, faces: TargetFaces):
        self.faces = faces
        self.shapes = lip_shapes(faces.landmarks)  # the lips about their centre, crop px
        self._chosen = StickyChoice()

    def distances(self, points: np.ndarray, pose: tuple[float, float]) -> tuple[np.ndarray, np.ndarray]:
        """(distance, misfit), float64 (N,) each, of every face from the driver's mouth. distance:
        in match units, over yaw, pitch, the inner lips' gap (engine.face.neighbours) and the lip
        misfit / SHAPE_UNIT (the rms of LIPS about their centre, a share of the driver's mouth
        width). misfit: that lip misfit, raised to where the inner lips' gaps put it on FIT when
        they are more than GAP_FIT[0] units apart."""
        pts = np.asarray(points, np.float64)[:, :2]
        query = match_features(pts, *pose)
        width = max(float(np.linalg.norm(pts[OUTER_LIPS[0]] - pts[OUTER_LIPS[10]])), 1.0)
        shape = lip_shapes(pts[None])[0]
        lips = np.sqrt(np.mean(np.sum(np.square(self.shapes - shape[None]), axis=2), axis=1)) / width
        f = self.faces.features
        gap = np.abs(f[:, 3] - query[3])
        distance = np.sqrt(
            np.square(f[:, 0] - query[0])
            + np.square(f[:, 1] - query[1])
            + np.square(gap)
            + np.square(lips / SHAPE_UNIT)
        )
        gap_misfit = FIT[0] + (FIT[1] - FIT[0]) * (gap - GAP_FIT[0]) / (GAP_FIT[1] - GAP_FIT[0])
        return distance, np.maximum(lips, gap_misfit)

    def choose(self, track: int, points: np.ndarray, pose: tuple[float, float]) -> tuple[int, float]:
        """(the face for this track's face, its misfit (distances)), kept while it stays near the
        nearest (engine.face.neighbours.StickyChoice), so the mouth does not hop between neighbours."""
        dist, misfit = self.distances(points, pose)
        best = self._chosen.pick(track, dist)
        return best, float(misfit[best])

    def lay_over(
        self,
        crop: np.ndarray,
        points: np.ndarray,
        alpha: np.ndarray,
        pose: tuple[float, float],
        amount: float,
        track: int = -1,
    ) -> float:
        """crop: uint8 (S, S, 3) BGR (a view is fine), changed in place over the mouth; points:
        (478, 2|3) crop px; alpha: uint8 (S, S) the blend mask x 255, where the colour ring is
        read; amount in [0, 1]. Returns the weight laid (0: untouched)."""
        pts = np.asarray(points, np.float64)[:, :2]
        i, misfit = self.choose(track, pts, pose)
        weight = amount * min(max((FIT[1] - misfit) / (FIT[1] - FIT[0]), 0.0), 1.0)
        if weight <= 0:
            return 0.0
        bent = bent_part(self.faces, i, crop, pts, alpha, mouth_region(pts, crop.shape[0]))
        if bent is None:
            return 0.0
        bent[0].lay(crop, weight)
        return weight


def mouth_region(points: np.ndarray, size: int) -> tuple[np.ndarray | None, np.ndarray, tuple[int, int, int, int]]:
    """(weight, ring, box) of the mouth of points ((478, 2|3) crop px) in a (size, size) crop
    (engine.image.target_parts.part_region): weight 1 within MOUTH_GROW x the mouth's width of the
    outer lips (inside them too), easing to 0 at twice that; ring the skin between RING_GROW widths
    of the lips."""
    pts = np.asarray(points, np.float32)[:, :2]
    width = float(np.linalg.norm(pts[OUTER_LIPS[0]] - pts[OUTER_LIPS[10]]))
    return part_region(pts[list(OUTER_LIPS)], width, MOUTH_GROW * width, RING_GROW, size)


def target_mouth_from(path: Path) -> TargetMouth:
    """The TargetMouth of the faceset at `path` (a detail bank or the target's faceset)."""
    return TargetMouth(load_target_faces(path))
