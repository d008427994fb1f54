"""Measured, not kept (issue 28, item 2): over the mouth, the target's own band up to CELLS cells of
the model's grid, as the lids take theirs (engine.image.target_detail.EYE_BAND_CELLS).

    python benchmarks/mouth_band.py CELLS MATCH_UNITS convert CLIP -m MODEL.onnx -o OUT.mp4 [...]

Runs a `swapstream` command (any, usually `convert`) with the blend stage's bank paste replaced by
the reference path (TargetDetail.sharpen, then blend.paste_face; within one level of the fused
path) plus, for CELLS > 0: the bank face nearest the driver's face in yaw, pitch and mouth opening
(eyes ignored) is warped onto the driver's landmarks, and over the mouth (engine.face.mask.lips_mask
x the blend mask) its grey band up to CELLS grid cells replaces the render's, faded out as its mouth
opening differs from the driver's by MATCH_UNITS units of engine.face.neighbours.MOUTH_UNIT. CELLS 0
is the reference path alone, the baseline of the comparison. Then `swapstream eval` each output.
"""

from __future__ import annotations

import sys

import cv2
import numpy as np
from swapstream.engine.face.mask import lips_mask
from swapstream.engine.face.neighbours import landmark_warp, match_features
from swapstream.engine.face.pose import yaw_pitch_roll
from swapstream.engine.image import blend
from swapstream.engine.image.bands import grid_band
from swapstream.engine.image.target_detail import TargetDetail
from swapstream.engine.stages import blend_stage


def with_mouth_band(
    target: TargetDetail,
    big: np.ndarray,
    pts: np.ndarray,
    mask: np.ndarray,
    pose,
    amount: float,
    cells: float,
    units: float,
) -> np.ndarray:
    """big (uint8 (S, S, 3), the sharpened crop) with the nearest-mouth bank face's band up to
    `cells` cells over the mouth; pts: (478, 2) landmarks at S; mask: float32 (S, S)."""
    query = match_features(pts, *pose)
    f = target.bank.features
    j = int(np.argmin(np.hypot(np.hypot(f[:, 0] - query[0], f[:, 1] - query[1]), f[:, 3] - query[3])))
    match = 1.0 - abs(float(f[j, 3] - query[3])) / units
    if cells <= 0 or amount <= 0 or match <= 0:
        return big
    size = target.bank.size
    weight = lips_mask(pts, size) * mask
    warped = landmark_warp(target.bank.greys[j], target.bank.landmarks[j], pts)
    grey = cv2.cvtColor(big, cv2.COLOR_BGR2GRAY).astype(np.float32)
    band = grid_band(warped, target.cell * cells) - grid_band(grey, target.cell * cells)
    add = cv2.multiply(weight, band, scale=min(amount, 1.0) * match)
    return cv2.add(big, cv2.merge((add, add, add)), dtype=cv2.CV_8U)


def main() -> int:
    cells, units, args = float(sys.argv[1]), float(sys.argv[2]), sys.argv[3:]

    def paste(stage, frame, slot, crop_points, keep):
        pose = yaw_pitch_roll(slot.landmarks)[:2]
        big = stage.target.sharpen(slot.swapped, crop_points, keep, pose, stage.knobs.detail, slot.track)
        k = big.shape[0] / slot.swapped.shape[0]
        mask = cv2.resize(slot.mask, big.shape[1::-1], interpolation=cv2.INTER_LINEAR)
        pts = np.asarray(crop_points, np.float64)[:, :2] * k
        big = with_mouth_band(stage.target, big, pts, mask, pose, stage.knobs.detail, cells, units)
        matrix = np.asarray(slot.matrix, np.float64) * k
        matrix[:, 2] += 0.5 * k - 0.5
        blend.paste_face(frame, big, mask, matrix, stage.knobs.blend, 0.0, None)

    blend_stage.BlendStage._paste_with_target_detail = paste
    from swapstream.cli import main as cli

    return cli(args)


if __name__ == "__main__":
    sys.exit(main())
