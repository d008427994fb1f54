"""Device colour transfer: engine.image.color.transfer_color's four modes (rct, lct, mkl, hist)
on a swapped crop in place, with its statistics taken on the device.

One pass gathers the masked statistics of both crops (sums in float64 atomics, histograms in
int32 atomics) and the box of mask > 0; one small copy brings them to the host, where the
transfer itself (Reinhard scale and offset, lct/mkl matrices, histogram lookup tables) is
computed by engine.image.color's own functions; one pass applies it over the box. The Lab
conversions are engine.image.lab's table maths, re-stated as device functions (the tables are
the same arrays) and held equal by tests/test_gpu_sim_kernels.py.
Crops uint8 (R, R, 3) BGR device arrays; masks float32 (R, R) in [0, 1].
"""

from __future__ import annotations

import math

import numpy as np
from numba import cuda
from swapstream.engine.gpu.launch import grid_2d
from swapstream.engine.image import color as cpu_color

f32 = np.float32
# Layout of the float64 statistics block: per crop (src, target) 3 sums, 6 products (upper
# triangle: bb bg br gg gr rr) and the count, for BGR (lct, mkl) or Lab (rct, squares only).
STATS_PER_CROP = 10
BOX_INIT = (1 << 30, 1 << 30, -1, -1)


@cuda.jit(device=True, inline=True)
def _index(t, n):
    return min(max(np.int32(t * n + f32(0.5)), 0), n)


@cuda.jit(device=True, inline=True)
def bgr_to_lab(b, g, r, linear, cube_root):
    """engine.image.lab.bgr_to_lab on the device (same tables, same float32 maths)."""
    lr = linear[r]
    lg = linear[g]
    lb = linear[b]
    x = f32(0.412453 / 0.950456) * lr + f32(0.357580 / 0.950456) * lg + f32(0.180423 / 0.950456) * lb
    y = f32(0.212671) * lr + f32(0.715160) * lg + f32(0.072169) * lb
    z = f32(0.019334 / 1.088754) * lr + f32(0.119193 / 1.088754) * lg + f32(0.950227 / 1.088754) * lb
    n = cube_root.shape[0] - 1
    fx = cube_root[_index(x, n)]
    fy = cube_root[_index(y, n)]
    fz = cube_root[_index(z, n)]
    lum = f32(116.0) * fy - f32(16.0) if y > f32(0.008856) else f32(903.3) * y
    return lum, f32(500.0) * (fx - fy), f32(200.0) * (fy - fz)


@cuda.jit(device=True, inline=True)
def _f_inverse(f):
    return f * f * f if f > f32(0.206893) else (f - f32(16.0 / 116.0)) * f32(1.0 / 7.787)


@cuda.jit(device=True, inline=True)
def lab_to_bgr(lum, a, b, encode):
    """engine.image.lab.lab_to_bgr on the device."""
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


@cuda.jit(device=True, inline=True)
def _add_bgr(stats, base, b, g, r):
    v = (b, g, r)
    for i in range(3):
        cuda.atomic.add(stats, base + i, v[i])
    cuda.atomic.add(stats, base + 3, b * b)
    cuda.atomic.add(stats, base + 4, b * g)
    cuda.atomic.add(stats, base + 5, b * r)
    cuda.atomic.add(stats, base + 6, g * g)
    cuda.atomic.add(stats, base + 7, g * r)
    cuda.atomic.add(stats, base + 8, r * r)
    cuda.atomic.add(stats, base + 9, 1.0)


