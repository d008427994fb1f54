"""Feathering and pasting a face back into the frame (engine/image/blend.py) on real faces."""

from __future__ import annotations

import math

import cv2
import numpy as np
import pytest
from conftest import optional_media_frames
from swapstream.engine.face.align import alignment_matrix, transform_points, warp_face
from swapstream.engine.face.mask import hull_mask
from swapstream.engine.face.tracking import PhotoFaceFinder
from swapstream.engine.image import blend, detail, warmup
from swapstream.engine.image.detail import upscale_of

SIZE = 256


@pytest.fixture(scope="module")
def faces(astronaut_bgr, grace_hopper_bgr) -> list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]]:
    """(frame, matrix, aligned 'whole' crop, hull mask uint8) for real faces."""
    frames = [astronaut_bgr, grace_hopper_bgr]
    frames += optional_media_frames(("d18.mp4", 40))  # the two photos suffice without the shared clips
    finder = PhotoFaceFinder(max_faces=1)
    out = []
    try:
        for frame in frames:
            lm = finder.find(frame)[0].landmarks
            m = alignment_matrix(lm, "whole", SIZE)
            out.append((frame, m, warp_face(frame, m, SIZE), hull_mask(transform_points(lm, m), SIZE, "whole")))
    finally:
        finder.close()
    return out


def _support_in_frame(mask_crop: np.ndarray, m: np.ndarray, shape) -> np.ndarray:
    """bool (H, W): frame pixels whose bilinear sample can touch a crop pixel with mask > 0."""
    reach = cv2.dilate((mask_crop > 0).astype(np.uint8), np.ones((3, 3), np.uint8))
    warped = cv2.warpAffine(reach, m, (shape[1], shape[0]), flags=cv2.INTER_NEAREST | cv2.WARP_INVERSE_MAP)
    return cv2.dilate(warped, np.ones((3, 3), np.uint8)) > 0


def test_feather_mask_shape_of_the_edge(faces):
    for _frame, _m, _crop, mask in faces:
        soft = blend.feather_mask(mask, erode_px=10, blur_px=8)
        assert soft.dtype == np.float32
        assert soft.shape == mask.shape
        assert (soft[mask == 0] == 0).all()  # erode >= blur: the feather stays inside the mask
        depth = cv2.distanceTransform((mask > 127).astype(np.uint8), cv2.DIST_L2, 5)
        assert (soft[depth > 10 + 8 + 2] == 1.0).all()
        assert 0 < soft.mean() < (mask > 0).mean()
        np.testing.assert_allclose(soft, blend.feather_mask(mask.astype(np.float32) / 255, 10, 8), atol=1e-6)
        # Monotone across the edge: along rays from the face centre outward, never increasing.
        cy, cx = np.argwhere(depth == depth.max())[0]
        radii = np.arange(0, SIZE, 0.5, dtype=np.float32)
        for angle in np.linspace(0, 2 * np.pi, 24, endpoint=False):
            xs = (cx + radii * np.cos(angle)).astype(np.float32)[None]
            ys = (cy + radii * np.sin(angle)).astype(np.float32)[None]
            ray = cv2.remap(soft, xs, ys, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)[0]
            assert (np.diff(ray) <= 1e-3).all()


def test_feather_mask_fades_at_the_crop_border():
    full = np.full((64, 64), 255, np.uint8)
    soft = blend.feather_mask(full, erode_px=0, blur_px=6)
    assert soft[0].max() < 0.6
    assert soft[32, 32] == 1.0


def test_composite_kernel_matches_numpy_on_a_frame_view(faces):
    frame, m, crop, mask = faces[0]
    soft = blend.feather_mask(mask, 8, 8)
    roi = blend.face_roi(soft, m, frame.shape)
    face, alpha = blend.warp_to_roi(255 - crop, soft, m, roi)
    x0, y0, x1, y1 = roi
    a, b = frame.copy(), frame.copy()
    blend.composite(a[y0:y1, x0:x1], face, alpha)  # a strided view, as paste_face passes it
    blend.composite_numpy(b[y0:y1, x0:x1], face, alpha)
    assert np.abs(a.astype(int) - b).max() <= 1
    assert (a != frame).any()


@pytest.mark.parametrize("mode", blend.BLEND_MODES)
def test_paste_touches_only_the_warped_mask_support(faces, mode):
    for i, (frame, m, _crop, mask) in enumerate(faces):
        other = faces[(i + 1) % len(faces)][2]  # someone else's face: every pixel differs
        soft = blend.feather_mask(mask, 6, 6)
        out = frame.copy()
        x0, y0, x1, y1 = blend.paste_face(out, other, soft, m, mode=mode)
        changed = (out != frame).any(axis=-1)
        support = _support_in_frame(soft, m, frame.shape)
        assert not changed[~support].any()
        assert (
            changed.sum() > 0.5 * (cv2.warpAffine(soft, m, frame.shape[1::-1], flags=cv2.WARP_INVERSE_MAP) > 0.5).sum()
        )
        ys, xs = np.nonzero(changed)
        assert x0 <= xs.min() and xs.max() < x1 and y0 <= ys.min() and ys.max() < y1


