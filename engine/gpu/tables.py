"""Host-side tables the device kernels read, rebuilt exactly as OpenCV builds its own.

- `remap_table(ksize)`: OpenCV's warpAffine interpolation weights (imgwarp.cpp initInterTab2D):
  1/32-pixel sub-positions (INTER_BITS = 5), 2-D weights in 1/32768 (INTER_REMAP_COEF_BITS = 15)
  whose sum is forced to exactly 32768. With them and OpenCV's own fixed-point coordinates the
  device warp gives OpenCV's pixels bit for bit (bilinear: tests/test_gpu_sim_kernels.py).
- `gaussian_taps(blur_px)`: cv2.getGaussianKernel as feather_mask uses it.
"""

from __future__ import annotations

import functools

import cv2
import numpy as np

INTER_BITS = 5
INTER_TAB_SIZE = 1 << INTER_BITS
REMAP_COEF_SCALE = 1 << 15
CUBIC_A = np.float32(-0.75)


def cubic_coeffs(x: np.float32) -> np.ndarray:
    """float32 (4,): OpenCV's interpolateCubic weights (A = -0.75) of a sub-position x in [0, 1)."""
    a = CUBIC_A
    x = np.float32(x)
    c0 = ((a * (x + 1) - 5 * a) * (x + 1) + 8 * a) * (x + 1) - 4 * a
    c1 = ((a + 2) * x - (a + 3)) * x * x + 1
    c2 = ((a + 2) * (1 - x) - (a + 3)) * (1 - x) * (1 - x) + 1
    return np.array([c0, c1, c2, 1 - c0 - c1 - c2], np.float32)


def _one_d(ksize: int, x: np.float32) -> np.ndarray:
    if ksize == 2:
        return np.array([1 - x, x], np.float32)
    return cubic_coeffs(x)


@functools.cache
def remap_table(ksize: int) -> np.ndarray:
    """int32 (1024, ksize * ksize): weights per (fy * 32 + fx) sub-position, row-major taps (ksize 2 or 4)."""
    table = np.empty((INTER_TAB_SIZE * INTER_TAB_SIZE, ksize * ksize), np.int32)
    half = ksize // 2
    for fy in range(INTER_TAB_SIZE):
        vy = _one_d(ksize, np.float32(fy / INTER_TAB_SIZE))
        for fx in range(INTER_TAB_SIZE):
            vx = _one_d(ksize, np.float32(fx / INTER_TAB_SIZE))
            w = np.rint((vy[:, None] * vx[None, :]).astype(np.float32) * np.float32(REMAP_COEF_SCALE)).astype(np.int32)
            diff = int(w.sum()) - REMAP_COEF_SCALE
            if diff:  # OpenCV moves the rounding error onto the smallest/largest of taps [half, half + 2)
                lo = hi = (half, half)
                for k1 in range(half, min(half + 2, ksize)):
                    for k2 in range(half, min(half + 2, ksize)):
                        if w[k1, k2] < w[lo]:
                            lo = (k1, k2)
                        elif w[k1, k2] > w[hi]:
                            hi = (k1, k2)
                if diff < 0:
                    w[hi] -= diff
                else:
                    w[lo] -= diff
            table[fy * INTER_TAB_SIZE + fx] = w.reshape(-1)
    return table


def gaussian_taps(blur_px: int) -> np.ndarray:
    """float32 (2 blur_px + 1,): the separable Gaussian feather_mask blurs with (sigma blur_px / 3)."""
    k = 2 * blur_px + 1
    return cv2.getGaussianKernel(k, blur_px / 3.0, cv2.CV_32F).reshape(-1)