@cuda.jit
def stats_kernel(src, target, mask, stats, hist, box, mode, cutoff, linear, cube_root):
    """Masked statistics of src and target where mask > cutoff, and the box of mask > 0.
    mode 0 rct: Lab sums and squares on even rows and columns (color.STATS_STEP 2, whose grid the
    recoloured box's origin keeps); 1 lct/mkl: BGR sums and products; 2 hist: int32 (2, 3, 256)."""
    x, y = cuda.grid(2)
    if y >= mask.shape[0] or x >= mask.shape[1]:
        return
    m = mask[y, x]
    if m > 0:
        cuda.atomic.min(box, 0, np.int32(x))
        cuda.atomic.min(box, 1, np.int32(y))
        cuda.atomic.max(box, 2, np.int32(x))
        cuda.atomic.max(box, 3, np.int32(y))
    if m <= cutoff:
        return
    for k in range(2):
        img = src if k == 0 else target
        b, g, r = img[y, x, 0], img[y, x, 1], img[y, x, 2]
        if mode == 2:
            cuda.atomic.add(hist, (k, 0, int(b)), np.int32(1))
            cuda.atomic.add(hist, (k, 1, int(g)), np.int32(1))
            cuda.atomic.add(hist, (k, 2, int(r)), np.int32(1))
        elif mode == 1:
            _add_bgr(stats, k * STATS_PER_CROP, float(b), float(g), float(r))
        elif y % 2 == 0 and x % 2 == 0:
            lum, a, bb = bgr_to_lab(b, g, r, linear, cube_root)
            base = k * STATS_PER_CROP
            cuda.atomic.add(stats, base + 0, float(lum))
            cuda.atomic.add(stats, base + 1, float(a))
            cuda.atomic.add(stats, base + 2, float(bb))
            cuda.atomic.add(stats, base + 3, float(lum) * float(lum))
            cuda.atomic.add(stats, base + 6, float(a) * float(a))
            cuda.atomic.add(stats, base + 8, float(bb) * float(bb))
            cuda.atomic.add(stats, base + 9, 1.0)


@cuda.jit
def apply_kernel(img, x0, y0, x1, y1, mode, params, luts, linear, cube_root, encode):
    """In place over the box [x0, x1) x [y0, y1): mode 0 rct (params: Lab scale[3], offset[3]),
    1 lct/mkl (params: row-major 3 x 3 matrix, offset[3]), 2 hist (luts uint8 (3, 256))."""
    x, y = cuda.grid(2)
    x += x0
    y += y0
    if y >= y1 or x >= x1:
        return
    b, g, r = img[y, x, 0], img[y, x, 1], img[y, x, 2]
    if mode == 2:
        img[y, x, 0], img[y, x, 1], img[y, x, 2] = luts[0, b], luts[1, g], luts[2, r]
    elif mode == 1:
        v = (float(b), float(g), float(r))
        for c in range(3):
            t = params[3 * c] * v[0] + params[3 * c + 1] * v[1] + params[3 * c + 2] * v[2] + params[9 + c] + 0.5
            img[y, x, c] = np.uint8(min(max(t, 0.0), 255.0))
    else:
        lum, a, bb = bgr_to_lab(b, g, r, linear, cube_root)
        lum = min(max(lum * f32(params[0]) + f32(params[3]), f32(0.0)), f32(100.0))
        a = min(max(a * f32(params[1]) + f32(params[4]), f32(-127.0)), f32(127.0))
        bb = min(max(bb * f32(params[2]) + f32(params[5]), f32(-127.0)), f32(127.0))
        img[y, x, 0], img[y, x, 1], img[y, x, 2] = lab_to_bgr(lum, a, bb, encode)


MODES = {"rct": 0, "lct": 1, "mkl": 1, "hist": 2}