def test_identity_round_trip_reproduces_the_face(faces):
    for frame, m, crop, mask in faces:
        out = frame.copy()
        blend.paste_face(out, crop, np.ones((SIZE, SIZE), np.float32), m)
        inner = cv2.erode(mask, np.ones((9, 9), np.uint8))
        face_px = cv2.warpAffine(inner, m, frame.shape[1::-1], flags=cv2.INTER_NEAREST | cv2.WARP_INVERSE_MAP) > 0
        diff = np.abs(out.astype(int) - frame)[face_px]
        # Two resamplings (frame -> crop bilinear, crop -> frame bicubic) soften fine detail: measured mean
        # 0.6-1.8 levels, 3.9 on the sharp Grace Hopper JPEG whose crop is 0.86x the face.
        assert np.median(diff) <= 3
        assert diff.mean() < 4.5
        # The ROI-only warp equals the same warp of the whole frame: no placement offset. OpenCV
        # rounds sample positions to 1/32 px relative to the output origin, so a few pixels on
        # sharp edges differ by a few levels.
        full = blend.bicubic_warp(crop, m, frame.shape[1::-1])
        off = np.abs(out.astype(int) - full)[face_px]
        assert off.mean() < 0.3
        assert off.max() <= 6


def test_face_outside_or_across_the_frame_border(faces):
    frame, m, crop, mask = faces[0]
    soft = blend.feather_mask(mask, 6, 6)
    gone = m.copy()
    gone[:, 2] += 5000  # frame->crop shifted: the face sits far outside the frame
    out = frame.copy()
    x0, _y0, x1, _y1 = blend.paste_face(out, crop, soft, gone)
    assert x0 == x1
    np.testing.assert_array_equal(out, frame)
    half = m.copy()
    cx = transform_points(np.array([[SIZE / 2, SIZE / 2]]), cv2.invertAffineTransform(m))[0, 0]
    half[:, 2] += m[:, 0] * cx  # face centre moved onto the frame's left edge
    out = frame.copy()
    x0, _y0, x1, _y1 = blend.paste_face(out, 255 - crop, soft, half)
    assert x0 == 0 and 0 < x1 < frame.shape[1]
    assert (out != frame).any()


def test_bad_arguments_raise(faces):
    frame, m, crop, mask = faces[0]
    soft = blend.feather_mask(mask, 6, 6)
    with pytest.raises(ValueError, match="blend mode"):
        blend.paste_face(frame.copy(), crop, soft, m, mode="multiply")
    with pytest.raises(ValueError, match="mask_crop"):
        blend.paste_face(frame.copy(), crop, soft[:100], m)


def test_warmup_and_gil_release():
    warmup()
    assert blend._composite_kernel.targetoptions["nogil"] is True
    assert len(blend._composite_kernel.signatures) >= 2  # contiguous and strided frame ROIs
    assert blend._composite_bgra_kernel.targetoptions["nogil"] is True
    assert len(blend._composite_bgra_kernel.signatures) >= 2


def test_composite_bgra_kernel_rounds_as_numpy_for_every_frame_level_and_alpha():
    """The kernel's shift-based rounding and its alpha 0 / 255 shortcuts, against the plain
    integer formula: every frame level x every alpha x 52 face levels (0, 5, ..., 255)."""
    f, a, s = np.meshgrid(np.arange(256), np.arange(256), np.arange(0, 256, 5), indexing="ij")
    frame = np.repeat(f.reshape(-1, 1, 1), 3, axis=2).astype(np.uint8).reshape(-1, 256, 3)
    face = np.stack([s, 255 - s, s, a], axis=-1).astype(np.uint8).reshape(-1, 256, 4)
    got, want = frame.copy(), frame.copy()
    blend.composite_bgra(got, face)
    blend.composite_bgra_numpy(want, face)
    np.testing.assert_array_equal(got, want)


def test_composite_bgra_kernel_matches_numpy_and_keeps_alpha_zero_exact(faces):
    frame, m, crop, mask = faces[0]
    soft = blend.feather_mask(mask, 8, 8)
    x0, y0, x1, y1 = roi = blend.face_roi(soft, m, frame.shape)
    bgra = cv2.merge((*cv2.split(255 - crop), cv2.convertScaleAbs(soft, alpha=255.0)))
    warped = cv2.warpAffine(bgra, blend._roi_matrix(m, roi), (x1 - x0, y1 - y0), flags=cv2.WARP_INVERSE_MAP)
    a, b = frame.copy(), frame.copy()
    blend.composite_bgra(a[y0:y1, x0:x1], warped)  # a strided view, as paste_face passes it
    blend.composite_bgra_numpy(b[y0:y1, x0:x1], warped)
    np.testing.assert_array_equal(a, b)
    untouched = np.zeros(frame.shape[:2], bool)
    untouched[y0:y1, x0:x1] = warped[..., 3] == 0
    np.testing.assert_array_equal(a[untouched], frame[untouched])
    assert (a != frame).any()


