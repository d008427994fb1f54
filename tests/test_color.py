"""Colour transfer kernels (engine/image/color.py) on real aligned face crops."""

from __future__ import annotations

from unittest import mock

import numpy as np
import pytest
from conftest import optional_media_frames
from swapstream.engine.face.align import alignment_matrix, transform_points, warp_face
from swapstream.engine.face.mask import hull_mask
from swapstream.engine.face.tracking import PhotoFaceFinder
from swapstream.engine.image import _jit, color

SIZE = 256


def _aligned(frame: np.ndarray, finder: PhotoFaceFinder) -> tuple[np.ndarray, np.ndarray]:
    face = finder.find(frame)[0]
    m = alignment_matrix(face.landmarks, "whole", SIZE)
    crop = warp_face(frame, m, SIZE)
    mask = hull_mask(transform_points(face.landmarks, m), SIZE, "whole").astype(np.float32) / 255
    return crop, mask


@pytest.fixture(scope="module")
def crops(astronaut_bgr, grace_hopper_bgr) -> list[tuple[np.ndarray, np.ndarray]]:
    """Aligned 'whole' 256 px crops (uint8 BGR) and hull masks (float32 0/1) of real faces."""
    finder = PhotoFaceFinder(max_faces=1)
    frames = [astronaut_bgr, grace_hopper_bgr]
    frames += optional_media_frames(("d18.mp4", 40), ("d9.mp4", 100))  # extras when the shared clips exist
    try:
        return [_aligned(f, finder) for f in frames]
    finally:
        finder.close()


def _pairs(crops):
    """(src, target, mask): each face recoloured toward the next one, the target's mask."""
    return [(crops[i][0], crops[(i + 1) % len(crops)][0], crops[(i + 1) % len(crops)][1]) for i in range(len(crops))]


def test_lab_moments_match_reference(crops):
    for crop, mask in crops:
        n, mean, std = color.lab_moments(crop, mask)
        n_ref, mean_ref, std_ref = color.lab_moments_numpy(crop, mask)
        assert n == n_ref > 1000
        np.testing.assert_allclose(mean, mean_ref, atol=0.02)
        np.testing.assert_allclose(std, std_ref, atol=0.02)


def test_lab_affine_within_one_level_of_reference(crops):
    scale, offset = np.array([1.15, 0.8, 1.3]), np.array([-6.0, 4.0, -3.0])
    for crop, _mask in crops:
        diff = np.abs(color.lab_affine(crop, scale, offset).astype(int) - color.lab_affine_numpy(crop, scale, offset))
        assert diff.max() <= 1
        assert (diff > 0).mean() < 0.35


def test_bgr_kernels_match_numpy(crops):
    for src, target, mask in _pairs(crops):
        n, mean, cov = color.masked_moments(src, mask)
        n_ref, mean_ref, cov_ref = color.masked_moments_numpy(src, mask)
        assert n == n_ref
        np.testing.assert_allclose(mean, mean_ref, rtol=1e-9)
        np.testing.assert_allclose(cov, cov_ref, rtol=1e-6, atol=1e-6)
        matrix = color.lct_matrix(cov, color.masked_moments(target, mask)[2])
        offset = np.array([5.0, -3.0, 2.0])
        diff = np.abs(color.affine_bgr(src, matrix, offset).astype(int) - color.affine_bgr_numpy(src, matrix, offset))
        assert diff.max() <= 1
        hist = color.masked_histograms(src, mask)
        np.testing.assert_array_equal(hist, color.masked_histograms_numpy(src, mask))
        luts = color.hist_luts(hist, color.masked_histograms(target, mask))
        np.testing.assert_array_equal(color.apply_luts(src, luts), color.apply_luts_numpy(src, luts))


@pytest.mark.parametrize("mode", ["lct", "mkl", "hist"])
def test_transfer_color_matches_reference(crops, mode):
    for src, target, mask in _pairs(crops):
        diff = np.abs(
            color.transfer_color(src, target, mask, mode).astype(int)
            - color.transfer_color_numpy(src, target, mask, mode)
        )
        assert diff.max() <= 1


