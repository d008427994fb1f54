"""Each device kernel of engine/gpu against its CPU twin, under Numba's CUDA simulator.

Run by tests/test_gpu_sim.py in a subprocess with NUMBA_ENABLE_CUDASIM=1 (the variable must be
set before numba is imported). Real faces (the public-domain astronaut and Grace Hopper) at small
crop sizes: the simulator runs each CUDA thread in Python.
"""

from __future__ import annotations

import os

import cv2
import numpy as np
import pytest

if os.environ.get("NUMBA_ENABLE_CUDASIM") != "1":
    pytest.skip("runs under Numba's CUDA simulator only (tests/test_gpu_sim.py)", allow_module_level=True)

from numba import cuda
from swapstream.engine.face.align import alignment_matrix, invert, transform_points, warp_face
from swapstream.engine.face.mask import hull_mask, lips_mask
from swapstream.engine.face.tracking import PhotoFaceFinder
from swapstream.engine.gpu import mask as gpu_mask
from swapstream.engine.gpu import tables, warp
from swapstream.engine.gpu.buffers import FramePool
from swapstream.engine.gpu.color import DeviceColor
from swapstream.engine.gpu.launch import grid_2d
from swapstream.engine.gpu.paste import DevicePaste
from swapstream.engine.gpu.steady import DeviceSteady
from swapstream.engine.image import blend, color, detail, lab, steady

R = 24


def _levels(a: np.ndarray, b: np.ndarray) -> int:
    return int(np.abs(a.astype(np.int32) - b.astype(np.int32)).max())


def _launch(kernel, shape, *args) -> None:
    blocks, threads = grid_2d(shape[0], shape[1])
    kernel[blocks, threads](*args)


@pytest.fixture(scope="module")
def faces(astronaut_bgr, grace_hopper_bgr):
    """Per photo: (frame 140 px wide, landmarks in it, 'whole' matrix at R, crop, hull uint8)."""
    finder = PhotoFaceFinder(max_faces=1)
    out = []
    try:
        for photo in (astronaut_bgr, grace_hopper_bgr):
            frame = cv2.resize(photo, (140, round(140 * photo.shape[0] / photo.shape[1])), interpolation=cv2.INTER_AREA)
            lm = finder.find(frame)[0].landmarks
            m = alignment_matrix(lm, "whole", R)
            out.append((frame, lm, m, warp_face(frame, m, R), hull_mask(transform_points(lm, m), R, "whole")))
    finally:
        finder.close()
    return out


def test_align_warp_is_warp_face_bit_for_bit(faces):
    for frame, _, m, crop, _ in faces:
        out = cuda.device_array((R, R, 3), np.uint8)
        table = cuda.to_device(tables.remap_table(2))
        inverse = cuda.to_device(invert(m).reshape(-1))
        _launch(warp.warp_affine_kernel, (R, R), cuda.to_device(frame), out, inverse, table, 2, True)
        assert _levels(out.copy_to_host(), crop) == 0


def test_resizes_match_opencv(faces):
    crop = faces[0][3]
    for size in (12, 10):  # the model input of a depth-to-space model (2x: OpenCV's fast path), and any
        out = cuda.device_array((size, size, 3), np.uint8)
        s = R / size
        _launch(warp.resize_area_kernel, (size, size), cuda.to_device(crop), out, s, s, s == int(s))
        assert _levels(out.copy_to_host(), cv2.resize(crop, (size, size), interpolation=cv2.INTER_AREA)) == 0
    small = cv2.resize(crop, (10, 10), interpolation=cv2.INTER_AREA)
    out = cuda.device_array((R, R, 3), np.uint8)
    _launch(warp.resize_cubic_kernel, (R, R), cuda.to_device(small), out, 10 / R, 10 / R)
    assert _levels(out.copy_to_host(), cv2.resize(small, (R, R), interpolation=cv2.INTER_CUBIC)) <= 1


