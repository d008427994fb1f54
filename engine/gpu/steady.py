"""Device --steady: engine.image.steady.steady_face on device crops, per tracked face.

The change maps, their box blurs (border reflect-101, as cv2.blur) and the dilation run on the
device; the driver's median change inside the hull comes from a 256-bin device histogram (the
change of uint8 crops is a whole number of levels), so one 1 KB copy is the only wait. The
per-track state (blurred driving crop, float32 face and mask) stays on the device.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numba import cuda
from swapstream.engine.gpu.launch import grid_2d
from swapstream.engine.image import steady as cpu_steady

f32 = np.float32


@cuda.jit(device=True, inline=True)
def reflect101(i, n):
    if n == 1:
        return 0
    if i < 0:
        return -i
    if i >= n:
        return 2 * n - 2 - i
    return i


@cuda.jit
def box_u8_kernel(src, dst, half):
    """dst = cv2.blur(src, (2 half + 1,) * 2) for uint8 (R, R, 3): round(sum / area), reflect-101."""
    x, y = cuda.grid(2)
    h, w = src.shape[0], src.shape[1]
    if y >= h or x >= w:
        return
    scale = 1.0 / ((2 * half + 1) * (2 * half + 1))
    for c in range(3):
        total = 0
        for dy in range(-half, half + 1):
            yy = reflect101(y + dy, h)
            for dx in range(-half, half + 1):
                total += np.int32(src[yy, reflect101(x + dx, w), c])
        dst[y, x, c] = min(round(total * scale), 255)


@cuda.jit
def box_f32_kernel(src, dst):
    """dst = cv2.blur(src, (3, 3)) for float32 (R, R), reflect-101."""
    x, y = cuda.grid(2)
    h, w = src.shape[0], src.shape[1]
    if y >= h or x >= w:
        return
    total = 0.0
    for dy in range(-1, 2):
        yy = reflect101(y + dy, h)
        for dx in range(-1, 2):
            total += src[yy, reflect101(x + dx, w)]
    dst[y, x] = f32(total * (1.0 / 9.0))


@cuda.jit
def change_kernel(now, before, hull, change, hist):
    """change = max over B, G, R of |now - before| (uint8 crops); hist counts it where hull > 0."""
    x, y = cuda.grid(2)
    if y >= now.shape[0] or x >= now.shape[1]:
        return
    best = 0
    for c in range(3):
        best = max(best, abs(np.int32(now[y, x, c]) - np.int32(before[y, x, c])))
    change[y, x] = f32(best)
    if hull[y, x] > 0:
        cuda.atomic.add(hist, best, np.int32(1))


@cuda.jit
def dilate_f32_kernel(src, dst, half, along_x):
    """One separable pass of cv2.dilate by a (2 half + 1) square (outside the image ignored)."""
    x, y = cuda.grid(2)
    h, w = src.shape[0], src.shape[1]
    if y >= h or x >= w:
        return
    best = src[y, x]
    for d in range(-half, half + 1):
        yy, xx = (y, x + d) if along_x else (y + d, x)
        if 0 <= yy < h and 0 <= xx < w:
            best = max(best, src[yy, xx])
    dst[y, x] = best


@cuda.jit
def steps_kernel(face, state_face, mask, state_mask, step, mask_step):
    """The model's step per pixel: max over channels |face - state| and |mask - state| * 255."""
    x, y = cuda.grid(2)
    if y >= face.shape[0] or x >= face.shape[1]:
        return
    best = f32(0.0)
    for c in range(3):
        best = max(best, abs(f32(face[y, x, c]) - state_face[y, x, c]))
    step[y, x] = best
    mask_step[y, x] = abs(mask[y, x] - state_mask[y, x]) * f32(255.0)


@cuda.jit(device=True, inline=True)
def _weight(step, budget, gate, strength):
    """engine.image.steady._weight."""
    w = f32(1.0)
    if step > budget:
        w = max(budget / step, gate)
    return f32(1.0) - strength * (f32(1.0) - w)


@cuda.jit
def steady_kernel(face, mask, state_face, state_mask, near, step, mask_step, floor, motion, strength):
    """engine.image.steady._steady_kernel, one thread per pixel."""
    x, y = cuda.grid(2)
    if y >= face.shape[0] or x >= face.shape[1]:
        return
    half = f32(0.5) * motion
    gate = min(max((near[y, x] - half) / half, f32(0.0)), f32(1.0))
    budget = near[y, x] + floor
    w = _weight(step[y, x], budget, gate, strength)
    for c in range(3):
        v = state_face[y, x, c] + w * (f32(face[y, x, c]) - state_face[y, x, c])
        state_face[y, x, c] = v
        face[y, x, c] = np.uint8(min(max(v + f32(0.5), f32(0.0)), f32(255.0)))
    wm = _weight(mask_step[y, x], budget, gate, strength)
    state_mask[y, x] += wm * (mask[y, x] - state_mask[y, x])
    mask[y, x] = state_mask[y, x]