def test_rct_matches_reference_closely(crops):
    # The statistics come from two Lab implementations (0.1 L apart), so allow 2 levels.
    for src, target, mask in _pairs(crops):
        diff = np.abs(
            color.transfer_color(src, target, mask, "rct").astype(int)
            - color.transfer_color_numpy(src, target, mask, "rct")
        )
        assert diff.max() <= 2
        assert diff.mean() < 0.3


def test_rct_moves_lab_statistics_to_target(crops):
    for src, target, mask in _pairs(crops):
        _, mean_t, std_t = color.lab_moments_numpy(target, mask)
        _, mean_s, _std_s = color.lab_moments_numpy(src, mask)
        _, mean_o, std_o = color.lab_moments_numpy(color.transfer_color(src, target, mask, "rct"), mask)
        # Out-of-gamut colours are clipped on the way back to BGR, so the match is not exact.
        err_o, err_s = np.abs(mean_o - mean_t).max(), np.abs(mean_s - mean_t).max()
        assert err_o < 3.0
        assert err_o < 0.2 * err_s
        np.testing.assert_allclose(std_o, std_t, rtol=0.15, atol=0.5)


@pytest.mark.parametrize("mode", ["lct", "mkl"])
def test_linear_modes_match_mean_and_covariance(crops, mode):
    for src, target, mask in _pairs(crops):
        out = color.transfer_color(src, target, mask, mode)
        _, mean_t, cov_t = color.masked_moments_numpy(target, mask)
        _, mean_o, cov_o = color.masked_moments_numpy(out, mask)
        _, mean_s, cov_s = color.masked_moments_numpy(src, mask)
        # Clipping to [0, 255] (up to ~5% of the face on these pairs) moves the statistics a little.
        err_o, err_s = np.abs(mean_o - mean_t).max(), np.abs(mean_s - mean_t).max()
        assert err_o < 3.0
        assert err_o < 0.2 * err_s
        cov_err_o = np.linalg.norm(cov_o - cov_t) / np.linalg.norm(cov_t)
        cov_err_s = np.linalg.norm(cov_s - cov_t) / np.linalg.norm(cov_t)
        assert cov_err_o < 0.3
        assert cov_err_o < 0.5 * cov_err_s


def test_hist_matches_masked_distributions(crops):
    for src, target, mask in _pairs(crops):
        out = color.transfer_color(src, target, mask, "hist")
        for c in range(3):
            cdf_o = np.cumsum(color.masked_histograms_numpy(out, mask)[c]) / (mask > 0.5).sum()
            cdf_t = np.cumsum(color.masked_histograms_numpy(target, mask)[c]) / (mask > 0.5).sum()
            cdf_s = np.cumsum(color.masked_histograms_numpy(src, mask)[c]) / (mask > 0.5).sum()
            assert np.abs(cdf_o - cdf_t).max() < 0.05 < np.abs(cdf_s - cdf_t).max()


def test_none_and_tiny_masks_return_src(crops):
    (src, mask), (target, _) = crops[0], crops[1]
    assert color.transfer_color(src, target, mask, "none") is src
    tiny = np.zeros_like(mask)
    tiny[100:104, 100:104] = 1.0
    for mode in color.COLOR_MODES:
        np.testing.assert_array_equal(color.transfer_color(src, target, tiny, mode), src)


def test_uint8_mask_accepted_and_bad_input_rejected(crops):
    (src, mask), (target, _) = crops[0], crops[1]
    as_uint8 = (mask * 255).astype(np.uint8)
    np.testing.assert_array_equal(
        color.transfer_color(src, target, as_uint8, "rct"), color.transfer_color(src, target, mask, "rct")
    )
    with pytest.raises(ValueError, match="unknown colour mode"):
        color.transfer_color(src, target, mask, "sepia")
    with pytest.raises(ValueError, match="target must be"):
        color.transfer_color(src, target[:128], mask, "rct")


