"""Device mask work: engine.image.blend.feather_mask (erode/dilate by an octagon, Gaussian
feather, snap), the infer stage's mask sources, and the narrowing by --keep-mouth, occlusion and
the detail mask (products with a host-made float32 mask).

Masks are float32 (R, R) device arrays in [0, 1]; quantised masks uint8 (R, R). Each host
function enqueues on `stream` and allocates nothing: the caller passes its scratch buffers.
"""

from __future__ import annotations

import math

import numpy as np
from numba import cuda
from swapstream.engine.gpu.launch import grid_2d
from swapstream.engine.image.blend import ALPHA_SNAP


@cuda.jit
def quantise_kernel(mask, out):
    """out = cv2.convertScaleAbs(mask, alpha=255): round(|255 m|), saturated to uint8."""
    x, y = cuda.grid(2)
    if y < out.shape[0] and x < out.shape[1]:
        out[y, x] = min(round(abs(mask[y, x] * np.float32(255.0))), 255)


@cuda.jit
def morph_square_kernel(src, dst, half, erode, along_x):
    """One separable pass of cv2.erode/dilate by a (2 half + 1) square, border constant 0."""
    x, y = cuda.grid(2)
    h, w = src.shape[0], src.shape[1]
    if y >= h or x >= w:
        return
    best = 255 if erode else 0
    for d in range(-half, half + 1):
        yy, xx = (y, x + d) if along_x else (y + d, x)
        v = src[yy, xx] if 0 <= yy < h and 0 <= xx < w else 0
        best = min(best, v) if erode else max(best, v)
    dst[y, x] = best


@cuda.jit
def morph_cross_kernel(src, dst, erode):
    """One iteration of cv2.erode/dilate by the 3 x 3 cross, border constant 0."""
    x, y = cuda.grid(2)
    h, w = src.shape[0], src.shape[1]
    if y >= h or x >= w:
        return
    best = src[y, x]
    for dy, dx in ((-1, 0), (1, 0), (0, -1), (0, 1)):
        yy, xx = y + dy, x + dx
        v = src[yy, xx] if 0 <= yy < h and 0 <= xx < w else 0
        best = min(best, v) if erode else max(best, v)
    dst[y, x] = best


@cuda.jit
def to_unit_kernel(quantised, out):
    """out = quantised (uint8) * float32(1 / 255)."""
    x, y = cuda.grid(2)
    if y < out.shape[0] and x < out.shape[1]:
        out[y, x] = np.float32(quantised[y, x]) * np.float32(1.0 / 255.0)


@cuda.jit
def blur_pass_kernel(src, dst, taps, along_x, snap):
    """One pass of the separable Gaussian (cv2.GaussianBlur, border constant 0); snap: the last
    pass, which sets values < ALPHA_SNAP to 0 and > 1 - ALPHA_SNAP to 1 as feather_mask does."""
    x, y = cuda.grid(2)
    h, w = src.shape[0], src.shape[1]
    if y >= h or x >= w:
        return
    half = taps.shape[0] // 2
    total = np.float32(0.0)
    for d in range(-half, half + 1):
        yy, xx = (y, x + d) if along_x else (y + d, x)
        if 0 <= yy < h and 0 <= xx < w:
            total += taps[d + half] * src[yy, xx]
    if snap:
        total = snapped(total)
    dst[y, x] = total


@cuda.jit(device=True, inline=True)
def snapped(v):
    if v < np.float32(ALPHA_SNAP):
        return np.float32(0.0)
    if v > np.float32(1.0 - ALPHA_SNAP):
        return np.float32(1.0)
    return v


@cuda.jit
def snap_kernel(mask):
    x, y = cuda.grid(2)
    if y < mask.shape[0] and x < mask.shape[1]:
        mask[y, x] = snapped(mask[y, x])


@cuda.jit
def mask_source_kernel(model_mask, hull, out, source):
    """The infer stage's blend mask: source 0 'both' min(model, hull / 255), 1 'model', 2 'hull'."""
    x, y = cuda.grid(2)
    if y >= out.shape[0] or x >= out.shape[1]:
        return
    h = np.float32(hull[y, x]) * np.float32(1.0 / 255.0)
    m = model_mask[y, x]
    out[y, x] = min(m, h) if source == 0 else (m if source == 1 else h)


@cuda.jit
def mix_kernel(out, before, strength):
    """out = round(out * strength + before * (1 - strength)) per uint8 channel, in place: the
    colour stage's color_strength (cv2.addWeighted on the CPU path, within 1 level)."""
    x, y = cuda.grid(2)
    if y < out.shape[0] and x < out.shape[1]:
        for c in range(out.shape[2]):
            v = np.float32(out[y, x, c]) * strength + np.float32(before[y, x, c]) * (np.float32(1.0) - strength)
            out[y, x, c] = np.uint8(min(max(v + np.float32(0.5), np.float32(0.0)), np.float32(255.0)))


def mask_source(mask_use) -> int:
    """MASK_SOURCES' code of an engine.swap_knobs.MaskUse (occlusion is applied later, in blend)."""
    if mask_use.model and mask_use.hull:
        return MASK_SOURCES["both"]
    return MASK_SOURCES["model" if mask_use.model else "hull"]


@cuda.jit
def keep_out_kernel(mask, keep_out, out):
    """out = mask * (1 - keep_out): --keep-mouth, the detail mask without the lips."""
    x, y = cuda.grid(2)
    if y < out.shape[0] and x < out.shape[1]:
        out[y, x] = mask[y, x] * (np.float32(1.0) - keep_out[y, x])


@cuda.jit
def multiply_kernel(mask, factor):
    """mask *= factor in place (the occlusion model's visible share)."""
    x, y = cuda.grid(2)
    if y < mask.shape[0] and x < mask.shape[1]:
        mask[y, x] = mask[y, x] * factor[y, x]


MASK_SOURCES = {"both": 0, "model": 1, "hull": 2}


def feather(mask, erode_px: int, taps, scratch_u8, scratch_f32, stream) -> None:
    """In place on `mask` (float32 (R, R) device array): engine.image.blend.feather_mask(mask,
    erode_px, blur_px) with taps = tables.gaussian_taps(blur_px) on the device (None: blur_px 0).
    scratch_u8: two uint8 (R, R) device arrays; scratch_f32: one float32 (R, R)."""
    blocks, threads = grid_2d(*mask.shape)
    if erode_px:
        a, b = scratch_u8
        quantise_kernel[blocks, threads, stream](mask, a)
        radius, erode = abs(erode_px), erode_px > 0
        side = round((math.sqrt(2.0) - 1.0) * radius)  # engine.image.blend._octagon_morphology
        if side:
            morph_square_kernel[blocks, threads, stream](a, b, side, erode, True)
            morph_square_kernel[blocks, threads, stream](b, a, side, erode, False)
        for _ in range(radius - side):
            morph_cross_kernel[blocks, threads, stream](a, b, erode)
            a, b = b, a
        to_unit_kernel[blocks, threads, stream](a, mask)
    if taps is None:
        snap_kernel[blocks, threads, stream](mask)
        return
    blur_pass_kernel[blocks, threads, stream](mask, scratch_f32, taps, True, False)
    blur_pass_kernel[blocks, threads, stream](scratch_f32, mask, taps, False, True)
