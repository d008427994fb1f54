"""sRGB <-> CIE L*a*b* for Numba kernels, matching OpenCV's float COLOR_BGR2Lab / COLOR_Lab2BGR.

OpenCV's conventions: sRGB primaries with D65 white, L in [0, 100], a and b about [-127, 127].
pow() and cbrt() cost ~20 ns each in a scalar Numba loop, more than everything else per pixel,
so the two nonlinear steps use tables with linear interpolation instead (max error ~1e-3 L* and
0.01 grey levels, far below the 8-bit output step):
- `linear`: uint8 sRGB value -> linear light (exact, 256 entries);
- `cube_root`: the Lab f(t) (cube root above 0.008856, linear below) on t in [0, 1];
- `encode`: linear light in [0, 1] -> sRGB value in [0, 255] (float, rounded by the caller).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from engine.image._jit import inline

# OpenCV's sRGB D65 matrices (modules/imgproc/src/color_lab.cpp), and the D65 white point.
XYZ_FROM_RGB = np.array(
    [[0.412453, 0.357580, 0.180423], [0.212671, 0.715160, 0.072169], [0.019334, 0.119193, 0.950227]]
)
RGB_FROM_XYZ = np.array(
    [[3.240479, -1.53715, -0.498535], [-0.969256, 1.875991, 0.041556], [0.055648, -0.204043, 1.057311]]
)
WHITE_X, WHITE_Z = 0.950456, 1.088754
TABLE_SIZE = 4096


class LabTables(NamedTuple):
    linear: np.ndarray  # float64 (256,)
    cube_root: np.ndarray  # float64 (TABLE_SIZE,)
    encode: np.ndarray  # float64 (TABLE_SIZE,)


def lab_tables() -> LabTables:
    """The three lookup tables the Lab kernels take (tiny; built once per process)."""
    c = np.arange(256) / 255.0
    linear = np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)
    t = np.linspace(0.0, 1.0, TABLE_SIZE)
    cube_root = np.where(t > 0.008856, np.cbrt(t), 7.787 * t + 16.0 / 116.0)
    encode = 255.0 * np.where(t <= 0.0031308, 12.92 * t, 1.055 * t ** (1 / 2.4) - 0.055)
    return LabTables(linear, cube_root, encode)


@inline
def _lerp(table, t):
    """table sampled on [0, 1] at len(table) points, read at t (clamped to [0, 1])."""
    n = table.shape[0] - 1
    x = min(max(t, 0.0), 1.0) * n
    i = min(int(x), n - 1)
    w = x - i
    return table[i] * (1.0 - w) + table[i + 1] * w


@inline
def bgr_to_lab(b, g, r, linear, cube_root):
    """uint8 B, G, R -> (L, a, b) floats, OpenCV's float Lab."""
    lr = linear[r]
    lg = linear[g]
    lb = linear[b]
    x = (0.412453 * lr + 0.357580 * lg + 0.180423 * lb) / 0.950456
    y = 0.212671 * lr + 0.715160 * lg + 0.072169 * lb
    z = (0.019334 * lr + 0.119193 * lg + 0.950227 * lb) / 1.088754
    fx = _lerp(cube_root, x)
    fy = _lerp(cube_root, y)
    fz = _lerp(cube_root, z)
    lum = 116.0 * fy - 16.0 if y > 0.008856 else 903.3 * y
    return lum, 500.0 * (fx - fy), 200.0 * (fy - fz)


@inline
def _f_inverse(f):
    return f * f * f if f > 0.206893 else (f - 16.0 / 116.0) / 7.787


@inline
def lab_to_bgr(lum, a, b, encode):
    """(L, a, b) -> B, G, R as floats in [0, 255] (not rounded), OpenCV's float Lab2BGR."""
    if lum <= 7.9996:
        y = lum / 903.3
        fy = 7.787 * y + 16.0 / 116.0
    else:
        fy = (lum + 16.0) / 116.0
        y = fy * fy * fy
    x = _f_inverse(fy + a / 500.0) * 0.950456
    z = _f_inverse(fy - b / 200.0) * 1.088754
    r = 3.240479 * x - 1.53715 * y - 0.498535 * z
    g = -0.969256 * x + 1.875991 * y + 0.041556 * z
    bl = 0.055648 * x - 0.204043 * y + 1.057311 * z
    return _lerp(encode, bl), _lerp(encode, g), _lerp(encode, r)