class DeviceColor:
    """transfer_color on device crops of one size, with its statistics buffers allocated once.

    tables: engine.image.lab.LabTables on the device (linear, cube_root, encode)."""

    def __init__(self, tables, margin: float = cpu_color.DEFAULT_MARGIN):
        self.tables = tables
        self.margin = margin
        self.stats = cuda.device_array(2 * STATS_PER_CROP, np.float64)
        self.hist = cuda.device_array((2, 3, 256), np.int32)
        self.box = cuda.device_array(4, np.int32)
        self.params = cuda.device_array(12, np.float64)
        self.luts = cuda.device_array((3, 256), np.uint8)
        self._zeros = (np.zeros(2 * STATS_PER_CROP), np.zeros((2, 3, 256), np.int32), np.array(BOX_INIT, np.int32))

    def transfer(self, swapped, crop, mask, mode: str, stream) -> None:
        """In place: swapped (uint8 (R, R, 3) device) recoloured toward crop inside mask, as
        engine.image.color.transfer_color(swapped, crop, mask, mode) returns it. Waits for the stream once."""
        if mode == "none":
            return
        code = MODES[mode]
        stats, hist, box = self._zeros
        self.stats.copy_to_device(stats, stream=stream)
        self.hist.copy_to_device(hist, stream=stream)
        self.box.copy_to_device(box, stream=stream)
        t = self.tables
        blocks, threads = grid_2d(*mask.shape)
        stats_kernel[blocks, threads, stream](
            swapped, crop, mask, self.stats, self.hist, self.box, code, cpu_color.MASK_CUTOFF, t.linear, t.cube_root
        )
        sums = self.stats.copy_to_host(stream=stream)
        counts = self.hist.copy_to_host(stream=stream) if code == 2 else None
        found = self.box.copy_to_host(stream=stream)
        stream.synchronize()
        if found[2] < 0:
            return
        params, luts = _transfer_params(mode, sums, counts)
        if params is None and luts is None:
            return  # too few masked pixels: nothing recoloured
        x0, y0, x1, y1 = _region(found, mask.shape, self.margin)
        if luts is not None:
            self.luts.copy_to_device(luts, stream=stream)
        else:
            self.params.copy_to_device(params, stream=stream)
        blocks, threads = grid_2d(y1 - y0, x1 - x0)
        apply_kernel[blocks, threads, stream](
            swapped, x0, y0, x1, y1, code, self.params, self.luts, t.linear, t.cube_root, t.encode
        )


def _region(box: np.ndarray, shape: tuple[int, int], margin: float) -> tuple[int, int, int, int]:
    """engine.image.color._region from the box of mask > 0 (inclusive corners)."""
    step = cpu_color.STATS_STEP
    grow = math.ceil(margin * max(shape))
    x0, y0 = max(int(box[0]) - grow, 0) // step * step, max(int(box[1]) - grow, 0) // step * step
    return x0, y0, min(int(box[2]) + 1 + grow, shape[1]), min(int(box[3]) + 1 + grow, shape[0])


def _moments(sums: np.ndarray, k: int, lab: bool):
    """(count, mean (3,), std (3,) for lab / covariance (3, 3)) of crop k's statistics block."""
    s = sums[k * STATS_PER_CROP : (k + 1) * STATS_PER_CROP]
    n = int(s[9])
    mean = s[:3] / max(n, 1)
    if lab:
        squares = s[[3, 6, 8]] / max(n, 1)
        return n, mean, np.sqrt(np.maximum(squares - mean * mean, 0.0))
    p = s[3:9] / max(n, 1)
    upper = np.array([[p[0], p[1], p[2]], [p[1], p[3], p[4]], [p[2], p[4], p[5]]])
    return n, mean, upper - np.outer(mean, mean)


def _transfer_params(mode: str, sums: np.ndarray, counts: np.ndarray | None):
    """(params float64 (12,) or None, luts uint8 (3, 256) or None): the map engine.image.color computes."""
    if mode == "hist":
        hist_s, hist_t = counts[0].astype(np.int64), counts[1].astype(np.int64)
        if min(hist_s[0].sum(), hist_t[0].sum()) < cpu_color.MIN_PIXELS:
            return None, None
        return None, cpu_color.hist_luts(hist_s, hist_t)
    params = np.zeros(12)
    if mode == "rct":
        n_s, mean_s, std_s = _moments(sums, 0, lab=True)
        n_t, mean_t, std_t = _moments(sums, 1, lab=True)
        if min(n_s, n_t) * cpu_color.STATS_STEP**2 < cpu_color.MIN_PIXELS:
            return None, None
        scale = std_t / np.maximum(std_s, cpu_color.MIN_STD)
        params[:3], params[3:6] = scale, mean_t - mean_s * scale
        return params, None
    n_s, mean_s, cov_s = _moments(sums, 0, lab=False)
    n_t, mean_t, cov_t = _moments(sums, 1, lab=False)
    if min(n_s, n_t) < cpu_color.MIN_PIXELS:
        return None, None
    matrix = (cpu_color.lct_matrix if mode == "lct" else cpu_color.mkl_matrix)(cov_s, cov_t)
    params[:9], params[9:] = matrix.reshape(-1), mean_t - matrix @ mean_s
    return params, None
