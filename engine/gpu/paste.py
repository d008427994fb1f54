"""Device paste: engine.image.blend.paste_face (feather mode) and engine.image.detail's
--detail work, on a device frame, over the face's region of interest only.

The crop and its mask are merged into BGRA (alpha = round(255 mask)), resampled onto the ROI by
the staged or the direct bicubic warp (the same choice as blend.bicubic_warp), and composited
with integer alpha; with detail, the ROI's own band finer than the crop (the ROI minus its
INTER_AREA shrink enlarged back bicubically) is added in the same pass. Pixels whose warped
alpha is 0 are never written. restore_guessed_band's crop-level detail runs here too.
"""

from __future__ import annotations

import numpy as np
from numba import cuda
from swapstream.engine.gpu import warp
from swapstream.engine.gpu.launch import grid_2d
from swapstream.engine.gpu.mask import quantise_kernel
from swapstream.engine.gpu.tables import remap_table
from swapstream.engine.image import blend as cpu_blend
from swapstream.engine.image import detail as cpu_detail

f32 = np.float32


@cuda.jit
def merge_alpha_kernel(face, mask, out):
    """out (R, R, 4) = face's B, G, R and convertScaleAbs(mask, 255) as alpha."""
    x, y = cuda.grid(2)
    if y < out.shape[0] and x < out.shape[1]:
        for c in range(3):
            out[y, x, c] = face[y, x, c]
        out[y, x, 3] = min(round(abs(mask[y, x] * f32(255.0))), 255)


@cuda.jit
def box_kernel(mask, box):
    """box (int32 x0, y0, x1, y1 inclusive) of mask > 0, by atomics; box starts (big, big, -1, -1)."""
    x, y = cuda.grid(2)
    if y < mask.shape[0] and x < mask.shape[1] and mask[y, x] > 0:
        cuda.atomic.min(box, 0, np.int32(x))
        cuda.atomic.min(box, 1, np.int32(y))
        cuda.atomic.max(box, 2, np.int32(x))
        cuda.atomic.max(box, 3, np.int32(y))


@cuda.jit
def composite_kernel(frame, face, x0, y0):
    """engine.image.blend.composite_bgra on frame's ROI at (x0, y0)."""
    x, y = cuda.grid(2)
    if y >= face.shape[0] or x >= face.shape[1]:
        return
    a = np.int32(face[y, x, 3])
    if a == 0:
        return
    for c in range(3):
        f = np.int32(frame[y0 + y, x0 + x, c])
        frame[y0 + y, x0 + x, c] = (f * (255 - a) + np.int32(face[y, x, c]) * a + 127) // 255


@cuda.jit
def composite_detail_kernel(frame, face, detail_alpha, low, gain, x0, y0):
    """engine.image.detail.composite_with_detail on frame's ROI at (x0, y0)."""
    x, y = cuda.grid(2)
    if y >= face.shape[0] or x >= face.shape[1]:
        return
    a = np.int32(face[y, x, 3])
    if a == 0:
        return
    k = f32(detail_alpha[y, x]) * gain
    for c in range(3):
        f = np.int32(frame[y0 + y, x0 + x, c])
        pasted = (f * (255 - a) + np.int32(face[y, x, c]) * a + 127) // 255
        v = f32(pasted) + k * (f32(f) - f32(low[y, x, c]))
        frame[y0 + y, x0 + x, c] = np.uint8(min(max(v + f32(0.5), f32(0.0)), f32(255.0)))


@cuda.jit
def min_alpha_kernel(detail, face):
    """detail = min(detail, face's alpha) in place (warp_detail_alpha's cv2.min)."""
    x, y = cuda.grid(2)
    if y < detail.shape[0] and x < detail.shape[1]:
        detail[y, x] = min(detail[y, x], face[y, x, 3])