@cuda.jit
def start_kernel(face, mask, state_face, state_mask):
    """A new track's state: the face as float32 and a copy of the mask."""
    x, y = cuda.grid(2)
    if y < face.shape[0] and x < face.shape[1]:
        for c in range(3):
            state_face[y, x, c] = f32(face[y, x, c])
        state_mask[y, x] = mask[y, x]


@dataclass
class DeviceSteadyState:
    """One track's last frame on the device: blurred driving crop, face and mask shown."""

    crop: object  # uint8 (R, R, 3)
    face: object  # float32 (R, R, 3)
    mask: object  # float32 (R, R)

    @classmethod
    def allocate(cls, size: int) -> DeviceSteadyState:
        return cls(
            cuda.device_array((size, size, 3), np.uint8),
            cuda.device_array((size, size, 3), np.float32),
            cuda.device_array((size, size), np.float32),
        )


def median_of_histogram(hist: np.ndarray) -> float:
    """np.median of the values a 256-bin count histogram holds (the mean of the two middle ones)."""
    n = int(hist.sum())
    cdf = np.cumsum(hist)
    lo = int(np.searchsorted(cdf, (n - 1) // 2 + 1))
    hi = int(np.searchsorted(cdf, n // 2 + 1))
    return (lo + hi) / 2.0


class DeviceSteady:
    """steady_face on device crops of one size; scratch buffers allocated once."""

    def __init__(self, size: int):
        self.size = size
        shape = (size, size)
        self._now = cuda.device_array((size, size, 3), np.uint8)
        self._maps = [cuda.device_array(shape, np.float32) for _ in range(4)]
        self._hist = cuda.device_array(256, np.int32)
        self._hist_host = cuda.pinned_array(256, np.int32)
        self._spare: list[DeviceSteadyState] = []

    def release(self, state: DeviceSteadyState) -> None:
        """A track ended: keep its buffers for the next new track."""
        if state.face.shape[0] == self.size:
            self._spare.append(state)

    def step(self, state, crop, hull, face, mask, strength: float, stream):
        """In place on face (uint8 (R, R, 3)) and mask (float32 (R, R)) device arrays; returns the
        state for the next frame (state None: a new track, nothing changed). Waits once."""
        blocks, threads = grid_2d(self.size, self.size)
        if state is None:
            state = self._spare.pop() if self._spare else DeviceSteadyState.allocate(self.size)
            box_u8_kernel[blocks, threads, stream](crop, state.crop, 2)
            start_kernel[blocks, threads, stream](face, mask, state.face, state.mask)
            return state
        box_u8_kernel[blocks, threads, stream](crop, self._now, 2)
        change, near, step, mask_step = self._maps
        self._hist.copy_to_device(np.zeros(256, np.int32), stream=stream)
        change_kernel[blocks, threads, stream](self._now, state.crop, hull, change, self._hist)
        self._hist.copy_to_host(self._hist_host, stream=stream)
        half = (self.size // cpu_steady.REACH_DIVISOR | 1) // 2
        dilate_f32_kernel[blocks, threads, stream](change, step, half, True)
        dilate_f32_kernel[blocks, threads, stream](step, mask_step, half, False)
        box_f32_kernel[blocks, threads, stream](mask_step, near)
        steps_kernel[blocks, threads, stream](face, state.face, mask, state.mask, change, mask_step)
        box_f32_kernel[blocks, threads, stream](change, step)
        box_f32_kernel[blocks, threads, stream](mask_step, change)  # change now holds the mask step
        stream.synchronize()
        inside = int(self._hist_host.sum())
        noise = cpu_steady.MOTION_K * median_of_histogram(self._hist_host) if inside else 0.0
        motion = f32(max(cpu_steady.MOTION_FLOOR, noise))
        floor, strength_ = f32(cpu_steady.TOLERANCE_FLOOR), f32(strength)
        steady_kernel[blocks, threads, stream](
            face, mask, state.face, state.mask, near, step, change, floor, motion, strength_
        )
        state.crop, self._now = self._now, state.crop
        return state
