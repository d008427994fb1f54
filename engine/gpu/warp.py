"""Device resampling: OpenCV's warpAffine (bilinear, bicubic; replicate or constant-0 border),
cv2.resize INTER_CUBIC and INTER_AREA, each computed with OpenCV's own fixed-point arithmetic so
the device gives the CPU path's pixels (tables.py).

Images are uint8 (H, W, C) device arrays, any C; matrices float64 (6,) destination pixel ->
source pixel (OpenCV's WARP_INVERSE_MAP convention: the CPU path inverts its frame->crop matrix
with cv2.invertAffineTransform where it does not pass WARP_INVERSE_MAP, and so does the caller).
"""

from __future__ import annotations

import math

import numpy as np
from numba import cuda

AB_SCALE = 1024  # OpenCV's warpAffine: coordinates in 1/1024 pixel, then 1/32 (INTER_BITS)
RESIZE_COEF_SCALE = 2048  # cv2.resize: weights in 1/2048 (INTER_RESIZE_COEF_BITS = 11)


@cuda.jit(device=True, inline=True)
def fixed_position(m, x, y):
    """(ix, iy, sub): the integer source pixel and 1/32 sub-position index (fy * 32 + fx) that
    OpenCV's warpAffine samples for destination pixel (x, y)."""
    x0 = round((m[1] * y + m[2]) * AB_SCALE) + 16
    y0 = round((m[4] * y + m[5]) * AB_SCALE) + 16
    sx = (x0 + round(m[0] * x * AB_SCALE)) >> 5
    sy = (y0 + round(m[3] * x * AB_SCALE)) >> 5
    return sx >> 5, sy >> 5, (sy & 31) * 32 + (sx & 31)


@cuda.jit(device=True, inline=True)
def warp_sample(src, ix, iy, sub, c, table, ksize, replicate):
    """One channel of OpenCV's remap at (ix, iy, sub): uint8-saturated int."""
    h, w = src.shape[0], src.shape[1]
    half = ksize // 2 - 1
    acc = 0
    for j in range(ksize):
        yy = iy - half + j
        inside_y = 0 <= yy < h
        if replicate:
            yy = min(max(yy, 0), h - 1)
        for i in range(ksize):
            xx = ix - half + i
            if replicate:
                xx = min(max(xx, 0), w - 1)
                acc += table[sub, j * ksize + i] * np.int32(src[yy, xx, c])
            elif inside_y and 0 <= xx < w:
                acc += table[sub, j * ksize + i] * np.int32(src[yy, xx, c])
    return min(max((acc + 16384) >> 15, 0), 255)


@cuda.jit
def warp_affine_kernel(src, dst, m, table, ksize, replicate):
    """dst = cv2.warpAffine(src, m, flags=WARP_INVERSE_MAP | (LINEAR: ksize 2, CUBIC: ksize 4),
    border replicate or constant 0)."""
    x, y = cuda.grid(2)
    if y >= dst.shape[0] or x >= dst.shape[1]:
        return
    ix, iy, sub = fixed_position(m, x, y)
    for c in range(dst.shape[2]):
        dst[y, x, c] = warp_sample(src, ix, iy, sub, c, table, ksize, replicate)


@cuda.jit(device=True, inline=True)
def cubic_weight(t, i):
    """OpenCV's interpolateCubic weight i (0..3) of sub-position t (float32), A = -0.75."""
    a = np.float32(-0.75)
    one = np.float32(1.0)
    c0 = ((a * (t + one) - np.float32(5.0) * a) * (t + one) + np.float32(8.0) * a) * (t + one) - np.float32(4.0) * a
    c1 = ((a + np.float32(2.0)) * t - (a + np.float32(3.0))) * t * t + one
    u = one - t
    c2 = ((a + np.float32(2.0)) * u - (a + np.float32(3.0))) * u * u + one
    if i == 0:
        return c0
    if i == 1:
        return c1
    if i == 2:
        return c2
    return one - c0 - c1 - c2


@cuda.jit(device=True, inline=True)
def resize_origin(d, scale):
    """(first source index, sub-position float32) of cv2.resize's cubic taps for destination index d."""
    f = np.float32((d + 0.5) * scale - 0.5)
    s = math.floor(f)
    return s, f - np.float32(s)