@cuda.jit
def band_energy_kernel(image, low, weight, energy, k):
    """energy[k] += sum over channels of ((image - low) ** 2 * weight) (restore_guessed_band)."""
    x, y = cuda.grid(2)
    if y >= image.shape[0] or x >= image.shape[1] or weight[y, x] == 0:
        return
    total = 0.0
    for c in range(3):
        d = f32(image[y, x, c]) - f32(low[y, x, c])
        total += float(d * d * weight[y, x])
    cuda.atomic.add(energy, k, total)


@cuda.jit
def add_band_kernel(swapped, driver, low, weight, gain):
    """swapped += (driver - low) * weight * gain, rounded and saturated (restore_guessed_band)."""
    x, y = cuda.grid(2)
    if y >= swapped.shape[0] or x >= swapped.shape[1]:
        return
    for c in range(3):
        v = f32(swapped[y, x, c]) + (f32(driver[y, x, c]) - f32(low[y, x, c])) * weight[y, x] * gain
        swapped[y, x, c] = np.uint8(min(max(round(v), 0), 255))


def _launch(kernel, shape, stream, *args) -> None:
    blocks, threads = grid_2d(shape[0], shape[1])
    kernel[blocks, threads, stream](*args)


def shrink_and_enlarge(src, small: tuple[int, int], dst, arena, name: str, stream) -> None:
    """dst = cv2.resize(cv2.resize(src, small, INTER_AREA), dst's size, INTER_CUBIC); small = (w, h)."""
    h, w = src.shape[:2]
    shrunk = arena.view(name, (small[1], small[0], src.shape[2]), np.uint8)
    sy, sx = 1.0 / (small[1] / h), 1.0 / (small[0] / w)  # OpenCV's 1 / inv_scale
    whole = sx == sy and sx == int(sx)
    _launch(warp.resize_area_kernel, shrunk.shape, stream, src, shrunk, sy, sx, whole)
    _launch(warp.resize_cubic_kernel, dst.shape, stream, shrunk, dst, 1.0 / (h / small[1]), 1.0 / (w / small[0]))