def test_both_bicubic_warps_match_bicubic_warp(faces):
    """bicubic_warp's direct path (a shrunk crop) and its staged path (enlarge k x, then bilinear)."""
    bgra = cv2.merge((*cv2.split(faces[0][3]), faces[0][4]))
    small = np.ascontiguousarray(bgra[6:18, 6:18])
    for upscale, size in ((0.9, 10), (2.6, 16)):
        m = np.array([[np.cos(0.2), -np.sin(0.2), 1.5], [np.sin(0.2), np.cos(0.2), -0.5]]) / upscale
        ref = blend.bicubic_warp(small, m, (size, size))
        out = cuda.device_array((size, size, 4), np.uint8)
        k = min(int(np.ceil(2 * detail.upscale_of(m))), blend.STAGED_MAX_SIDE // small.shape[0])
        if upscale < blend.STAGED_MIN_UPSCALE:
            args = (cuda.to_device(m.reshape(-1)), cuda.to_device(tables.remap_table(4)), 4, False)
            _launch(warp.warp_affine_kernel, (size, size), cuda.to_device(small), out, *args)
        else:
            big = m * k
            big[:, 2] += 0.5 * k - 0.5
            args = (cuda.to_device(big.reshape(-1)), k, cuda.to_device(tables.remap_table(2)))
            _launch(warp.staged_warp_kernel, (size, size), cuda.to_device(small), out, *args)
        assert _levels(out.copy_to_host(), ref) <= 1


@pytest.mark.parametrize(("erode", "blur"), [(2, 2), (-1, 1), (0, 2)])
def test_feather_matches_feather_mask(faces, erode, blur):
    hull = faces[1][4]
    ref = blend.feather_mask(hull.astype(np.float32) / 255, erode, blur)
    mask = cuda.to_device(hull.astype(np.float32) / 255)
    scratch = (cuda.device_array((R, R), np.uint8), cuda.device_array((R, R), np.uint8))
    stream = cuda.stream()
    taps = cuda.to_device(tables.gaussian_taps(blur)) if blur else None
    gpu_mask.feather(mask, erode, taps, scratch, cuda.device_array((R, R), np.float32), stream)
    out = mask.copy_to_host()
    assert np.abs(out - ref).max() < 1e-5 and np.array_equal(out > 0, ref > 0)


@pytest.mark.parametrize("mode", ["rct", "lct", "mkl", "hist"])
def test_colour_transfer_matches_transfer_color(faces, mode):
    (_, _, _, src, _), (_, _, _, target, hull) = faces
    mask = blend.feather_mask(hull, 1, 1)
    ref = color.transfer_color(src, target, mask, mode)
    tables_ = lab.LabTables(*(cuda.to_device(a) for a in lab.lab_tables()))
    out = cuda.to_device(src)
    DeviceColor(tables_).transfer(out, cuda.to_device(target), cuda.to_device(mask), mode, cuda.stream())
    assert (ref != src).any() and _levels(out.copy_to_host(), ref) <= 1


def test_steady_matches_steady_face(faces):
    """Three frames of one track: the driver's crop moving a pixel a frame, the model's faces jittering."""
    frame, _, m, _, hull = faces[0]
    other = faces[1][3]
    cpu_state = dev_state = None
    dev = DeviceSteady(R)
    stream = cuda.stream()
    for t in range(3):
        shift = m.copy()
        shift[:, 2] += (t, 0.5 * t)
        crop = warp_face(frame, shift, R)
        face = np.clip(other.astype(np.int16) + 3 * t - 4, 0, 255).astype(np.uint8)
        mask = blend.feather_mask(hull, 1, 1)
        cpu_face, cpu_mask = face.copy(), mask.copy()
        cpu_state = steady.steady_face(cpu_state, crop, hull, cpu_face, cpu_mask, 0.9)
        dev_face, dev_mask = cuda.to_device(face), cuda.to_device(mask)
        dev_state = dev.step(dev_state, cuda.to_device(crop), cuda.to_device(hull), dev_face, dev_mask, 0.9, stream)
        assert _levels(dev_face.copy_to_host(), cpu_face) <= 1
        assert np.abs(dev_mask.copy_to_host() - cpu_mask).max() < 1e-5
    assert (cpu_face != face).any()  # the budget did hold the model's step back


def test_paste_with_detail_matches_paste_face(faces):
    (frame, lm, m, _, hull), other = faces[0], faces[1][3]
    mask = blend.feather_mask(hull, 1, 1)
    keep = mask * (1.0 - lips_mask(transform_points(lm, m), R))
    assert detail.upscale_of(m) > detail.MIN_UPSCALE  # the detail band is really added
    pool, paste = FramePool(1), DevicePaste()
    for amount, detail_mask in ((0.0, None), (1.0, keep)):
        ref = frame.copy()
        roi = blend.paste_face(ref, other, mask, m, "feather", amount, detail_mask)
        dev = pool.acquire(frame.shape)
        dev.frame.copy_to_device(frame)
        dev_mask = cuda.to_device(mask)
        assert paste.roi(dev_mask, m, frame.shape, dev.stream) == roi
        dm = None if detail_mask is None else cuda.to_device(detail_mask.astype(np.float32))
        paste.paste(dev, cuda.to_device(other), dev_mask, m, amount, dm, roi)
        assert _levels(dev.frame.copy_to_host(), ref) <= 1
        pool.release(dev)


def test_restore_band_matches_restore_guessed_band(faces):
    (_, _, _, driver, hull), swapped = faces[0], faces[1][3]
    soft = cv2.GaussianBlur(swapped, (5, 5), 1.5)  # a model's soft render: the band is missing
    weight = blend.feather_mask(hull, 1, 1)
    ref = detail.restore_guessed_band(soft, driver, weight, 2.0, 1.0)
    dev = FramePool(1).acquire((8, 8, 3))
    out = cuda.to_device(soft)
    DevicePaste().restore_band(dev, out, cuda.to_device(driver), cuda.to_device(weight), 2.0, 1.0)
    assert (ref != soft).any() and _levels(out.copy_to_host(), ref) <= 1


def test_mask_sources_and_keep_out(faces):
    hull = faces[0][4]
    model_mask = cv2.GaussianBlur(hull.astype(np.float32) / 255, (7, 7), 2) * np.float32(0.9)
    hull_f = hull.astype(np.float32) * np.float32(1 / 255)
    for name, ref in (("both", np.minimum(model_mask, hull_f)), ("model", model_mask), ("hull", hull_f)):
        out = cuda.device_array((R, R), np.float32)
        args = (cuda.to_device(model_mask), cuda.to_device(hull), out, gpu_mask.MASK_SOURCES[name])
        _launch(gpu_mask.mask_source_kernel, (R, R), *args)
        assert np.array_equal(out.copy_to_host(), ref)
    mouth = lips_mask(transform_points(faces[0][1], faces[0][2]), R)
    out = cuda.device_array((R, R), np.float32)
    _launch(gpu_mask.keep_out_kernel, (R, R), cuda.to_device(model_mask), cuda.to_device(mouth), out)
    assert np.abs(out.copy_to_host() - model_mask * (1.0 - mouth)).max() < 1e-6


@pytest.mark.parametrize("layout", ["NCHW", "NHWC"])
def test_io_binding_conversions_match_the_host_ones(faces, layout):
    """The kernels around IO binding give SwapModel's host conversions (a float RGB model in [-1, 1])."""
    from types import SimpleNamespace

    from swapstream.engine.runtime import device_io
    from swapstream.engine.runtime import swap_model as model
    from swapstream.engine.runtime.contract import TensorSpec

    spec = TensorSpec("x", layout=layout, dtype="float32", channels="RGB", range=(-1.0, 1.0))
    mask_spec = TensorSpec("m", layout=layout, dtype="float32", channels="A", range=(0.0, 1.0))
    contract = SimpleNamespace(input=spec, face_output=spec, mask_output=mask_spec)
    crops = np.stack([f[3] for f in faces])
    tensor = cuda.device_array(model._to_model_input(crops, spec).shape, np.float32)
    blocks, threads = device_io._grid(len(crops), R)
    device_io.to_model_kernel[blocks, threads](cuda.to_device(crops), tensor, *device_io.input_conversion(contract))
    assert np.abs(tensor.copy_to_host() - model._to_model_input(crops, spec)).max() < 1e-6
    y = tensor.copy_to_host() * np.float32(0.9)  # a model output in the model's range
    m = (y[:, :1] if layout == "NCHW" else y[..., :1]) * np.float32(0.5) + np.float32(0.5)
    faces_out, masks_out = cuda.device_array(crops.shape, np.uint8), cuda.device_array(crops.shape[:3], np.float32)
    args = (cuda.to_device(y), cuda.to_device(m), cuda.device_array((0, 1, 1, 1), np.float32), faces_out, masks_out)
    device_io.from_model_kernel[blocks, threads](*args, *device_io.output_conversion(contract))
    assert _levels(faces_out.copy_to_host(), model._face_to_bgr_uint8(y, spec)) == 0
    assert np.abs(masks_out.copy_to_host() - model._mask_to_unit(m, mask_spec)).max() < 1e-6


def test_colour_strength_mix_matches_add_weighted(faces):
    """color_strength on the device: the transferred face mixed with the model's, as cv2.addWeighted."""
    (_, _, _, src, _), (_, _, _, target, _) = faces
    for strength in (0.25, 0.6):
        ref = cv2.addWeighted(target, strength, src, 1 - strength, 0)
        out = cuda.to_device(target)
        _launch(gpu_mask.mix_kernel, (R, R), out, cuda.to_device(src), np.float32(strength))
        assert _levels(out.copy_to_host(), ref) <= 1