@cuda.jit(device=True, inline=True)
def resize_cubic_value(src, y, x, c, scale_y, scale_x):
    """Channel c of cv2.resize(src, INTER_CUBIC) at destination (x, y), for source pixels per
    destination pixel scale_x, scale_y (float64): fixed point in 1/2048, replicated border."""
    h, w = src.shape[0], src.shape[1]
    sy, fy = resize_origin(y, scale_y)
    sx, fx = resize_origin(x, scale_x)
    acc = 0
    for j in range(4):
        yy = min(max(sy - 1 + j, 0), h - 1)
        row = 0
        for i in range(4):
            xx = min(max(sx - 1 + i, 0), w - 1)
            row += round(cubic_weight(fx, i) * RESIZE_COEF_SCALE) * np.int32(src[yy, xx, c])
        acc += np.int64(round(cubic_weight(fy, j) * RESIZE_COEF_SCALE)) * row
    return min(max((acc + (1 << 21)) >> 22, 0), 255)


@cuda.jit
def resize_cubic_kernel(src, dst, scale_y, scale_x):
    """dst = cv2.resize(src, dst's size, interpolation=INTER_CUBIC); scale = source / destination size."""
    x, y = cuda.grid(2)
    if y >= dst.shape[0] or x >= dst.shape[1]:
        return
    for c in range(dst.shape[2]):
        dst[y, x, c] = resize_cubic_value(src, y, x, c, scale_y, scale_x)


@cuda.jit
def staged_warp_kernel(src, dst, m_big, k, table):
    """engine.image.blend.bicubic_warp's staged path in one pass: src enlarged k times by
    cv2.resize INTER_CUBIC (each needed pixel computed where it is read), then warpAffine bilinear
    with constant-0 border through m_big (destination -> enlarged source)."""
    x, y = cuda.grid(2)
    if y >= dst.shape[0] or x >= dst.shape[1]:
        return
    ix, iy, sub = fixed_position(m_big, x, y)
    side_y, side_x = src.shape[0] * k, src.shape[1] * k
    inv = 1.0 / k
    for c in range(dst.shape[2]):
        acc = 0
        for j in range(2):
            yy = iy + j
            for i in range(2):
                xx = ix + i
                if 0 <= yy < side_y and 0 <= xx < side_x:
                    acc += table[sub, j * 2 + i] * resize_cubic_value(src, yy, xx, c, inv, inv)
        dst[y, x, c] = min(max((acc + 16384) >> 15, 0), 255)


@cuda.jit(device=True, inline=True)
def area_span(d, scale, size):
    """cv2.resize INTER_AREA's source span of destination index d: (first whole, last, start, end, cell)."""
    f1 = d * scale
    f2 = f1 + scale
    cell = min(scale, size - f1)
    s1 = math.ceil(f1)
    s2 = min(math.floor(f2), size - 1)
    s1 = min(s1, s2)
    return s1, s2, f1, f2, cell


@cuda.jit(device=True, inline=True)
def area_weight(s, s1, s2, f1, f2, cell):
    """INTER_AREA's weight of source index s within the span (computeResizeAreaTab)."""
    if s == s1 - 1:
        return np.float32((s1 - f1) / cell) if s1 - f1 > 1e-3 else np.float32(0.0)
    if s1 <= s < s2:
        return np.float32(1.0 / cell)
    if s == s2:
        return np.float32(min(f2 - s2, 1.0, cell) / cell) if f2 - s2 > 1e-3 else np.float32(0.0)
    return np.float32(0.0)


@cuda.jit
def resize_area_kernel(src, dst, scale_y, scale_x, whole):
    """dst = cv2.resize(src, dst's size, interpolation=INTER_AREA), shrinking (scale >= 1).
    whole: the scales are the same integer n (OpenCV's fast path: the n x n mean, rounded; 2 x 2
    as (sum + 2) >> 2)."""
    x, y = cuda.grid(2)
    if y >= dst.shape[0] or x >= dst.shape[1]:
        return
    if whole:
        n = int(scale_x)
        for c in range(dst.shape[2]):
            total = 0
            for j in range(n):
                for i in range(n):
                    total += np.int32(src[y * n + j, x * n + i, c])
            if n == 2:
                dst[y, x, c] = (total + 2) >> 2
            else:
                dst[y, x, c] = min(round(np.float32(total) * np.float32(1.0 / (n * n))), 255)
        return
    y1, y2, fy1, fy2, celly = area_span(y, scale_y, src.shape[0])
    x1, x2, fx1, fx2, cellx = area_span(x, scale_x, src.shape[1])
    for c in range(dst.shape[2]):
        total = np.float32(0.0)
        for yy in range(y1 - 1, y2 + 1):
            wy = area_weight(yy, y1, y2, fy1, fy2, celly)
            if wy == 0 or yy < 0:
                continue
            row = np.float32(0.0)
            for xx in range(x1 - 1, x2 + 1):
                wx = area_weight(xx, x1, x2, fx1, fx2, cellx)
                if wx != 0 and xx >= 0:
                    row += wx * np.float32(src[yy, xx, c])
            total += wy * row
        dst[y, x, c] = min(max(round(total), 0), 255)
