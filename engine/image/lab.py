"""sRGB <-> CIE L*a*b* for Numba kernels, matching OpenCV's float COLOR_BGR2Lab / COLOR_Lab2BGR.

OpenCV's conventions: sRGB primaries with D65 white, L in [0, 100], a and b about [-127, 127].
pow() and cbrt() cost ~20 ns each in a scalar Numba loop, more than everything else per pixel,
so the nonlinear steps are nearest-entry lookups in fine tables instead (measured: within 1 grey
level of OpenCV's float conversion, which itself uses spline tables):
- `linear`: uint8 sRGB value -> linear light (exact, 256 entries);
- `cube_root`: Lab's f(t) (cube root above 0.008856, linear below) on t in [0, 1], 65536
  entries: max error 6e-5 in f, 0.007 in L;
- `encode`: linear light in [0, 1] -> rounded uint8 sRGB, 65536 entries: < 0.15 grey level.
The math is float32 (the tables' precision is far below float32's anyway).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from swapstream.engine.image._jit import inline

TABLE_SIZE = 65536
f32 = np.float32


class LabTables(NamedTuple):
    linear: np.ndarray  # float32 (256,)
    cube_root: np.ndarray  # float32 (TABLE_SIZE,)
    encode: np.ndarray  # uint8 (TABLE_SIZE,)


def lab_tables() -> LabTables:
    """The lookup tables the Lab kernels take (~330 KB; built once per process)."""
    c = np.arange(256) / 255.0
    linear = np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)
    t = np.linspace(0.0, 1.0, TABLE_SIZE)
    cube_root = np.where(t > 0.008856, np.cbrt(t), 7.787 * t + 16.0 / 116.0)
    encode = 255.0 * np.where(t <= 0.0031308, 12.92 * t, 1.055 * t ** (1 / 2.4) - 0.055)
    return LabTables(
        linear.astype(np.float32), cube_root.astype(np.float32), np.clip(np.round(encode), 0, 255).astype(np.uint8)
    )


@inline
def _index(t, n):
    """Nearest entry of a table of n + 1 samples on [0, 1], t clamped."""
    return min(max(np.int32(t * n + f32(0.5)), 0), n)


@inline
def bgr_to_lab(b, g, r, linear, cube_root):
    """uint8 B, G, R -> float32 (L, a, b), OpenCV's float Lab."""
    lr = linear[r]
    lg = linear[g]
    lb = linear[b]
    # OpenCV's sRGB D65 matrix (color_lab.cpp), rows X and Z divided by the white point.
    x = f32(0.412453 / 0.950456) * lr + f32(0.357580 / 0.950456) * lg + f32(0.180423 / 0.950456) * lb
    y = f32(0.212671) * lr + f32(0.715160) * lg + f32(0.072169) * lb
    z = f32(0.019334 / 1.088754) * lr + f32(0.119193 / 1.088754) * lg + f32(0.950227 / 1.088754) * lb
    n = cube_root.shape[0] - 1
    fx = cube_root[_index(x, n)]
    fy = cube_root[_index(y, n)]
    fz = cube_root[_index(z, n)]
    lum = f32(116.0) * fy - f32(16.0) if y > f32(0.008856) else f32(903.3) * y
    return lum, f32(500.0) * (fx - fy), f32(200.0) * (fy - fz)


@inline
def _f_inverse(f):
    return f * f * f if f > f32(0.206893) else (f - f32(16.0 / 116.0)) * f32(1.0 / 7.787)


@inline
def lab_to_bgr(lum, a, b, encode):
    """float32 (L, a, b) -> uint8 B, G, R, OpenCV's float Lab2BGR, rounded."""
    if lum <= f32(7.9996):
        y = lum * f32(1.0 / 903.3)
        fy = f32(7.787) * y + f32(16.0 / 116.0)
    else:
        fy = (lum + f32(16.0)) * f32(1.0 / 116.0)
        y = fy * fy * fy
    x = _f_inverse(fy + a * f32(1.0 / 500.0)) * f32(0.950456)
    z = _f_inverse(fy - b * f32(1.0 / 200.0)) * f32(1.088754)
    r = f32(3.240479) * x - f32(1.53715) * y - f32(0.498535) * z
    g = f32(-0.969256) * x + f32(1.875991) * y + f32(0.041556) * z
    bl = f32(0.055648) * x - f32(0.204043) * y + f32(1.057311) * z
    n = encode.shape[0] - 1
    return encode[_index(bl, n)], encode[_index(g, n)], encode[_index(r, n)]


# --- exact float64 references (the tests compare the kernels with these) ---------------------
# OpenCV's own float conversion is itself approximate (spline tables; measured up to 0.4 L*a*b*
# and 2 grey levels off this exact math on saturated darks), so the references use NumPy.

_XYZ_FROM_RGB = np.array(
    [[0.412453, 0.357580, 0.180423], [0.212671, 0.715160, 0.072169], [0.019334, 0.119193, 0.950227]]
)
_RGB_FROM_XYZ = np.array(
    [[3.240479, -1.53715, -0.498535], [-0.969256, 1.875991, 0.041556], [0.055648, -0.204043, 1.057311]]
)
_WHITE = np.array([0.950456, 1.0, 1.088754])


def bgr_to_lab_numpy(img: np.ndarray) -> np.ndarray:
    """float64 (..., 3) L*a*b* of uint8 (..., 3) BGR, exact (no tables)."""
    c = img[..., ::-1] / 255.0
    linear = np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)
    xyz = linear @ _XYZ_FROM_RGB.T / _WHITE
    f = np.where(xyz > 0.008856, np.cbrt(xyz), 7.787 * xyz + 16.0 / 116.0)
    lum = np.where(xyz[..., 1] > 0.008856, 116.0 * f[..., 1] - 16.0, 903.3 * xyz[..., 1])
    return np.stack([lum, 500.0 * (f[..., 0] - f[..., 1]), 200.0 * (f[..., 1] - f[..., 2])], axis=-1)


def lab_to_bgr_numpy(lab: np.ndarray) -> np.ndarray:
    """uint8 (..., 3) BGR of float (..., 3) L*a*b*, exact, out-of-gamut colours clipped."""
    lum, a, b = lab[..., 0], lab[..., 1], lab[..., 2]
    dark = lum <= 7.9996
    fy = np.where(dark, 7.787 * lum / 903.3 + 16.0 / 116.0, (lum + 16.0) / 116.0)
    y = np.where(dark, lum / 903.3, fy**3)

    def f_inverse(f):
        return np.where(f > 0.206893, f**3, (f - 16.0 / 116.0) / 7.787)

    xyz = np.stack([f_inverse(fy + a / 500.0) * _WHITE[0], y, f_inverse(fy - b / 200.0) * _WHITE[2]], axis=-1)
    rgb = np.clip(xyz @ _RGB_FROM_XYZ.T, 0.0, 1.0)
    encoded = np.where(rgb <= 0.0031308, 12.92 * rgb, 1.055 * rgb ** (1 / 2.4) - 0.055)
    return np.clip(np.round(encoded * 255.0), 0, 255).astype(np.uint8)[..., ::-1]
