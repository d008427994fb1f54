"""The blend's paste with the target's detail, fused (TargetDetail.sharpen_bgra + blend.paste_bgra:
band and packing in one kernel, warp and band only around the mask's support, a reused buffer)
against the path it replaces (TargetDetail.sharpen, then blend.paste_face from the enlarged crop)
on moving real faces: within one level, and every pixel outside the mask bit-exact."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from photo_fixtures import face_frames
from swapstream.engine.face.align import alignment_matrix, transform_points, warp_face
from swapstream.engine.face.mask import hull_mask, lips_mask
from swapstream.engine.face.neighbours import match_features
from swapstream.engine.face.pose import yaw_pitch_roll
from swapstream.engine.face.tracking import PhotoFaceFinder
from swapstream.engine.image import bands, blend, target_detail
from swapstream.engine.image.target_detail import DetailBank, TargetDetail

RES, GRID, BANK = 128, 64, 256


@pytest.fixture(scope="module")
def finder():
    f = PhotoFaceFinder(max_faces=1)
    yield f
    f.close()


@pytest.fixture(scope="module")
def bank(finder):
    """Three of Grace Hopper's frames aligned at 256 px: another person's faces, as a bank is."""
    greys, points, features = [], [], []
    for frame in face_frames("hopper", 3, first=20)[::1]:
        lm = finder.find(frame)[0].landmarks
        m = alignment_matrix(lm, "whole", BANK)
        pts = transform_points(lm, m)
        greys.append(cv2.cvtColor(warp_face(frame, m, BANK), cv2.COLOR_BGR2GRAY).astype(np.float32))
        points.append(pts[:, :2].astype(np.float32))
        features.append(match_features(pts, *yaw_pitch_roll(lm)[:2]))
    return DetailBank(None, "whole", BANK, np.stack(greys), np.stack(points), np.array(features))


def driving_faces(finder, scale: float):
    """(frame, landmarks, matrix, soft render, feathered mask, detail weight) of the astronaut's
    moving clip, the frame enlarged `scale` times (1: a 256 px crop pasted at about its size, the
    direct bicubic warp; 2.5: a close-up, the staged warp)."""
    for frame in face_frames("astronaut", 3, first=40)[::1]:
        frame = cv2.resize(frame, None, fx=scale, fy=scale, interpolation=cv2.INTER_CUBIC) if scale != 1 else frame
        lm = finder.find(frame)[0].landmarks
        m = alignment_matrix(lm, "whole", RES)
        pts = transform_points(lm, m)
        render = cv2.GaussianBlur(warp_face(frame, m, RES), (5, 5), 2)  # a soft model's render
        mask = blend.feather_mask(hull_mask(pts, RES, "whole"), 6, 6)
        yield frame, lm, m, render, mask, mask * (1 - lips_mask(pts, RES))


def reference_paste(target, frame, lm, m, render, mask, keep):
    """The path the fused one replaces: sharpen, then paste_face from the enlarged crop."""
    pts = transform_points(lm, m)
    big = target.sharpen(render, pts, keep, yaw_pitch_roll(lm)[:2], 1.0, 1)
    k = BANK / RES
    m_big = np.asarray(m, np.float64) * k
    m_big[:, 2] += 0.5 * k - 0.5
    out = frame.copy()
    blend.paste_face(out, big, cv2.resize(mask, (BANK, BANK), interpolation=cv2.INTER_LINEAR), m_big, "feather")
    return out, big, m_big


@pytest.mark.parametrize("scale", [1.0, 2.5])
def test_fused_bank_paste_matches_the_reference_within_one_level(finder, bank, scale):
    blend.warmup()
    target_detail.warmup()
    fused_target, reference_target = TargetDetail(bank, GRID), TargetDetail(bank, GRID)
    buffers = set()
    for frame, lm, m, render, mask, keep in driving_faces(finder, scale):
        want, big, m_big = reference_paste(reference_target, frame, lm, m, render, mask, keep)
        plain = cv2.resize(render, (BANK, BANK), interpolation=cv2.INTER_CUBIC)
        assert np.abs(big.astype(int) - plain).max() > 8, "the bank's band should sharpen the face"
        packed, support = fused_target.sharpen_bgra(
            render, transform_points(lm, m), keep, mask, yaw_pitch_roll(lm)[:2], 1.0, 1
        )
        buffers.add(id(packed))
        assert np.abs(packed[:, :, :3].astype(int) - big).max() <= 1
        got = frame.copy()
        roi = blend.paste_bgra(got, packed, m_big, support)
        diff = np.abs(got.astype(int) - want).max(axis=2)
        assert diff.max() <= 1 and (diff > 0).mean() < 0.01
        changed = (want != frame).any(axis=2)
        assert changed.sum() > 1000, "the face should be pasted"
        untouched = (got == frame).all(axis=2)
        assert untouched[~changed].mean() > 0.999
        x0, y0, x1, y1 = roi
        outside = np.ones(frame.shape[:2], bool)
        outside[y0:y1, x0:x1] = False
        assert np.array_equal(got[outside], frame[outside]), "nothing outside the face's ROI may change"
        warped_alpha = cv2.warpAffine(
            (mask > 0).astype(np.uint8), cv2.invertAffineTransform(m), frame.shape[1::-1], flags=cv2.INTER_LINEAR
        )
        away = cv2.dilate(warped_alpha, np.ones((5, 5), np.uint8)) == 0
        assert np.array_equal(got[away], frame[away]), "pixels outside the mask must stay bit-exact"
    assert len(buffers) == 1, "the packed crop's buffer should be reused frame to frame"


def test_warp_of_a_cut_crop_keeps_alpha_and_every_colour_it_shows(finder):
    """bicubic_warp(support=...) resamples only the crop around the alpha's support: the same alpha
    everywhere, the same colour wherever alpha > 0, on both the direct and the staged warp."""
    for scale in (1.0, 2.5):
        frame, _, m, render, mask, _ = next(driving_faces(finder, scale))
        for side in (RES, BANK):
            crop = cv2.resize(render, (side, side), interpolation=cv2.INTER_CUBIC)
            soft = cv2.resize(mask, (side, side), interpolation=cv2.INTER_LINEAR)
            k = side / RES
            ms = np.asarray(m, np.float64) * k
            ms[:, 2] += 0.5 * k - 0.5
            support = blend.support_box(soft)
            assert (support[2] - support[0]) * (support[3] - support[1]) < 0.8 * side * side
            roi = blend.roi_of_box(support, ms, frame.shape)
            rm, size = blend._roi_matrix(ms, roi), (roi[2] - roi[0], roi[3] - roi[1])
            whole = blend.warp_bgra(crop, soft, rm, size)
            cut = blend.warp_bgra(crop, soft, rm, size, support)
            assert np.array_equal(whole[:, :, 3], cut[:, :, 3])
            shown = whole[:, :, 3] > 0
            assert shown.mean() > 0.3 and np.array_equal(whole[shown], cut[shown])


def test_the_band_around_the_support_is_the_whole_crops(bank):
    """sharpen_bgra takes the band only in _band_box(support, cells): inside the support it must
    equal the band of the whole crop (the cell averages aligned, the enlargement's reach inside),
    for the finest band and the coarsest it adds (DETAIL_BAND_CELLS)."""
    target = TargetDetail(bank, GRID)
    image = bank.greys[0]
    for cells in (1.0, target_detail.DETAIL_BAND_CELLS):
        whole = bands.grid_band(image, target.cell * cells)
        for support in ((70, 50, 190, 221), (0, 3, 97, 256), (13, 0, 256, 129)):
            x0, y0, x1, y1 = target._band_box(support, cells)
            step = round(target.cell * cells)
            assert x0 % step == 0 and y0 % step == 0 and (x1 - x0) * (y1 - y0) < BANK * BANK
            cut = bands.grid_band(np.ascontiguousarray(image[y0:y1, x0:x1]), target.cell * cells)
            sx0, sy0, sx1, sy1 = support
            inside = cut[sy0 - y0 : sy1 - y0, sx0 - x0 : sx1 - x0]
            np.testing.assert_allclose(inside, whole[sy0:sy1, sx0:sx1], atol=1e-3)


def test_the_landmark_field_over_a_box_is_the_whole_fields_there():
    """landmark_maps(..., box) enlarges only the field's cells around the box: bit-exact with the
    whole field cut to the box, for any box (the bank face is remapped only where it is used)."""
    from swapstream.engine.face.neighbours import landmark_maps

    rng = np.random.default_rng(1)
    for size in (256, 128, 200):  # 200: not a multiple of the field's grid, the whole field is enlarged
        src = rng.uniform(0, size, (478, 2))
        dst = src + rng.normal(0, 3, (478, 2))
        whole = landmark_maps(src, dst, size)
        for _ in range(40):
            x0, y0 = rng.integers(0, size - 2, 2)
            x1, y1 = rng.integers(x0 + 1, size + 1), rng.integers(y0 + 1, size + 1)
            part = landmark_maps(src, dst, size, (x0, y0, x1, y1))
            for w, p in zip(whole, part, strict=True):
                np.testing.assert_array_equal(w[y0:y1, x0:x1], p)


def test_the_band_gain_restores_the_bank_faces_band_energy(astronaut_bgr):
    """Two unrelated textures' energies add: with the render holding half the bank face's band
    energy, amount 1 brings the sum to the bank face's energy (a gain of the lacking share itself,
    0.5, left it at 0.75 of it); a render as detailed as the bank face gets nothing."""
    grey = cv2.cvtColor(astronaut_bgr, cv2.COLOR_BGR2GRAY).astype(np.float32)
    theirs = bands.grid_band(grey[40:296, 120:376], 4.0)  # her face
    own = bands.grid_band(grey[256:512, 256:512], 4.0)  # her suit and the flag: another texture
    own *= np.sqrt(0.5 * np.sum(theirs**2) / np.sum(own**2))
    e_theirs, e_own = float(np.sum(theirs**2)), float(np.sum(own**2))
    assert abs(float(np.corrcoef(theirs.ravel(), own.ravel())[0, 1])) < 0.05
    gain = bands.band_gain(1.0, e_own, e_theirs)
    assert float(np.sum((own + gain * theirs) ** 2)) == pytest.approx(e_theirs, rel=0.05)
    assert bands.band_gain(0.5, e_own, e_theirs) == pytest.approx(0.5 * gain)
    assert bands.band_gain(1.0, e_theirs, e_theirs) == 0.0
    assert bands.band_gain(1.0, 1.0, 0.0) == 0.0


def test_each_octave_of_the_band_is_matched_on_its_own(astronaut_bgr):
    """matched_band: a render whose coarser octave (one to two grid cells) is stronger than the
    bank face's, with little finer, gets the bank face's finer octave almost whole and hardly
    any of its coarser. One gain over both octaves would have added under 0.8 of the finer."""
    grey = cv2.cvtColor(astronaut_bgr, cv2.COLOR_BGR2GRAY).astype(np.float32)
    bank_face = np.ascontiguousarray(grey[40:296, 120:376])  # her face
    other = np.ascontiguousarray(grey[256:512, 256:512])  # her suit and the flag: another texture
    cell, coarse = 4.0, 4.0 * target_detail.DETAIL_BAND_CELLS
    inner = (slice(16, -16), slice(16, -16))  # away from the crop's replicated edge

    def octaves(image):
        fine = bands.grid_band(image, cell)
        return fine, bands.grid_band(image, coarse) - fine

    def energy(band):
        return float(np.sum(band[inner] ** 2))

    bank_fine, bank_mid = octaves(bank_face)
    other_mid = octaves(other)[1]
    strong_mid = other_mid * 1.5 * np.sqrt(energy(bank_mid) / energy(other_mid))
    render = bank_face - bands.grid_band(bank_face, coarse) + strong_mid
    own_fine, own_mid = (energy(b) for b in octaves(render))
    assert own_fine < 0.3 * energy(bank_fine) and own_mid > energy(bank_mid)
    got_fine, got_mid = octaves(
        bands.matched_band(bank_face, render, np.ones_like(bank_face), cell, target_detail.DETAIL_BAND_CELLS, 1.0)
    )
    assert energy(got_fine) > 0.75 * energy(bank_fine) and energy(got_mid) < 0.1 * energy(bank_mid)
    one_gain = bands.band_gain(1.0, own_fine + own_mid, energy(bank_fine) + energy(bank_mid))
    assert one_gain**2 < 0.65
