"""Compile the device frame path's kernels before the first real frame.

Numba compiles a CUDA kernel at its first launch (about a second each, some twenty kernels), so
without this the first frame with a face would wait many seconds: live would drop a burst and
convert would report it as the first frame's time. The last device stage's setup runs two
synthetic frames of one tracked face (a face-shaped set of landmarks: the template's alignment
points, an oval for the rest; pasted 1.3x and 2.2x enlarged, so both bicubic paths run) through
every device stage, which launches each kernel the configured path uses, then one frame without
a face, which ends the track. Under Numba's CUDA
simulator there is nothing to compile and nothing is run.
"""

from __future__ import annotations

import numpy as np
from swapstream.engine.face.template import ALIGN_INDICES, TEMPLATE_POINTS

from swapstream.common.pipeline_contract import FaceSlot, FramePacket

# The synthetic face is pasted enlarged this much: the direct bicubic warp with --detail's band,
# then the staged warp (from engine.image.blend.STAGED_MIN_UPSCALE = 1.0 on).
WARMUP_UPSCALES = (0.9, 2.2)
# Frame pixels per crop pixel of synthetic_landmarks' face in a 'whole' crop, per unit of side / R.
_UPSCALE_PER_SIDE = 0.875 * 128 / 160


def synthetic_landmarks(side: int) -> np.ndarray:
    """float32 (478, 3): the template's alignment points over the middle of a side x side frame,
    every other landmark on an oval around them (a hull, a mouth ring: any shape compiles)."""
    angles = np.linspace(0, 2 * np.pi, 478, endpoint=False)
    lm = np.zeros((478, 3), np.float32)
    lm[:, 0] = 0.5 + 0.32 * np.cos(angles)
    lm[:, 1] = 0.5 + 0.4 * np.sin(angles)
    lm[list(ALIGN_INDICES), :2] = TEMPLATE_POINTS[:, :2] * 0.5 + 0.25
    lm[:, :2] *= side
    return lm


def warm_up(stages) -> None:
    """Run the device stages (align ... blend, set up) on synthetic frames; see the module doc."""
    from numba import config

    if config.ENABLE_CUDASIM:
        return
    resolution = stages[0].resolution
    for seq, upscale in enumerate((*WARMUP_UPSCALES, None)):
        side = round((upscale or 1.0) / _UPSCALE_PER_SIDE * resolution)
        ramp = np.linspace(40, 220, side, dtype=np.float32)
        frame = np.dstack([np.add.outer(ramp, ramp[::-1]) / 2] * 3).astype(np.uint8)
        faces = [FaceSlot(synthetic_landmarks(side), track=0)] if upscale else []
        packet = FramePacket(seq, 0.0, frame, faces=faces)
        for stage in stages:
            packet = stage.process_batch([packet])[0]