def test_kernels_release_the_gil():
    kernels = [color._lab_moments_kernel, color._lab_affine_kernel, color._moments_kernel, color._affine_kernel]
    kernels += [color._histograms_kernel, color._luts_kernel]
    for k in kernels:
        assert k.targetoptions["nogil"] is True


def test_kernel_compiles_without_any_cache_location():
    real_njit = _jit.njit

    def refusing_cache(**options):
        if options.get("cache"):
            raise RuntimeError("cannot cache function 'f': no locator available for file 'f.py'")
        return real_njit(**options)

    def add(a, b):
        return a + b

    with mock.patch.object(_jit, "njit", refusing_cache):
        compiled = _jit.kernel(add)
    assert compiled(2, 3) == 5


def _grown_box(mask: np.ndarray, before: int, after: int) -> np.ndarray:
    ys, xs = np.nonzero(mask > 0)
    box = np.zeros(mask.shape, bool)
    box[max(ys.min() - before, 0) : ys.max() + 1 + after, max(xs.min() - before, 0) : xs.max() + 1 + after] = True
    return box


@pytest.mark.parametrize("mode", ["rct", "lct", "hist"])
def test_recolours_the_mask_box_plus_margin_only(crops, mode):
    (src, mask), (target, _) = crops[0], crops[1]
    grow = int(np.ceil(color.DEFAULT_MARGIN * SIZE))
    # The box's origin may move one pixel further out (onto the statistics' subsampling grid).
    inside, reach = _grown_box(mask, grow, grow), _grown_box(mask, grow + 1, grow)
    out = color.transfer_color(src, target, mask, mode)
    np.testing.assert_array_equal(out[~reach], src[~reach])
    assert (out[inside] != src[inside]).mean() > 0.5
    whole = color.transfer_color(src, target, mask, mode, margin=1.0)
    np.testing.assert_array_equal(whole[inside], out[inside])  # same statistics, same map
    assert (whole[~reach] != src[~reach]).mean() > 0.5


def test_rct_statistics_on_a_subsampled_crop_match_the_full_pass(crops):
    for crop, mask in crops:
        _, mean, std = color.lab_moments(crop, mask)
        step = color.STATS_STEP
        _, mean_s, std_s = color.lab_moments(
            np.ascontiguousarray(crop[::step, ::step]), np.ascontiguousarray(mask[::step, ::step])
        )
        np.testing.assert_allclose(mean_s, mean, atol=0.3)
        np.testing.assert_allclose(std_s, std, atol=0.3)


def test_color_strength_mixes_the_transfer_with_the_models_colours(crops):
    """The colour-strength knob (engine/swap_knobs.py): 1 = the transfer as before, 0 = the model's
    colours, 0.5 = halfway; changed on a running stage through the studio's control path."""
    from swapstream.engine.engine_config import EngineConfig
    from swapstream.engine.pipeline.controls import ControlBoard, SwapSettings, apply_settings
    from swapstream.engine.stages.color_stage import ColorStage
    from swapstream.engine.swap_knobs import SwapConfig

    from swapstream.common.pipeline_contract import FaceSlot, FramePacket

    (src, _), (target, mask) = crops[0], crops[1]

    def run(stage) -> np.ndarray:
        slot = FaceSlot(np.zeros((478, 3), np.float32), crop=target, swapped=src.copy(), mask=mask)
        return stage.process(FramePacket(0, 0.0, np.zeros((8, 8, 3), np.uint8), faces=[slot])).faces[0].swapped

    stage = ColorStage(SwapConfig())
    stage.setup()
    full = run(stage)
    assert np.array_equal(full, color.transfer_color(src, target, mask, "rct"))  # the default: as before
    board = ControlBoard(SwapSettings.from_config(EngineConfig()))
    apply_settings(stage, board.submit({"key": "color_strength", "value": 0.5}))
    half = run(stage).astype(int)
    expected = (full.astype(int) + src.astype(int)) / 2
    assert np.abs(half - expected).max() <= 1 and np.abs(full.astype(int) - src).max() > 20
    apply_settings(stage, board.submit({"key": "color_strength", "value": 0.0}))
    assert np.array_equal(run(stage), src)