class DevicePaste:
    """paste_face on device frames, with the ROI-sized buffers in the frame's arena."""

    def __init__(self):
        self._remap = {k: cuda.to_device(remap_table(k)) for k in (2, 4)}
        self._energy = cuda.device_array(2, np.float64)
        self._energy_host = cuda.pinned_array(2, np.float64)
        self._box = cuda.device_array(4, np.int32)
        self._box_init = cuda.pinned_array(4, np.int32)
        self._box_init[:] = (1 << 30, 1 << 30, -1, -1)
        self._box_host = cuda.pinned_array(4, np.int32)

    def roi(self, mask, matrix: np.ndarray, frame_shape, stream) -> tuple[int, int, int, int]:
        """engine.image.blend.face_roi of a device mask (waits for the stream once)."""
        self._box.copy_to_device(self._box_init, stream=stream)
        _launch(box_kernel, mask.shape, stream, mask, self._box)
        self._box.copy_to_host(self._box_host, stream=stream)
        stream.synchronize()
        x0, y0, x1, y1 = (int(v) for v in self._box_host)
        box = (0, 0, 0, 0) if x1 < 0 else (x0, y0, x1 + 1, y1 + 1)
        return cpu_blend.roi_of_box(box, matrix, frame_shape)

    def paste(self, device, face, mask, matrix, detail: float, detail_mask, roi) -> None:
        """Enqueue paste_face(frame, face, mask, matrix, 'feather', detail, detail_mask) on the
        device frame `device` (engine.gpu.buffers.DeviceFrame) over `roi` (from `roi`)."""
        x0, y0, x1, y1 = roi
        if x1 == x0:
            return
        stream, arena, size = device.stream, device.arena, face.shape[0]
        h, w = y1 - y0, x1 - x0
        bgra = arena.view("bgra", (size, size, 4), np.uint8)
        _launch(merge_alpha_kernel, bgra.shape, stream, face, mask, bgra)
        warped = arena.view("warped", (h, w, 4), np.uint8)
        shifted = cpu_blend._roi_matrix(matrix, roi)
        upscale = cpu_detail.upscale_of(matrix)
        k = cpu_blend.staged_factor(upscale, size)
        if k < 2:
            m = self._matrix(arena, "m", shifted, stream)
            _launch(warp.warp_affine_kernel, warped.shape, stream, bgra, warped, m, self._remap[4], 4, False)
        else:
            onto_big = shifted * k
            onto_big[:, 2] += 0.5 * k - 0.5
            m = self._matrix(arena, "m", onto_big, stream)
            _launch(warp.staged_warp_kernel, warped.shape, stream, bgra, warped, m, k, self._remap[2])
        if detail <= 0 or upscale < cpu_detail.MIN_UPSCALE:
            _launch(composite_kernel, warped.shape, stream, device.frame, warped, x0, y0)
            return
        roi_frame = device.frame[y0:y1, x0:x1]
        low = arena.view("low", (h, w, 3), np.uint8)
        small = (max(1, round(w / upscale)), max(1, round(h / upscale)))  # detail.detail_source
        shrink_and_enlarge(roi_frame, small, low, arena, "small", stream)
        alpha = arena.view("detail_alpha", (h, w), np.uint8)
        if detail_mask is None:
            _launch(_alpha_of, alpha.shape, stream, warped, alpha)
        else:
            quantised = arena.view("detail_q", (size, size), np.uint8)
            _launch(quantise_kernel, quantised.shape, stream, detail_mask, quantised)
            m_lin = self._matrix(arena, "m_lin", shifted, stream)
            planes = (quantised.reshape((size, size, 1)), alpha.reshape((h, w, 1)))
            _launch(warp.warp_affine_kernel, alpha.shape, stream, *planes, m_lin, self._remap[2], 2, False)
            _launch(min_alpha_kernel, alpha.shape, stream, alpha, warped)
        gain = f32(detail / 255.0)
        _launch(composite_detail_kernel, warped.shape, stream, device.frame, warped, alpha, low, gain, x0, y0)

    def restore_band(self, device, swapped, driver, weight, cell: float, amount: float) -> None:
        """In place: engine.image.detail.restore_guessed_band(swapped, driver, weight, cell, amount)
        on device crops (uint8 (R, R, 3); weight float32 (R, R)). Waits for the stream once."""
        if cell <= 1 or amount <= 0:
            return
        stream, arena, size = device.stream, device.arena, swapped.shape[0]
        small = max(1, round(size / cell))
        lows = [arena.view(f"band{i}", (size, size, 3), np.uint8) for i in range(2)]
        self._energy.copy_to_device(np.zeros(2), stream=stream)
        for i, image in enumerate((swapped, driver)):
            shrink_and_enlarge(image, (small, small), lows[i], arena, f"band_small{i}", stream)
            _launch(band_energy_kernel, weight.shape, stream, image, lows[i], weight, self._energy, i)
        self._energy.copy_to_host(self._energy_host, stream=stream)
        stream.synchronize()
        e_own, e_theirs = (float(v) for v in self._energy_host)
        gain = amount * min(max(1.0 - e_own / e_theirs, 0.0), 1.0) if e_theirs > 0 else 0.0
        if gain > 0:
            _launch(add_band_kernel, weight.shape, stream, swapped, driver, lows[1], weight, f32(gain))

    @staticmethod
    def _matrix(arena, name: str, m: np.ndarray, stream):
        out = arena.view(name, (6,), np.float64)
        out.copy_to_device(np.ascontiguousarray(m, np.float64).reshape(-1), stream=stream)
        return out


@cuda.jit
def _alpha_of(face, alpha):
    x, y = cuda.grid(2)
    if y < alpha.shape[0] and x < alpha.shape[1]:
        alpha[y, x] = face[y, x, 3]
