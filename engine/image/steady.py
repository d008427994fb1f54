"""Steady faces: the swapped face may change from frame to frame only as much as the driving
face does, so the model's own jitter on a still face does not show as flicker.

A model renders every frame on its own, and two near-identical inputs do not give identical
outputs: on a driver who barely moves the swapped face shimmers (eval's flicker ratio, the
swapped face's frame-to-frame change over the driver's, reached 1.33 on such a clip). Here each
pixel of the swapped crop (and of its mask) gets a change budget: the driving crop's largest
change within 1/REACH_DIVISOR of the crop around it, plus TOLERANCE_FLOOR levels. Where the model
changes a pixel by more than that, the step is shortened to the budget. Where the driver clearly
moved (MOTION_K x its median change inside the face, its noise, so the threshold is relative to
the source) the model's step passes whole: blinks, speech and lighting changes are never held
back, and a slow drift still goes through at the floor per frame.

Both crops are aligned to the face (FaceSlot.crop at one resolution per track), so a turning
head changes them little; the driver's changes are measured on 5x5 box-blurred crops (against
pixel noise), the largest of B, G, R. Crops uint8 (R, R, 3) BGR; masks float32 (R, R) in [0, 1];
the state is float32 (no rounding creep from one frame to the next).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
from swapstream.engine.image._jit import inline, kernel

TOLERANCE_FLOOR = 0.5  # grey levels a pixel may always move per frame
# A pixel may move as much as the driver moved within 1/REACH_DIVISOR of the crop around it: the
# model's lips or lids sit a few pixels off the driver's, and they must still follow them.
REACH_DIVISOR = 16
# Where the driver's change near a pixel reaches MOTION_K x its median change inside the face (its
# noise: compression, sensor) and at least MOTION_FLOOR levels, the driver moved there: the model's
# step passes whole, however much larger than the driver's it is (a target's lids may be darker).
MOTION_K = 3.0
MOTION_FLOOR = 3.0


@dataclass
class SteadyState:
    """One tracked face's last frame: its driving crop, the face and mask that were shown."""

    crop: np.ndarray  # uint8 (R, R, 3), box-blurred (`blurred`)
    face: np.ndarray  # float32 (R, R, 3)
    mask: np.ndarray  # float32 (R, R)


def change_map(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """float32 (R, R): the largest per-channel |a - b| of two (R, R, 3) images of one dtype."""
    b_, g, r = cv2.split(cv2.absdiff(a, b))  # OpenCV's per-channel max: ~10x numpy's max(axis=2)
    return cv2.max(cv2.max(b_, g), r).astype(np.float32, copy=False)


@inline
def _weight(step, budget, gate, strength):
    """How much of the model's step to take: all of it within the budget or where the driver moved
    (gate 1), else the budget's share of it; `strength` blends that with 1 (0: always all)."""
    w = np.float32(1.0)
    if step > budget:
        w = max(budget / step, gate)
    return np.float32(1.0) - strength * (np.float32(1.0) - w)


@kernel
def _steady_kernel(face, mask, state_face, state_mask, near, step, mask_step, floor, motion, strength):
    half = np.float32(0.5) * motion
    for y in range(face.shape[0]):
        for x in range(face.shape[1]):
            gate = min(max((near[y, x] - half) / half, np.float32(0.0)), np.float32(1.0))  # 1: the driver moved
            budget = near[y, x] + floor
            w = _weight(step[y, x], budget, gate, strength)
            for c in range(3):
                v = state_face[y, x, c] + w * (np.float32(face[y, x, c]) - state_face[y, x, c])
                state_face[y, x, c] = v
                face[y, x, c] = np.uint8(min(max(v + np.float32(0.5), np.float32(0.0)), np.float32(255.0)))
            wm = _weight(mask_step[y, x], budget, gate, strength)
            state_mask[y, x] += wm * (mask[y, x] - state_mask[y, x])
            mask[y, x] = state_mask[y, x]


def blurred(crop: np.ndarray) -> np.ndarray:
    """The 5x5 box blur the change maps are measured on (it averages out pixel noise)."""
    return cv2.blur(crop, (5, 5))


def steady_face(
    state: SteadyState | None, crop: np.ndarray, hull: np.ndarray, face: np.ndarray, mask: np.ndarray, strength: float
) -> SteadyState:
    """In place: shorten each pixel's step of `face` (uint8 (R, R, 3)) and `mask` (float32 (R, R))
    from the last frame's to the driver's change plus the tolerance, by `strength` in [0, 1] (0:
    unchanged). crop: this frame's driving crop (uint8 (R, R, 3)); hull: uint8 (R, R) 0/255
    face hull where the tolerance is measured. state: the face's last frame (None: a new track,
    nothing is changed). Returns the state for the next frame."""
    now = blurred(crop)
    if state is None or state.face.shape != face.shape:
        return SteadyState(now, face.astype(np.float32), mask.astype(np.float32, copy=True))
    change = change_map(now, state.crop)
    inside = change[hull > 0]
    motion = max(MOTION_FLOOR, MOTION_K * float(np.median(inside)) if inside.size else 0.0)
    reach = (face.shape[0] // REACH_DIVISOR) | 1
    near = cv2.blur(cv2.dilate(change, cv2.getStructuringElement(cv2.MORPH_RECT, (reach, reach))), (3, 3))
    step = cv2.blur(change_map(face.astype(np.float32), state.face), (3, 3))
    mask_step = cv2.blur(np.abs(mask - state.mask) * np.float32(255.0), (3, 3))
    floor, motion, strength = np.float32(TOLERANCE_FLOOR), np.float32(motion), np.float32(strength)
    _steady_kernel(face, mask, state.face, state.mask, near, step, mask_step, floor, motion, strength)
    state.crop = now
    return state


def warmup() -> None:
    """Compile (or load the cached) kernel before the first frame."""
    crop, hull = np.zeros((4, 4, 3), np.uint8), np.full((4, 4), 255, np.uint8)
    state = steady_face(None, crop, hull, crop.copy(), np.zeros((4, 4), np.float32), 1.0)
    steady_face(state, crop, hull, np.full((4, 4, 3), 9, np.uint8), np.ones((4, 4), np.float32), 1.0)