def test_octagon_erosion_lies_between_the_discs_of_its_radius(faces):
    for _frame, _m, _crop, mask in faces:
        depth = cv2.distanceTransform((mask > 0).astype(np.uint8), cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
        outside = cv2.distanceTransform((mask == 0).astype(np.uint8), cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
        for radius in (3, 8, 13):
            eroded = blend._octagon_morphology(mask, radius, erode=True) > 0
            assert eroded[depth > 1.09 * radius + 1].all()
            assert not eroded[depth < radius - 1].any()
            dilated = blend._octagon_morphology(mask, radius, erode=False) > 0
            assert dilated[(mask > 0) | (outside < radius - 1)].all()
            assert not dilated[outside > 1.09 * radius + 1].any()


def _fine_energy(image: np.ndarray, where: np.ndarray) -> float:
    """Mean squared Laplacian of the grey image inside `where` (the detail a soft face lacks)."""
    lap = cv2.Laplacian(cv2.cvtColor(image, cv2.COLOR_BGR2GRAY).astype(np.float32), cv2.CV_32F)
    return float((lap[where] ** 2).mean())


@pytest.mark.parametrize("crop", [48, 64])
def test_detail_brings_back_the_fine_detail_a_small_crop_cannot_hold(faces, crop):
    """A face pasted back from a small crop is soft; --detail restores the original's fine detail
    inside the face and changes nothing where the mask is 0."""
    warmup()
    for frame, m_big, _, hull in faces:
        scale = crop / SIZE
        m = m_big * scale  # the same alignment at a smaller crop: the face is upscaled when pasted
        small = warp_face(frame, m, crop)
        mask = blend.feather_mask(cv2.resize(hull, (crop, crop)).astype(np.float32) / 255, 2, 2)
        soft, sharp = frame.copy(), frame.copy()
        blend.paste_face(soft, small, mask, m)
        blend.paste_face(sharp, small, mask, m, detail=1.0)
        h, w = frame.shape[:2]
        inner = cv2.warpAffine(mask, cv2.invertAffineTransform(m), (w, h)) > 0.99
        inner = cv2.erode(inner.astype(np.uint8), np.ones((5, 5), np.uint8)) > 0
        original = _fine_energy(frame, inner)
        assert _fine_energy(soft, inner) < 0.5 * original, "the pasted small crop should be soft"
        assert _fine_energy(sharp, inner) > 0.8 * original, "detail should restore most of the fine detail"
        outside = cv2.warpAffine(mask, cv2.invertAffineTransform(m), (w, h)) == 0
        assert np.array_equal(sharp[outside], frame[outside])


@pytest.mark.parametrize("upscale", [0.8, 1.1, 1.4, 2.5, 4.5])
def test_bicubic_warp_equals_the_direct_bicubic_warp(faces, upscale):
    """Enlarging first (above STAGED_MIN_UPSCALE) and warping bilinearly gives the direct bicubic
    warp's pixels within a few grey levels, just as sharp, and 0 beyond the crop."""
    for frame, m_big, _, _ in faces:
        crop = round(SIZE * upscale_of(m_big) / upscale)  # the crop this face is enlarged `upscale` times from
        m = m_big * (crop / SIZE)
        assert upscale_of(m) == pytest.approx(upscale, rel=0.02)
        small = warp_face(frame, m, crop)
        size = frame.shape[1::-1]
        direct = cv2.warpAffine(small, m, size, flags=cv2.INTER_CUBIC | cv2.WARP_INVERSE_MAP)
        staged = blend.bicubic_warp(small, m, size)
        inside = cv2.warpAffine(np.ones((crop, crop), np.uint8), m, size, flags=cv2.WARP_INVERSE_MAP)
        reach = 2 * math.ceil(max(upscale, 1)) + 2  # frame px of the 4x4 taps at the crop's border
        inside = cv2.erode(inside, np.ones((2 * reach + 1, 2 * reach + 1), np.uint8)) > 0
        diff = np.abs(staged.astype(int) - direct)[inside]
        assert diff.mean() < 0.5 and diff.max() <= 10
        # The bilinear step softens the finest band a little: within 15% on the Laplacian
        # (0.67 vs 0.68 on eval's own sharpness measure: benchmarks/sharpness_ceiling.py).
        assert _fine_energy(staged, inside) > 0.85 * _fine_energy(direct, inside)
        outside = cv2.dilate(inside.astype(np.uint8), np.ones((3, 3), np.uint8), iterations=2 * reach) == 0
        assert not staged[outside].any()


def test_paste_from_an_enlarged_small_crop_touches_only_the_mask_support(faces):
    for i, (frame, m_big, _, hull) in enumerate(faces):
        m = m_big * (64 / SIZE)  # pasted 3-5x enlarged: the staged warp
        other = warp_face(faces[(i + 1) % len(faces)][0], faces[(i + 1) % len(faces)][1] * (64 / SIZE), 64)
        soft = blend.feather_mask(cv2.resize(hull, (64, 64)), 2, 2)
        out = frame.copy()
        blend.paste_face(out, 255 - other, soft, m, detail=1.0)
        changed = (out != frame).any(axis=-1)
        assert not changed[~_support_in_frame(soft, m, frame.shape)].any()
        assert (
            changed.sum() > 0.5 * (cv2.warpAffine(soft, m, frame.shape[1::-1], flags=cv2.WARP_INVERSE_MAP) > 0.5).sum()
        )


def test_restore_guessed_band_adds_only_what_the_model_left_out(faces):
    """A 128 px render holding only 64 px of detail (a depth-to-space decoder's soft guess) gets the
    driver's band between the two grids back; a render with its own band gets nothing on top."""
    for frame, m_big, _, hull in faces:
        driver = warp_face(frame, m_big * (128 / SIZE), 128)
        guessed = cv2.resize(warp_face(frame, m_big * (64 / SIZE), 64), (128, 128), interpolation=cv2.INTER_CUBIC)
        weight = cv2.resize(hull, (128, 128)).astype(np.float32) / 255
        inner = cv2.erode(hull, np.ones((9, 9), np.uint8))
        inner = cv2.resize(inner, (128, 128), interpolation=cv2.INTER_NEAREST) > 0
        restored = detail.restore_guessed_band(guessed, driver, weight, 2.0, 1.0)
        theirs = _fine_energy(driver, inner)
        assert _fine_energy(guessed, inner) < 0.6 * theirs
        assert 0.8 * theirs < _fine_energy(restored, inner) < 1.3 * theirs
        np.testing.assert_array_equal(restored[weight == 0], guessed[weight == 0])
        # The driver's own render (the band complete) and a sharper one are left as they are.
        assert detail.restore_guessed_band(driver, driver, weight, 2.0, 1.0) is driver
        sharper = cv2.addWeighted(driver, 1.5, cv2.GaussianBlur(driver, (0, 0), 1.0), -0.5, 0)
        assert detail.restore_guessed_band(sharper, driver, weight, 2.0, 1.0) is sharper


def test_composite_with_detail_equals_the_composite_then_the_detail(faces):
    """The one-pass paste with detail gives exactly the pixels of composite_bgra then add_detail."""
    for i, (frame, m_big, _, hull) in enumerate(faces):
        m = m_big * (64 / SIZE)
        soft = blend.feather_mask(cv2.resize(hull, (64, 64)), 2, 2)
        x0, y0, x1, y1 = roi = blend.face_roi(soft, m, frame.shape)
        other = warp_face(faces[(i + 1) % len(faces)][0], faces[(i + 1) % len(faces)][1] * (64 / SIZE), 64)
        warped = blend.warp_bgra(other, soft, blend._roi_matrix(m, roi), (x1 - x0, y1 - y0))
        detail_alpha = blend.warp_detail_alpha(soft * 0.7, blend._roi_matrix(m, roi), warped[:, :, 3])
        fused, stepwise = frame.copy(), frame.copy()
        source = detail.detail_source(frame[y0:y1, x0:x1], detail.upscale_of(m))
        detail.composite_with_detail(fused[y0:y1, x0:x1], warped, detail_alpha, source[1], 1.0)
        blend.composite_bgra(stepwise[y0:y1, x0:x1], warped)
        detail.add_detail(stepwise[y0:y1, x0:x1], source, detail_alpha, 1.0)
        np.testing.assert_array_equal(fused, stepwise)
        assert (fused != frame).any()


def test_which_warp_a_crop_pasted_near_its_size_takes():
    """The detail bank's 256 px crop lands about 1.1x on a 640x480 face: the staged warp (k = 3, 2.5x
    faster than the direct one, as sharp); a larger crop there would get only k = 2 from the side
    cap, which softens it (sharpness 0.83), so it keeps the direct warp; a shrunk crop always does."""
    assert blend.staged_factor(1.07, 256) == 3
    assert blend.staged_factor(1.1, 273) == 1
    assert blend.staged_factor(1.3, 273) == 2
    assert blend.staged_factor(0.95, 128) == 1
