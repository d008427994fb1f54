"""--keep-mouth on real open mouths (d6.mp4): the mouth interior stays the driver's, the rest of
the swap is unchanged, pixels outside the face stay bit-exact; and the live control for it."""

from __future__ import annotations

import math

import cv2
import numpy as np
import pytest
from model_fixtures import write_invert_model
from swap_fixtures import read_frames, run_swap
from swapstream.engine.face.align import invert
from swapstream.engine.image.detail import upscale_of
from swapstream.engine.stages.mask_refine import mouth_mask

RES = 96
OPEN_MOUTH_FRAMES = (80, 120, 250, 500)  # lip gap / mouth width > 0.6 in each


@pytest.fixture(scope="module")
def swapped(tmp_path_factory):
    model = write_invert_model(tmp_path_factory.mktemp("model") / "invert.onnx", RES)
    frames = read_frames("d6.mp4", OPEN_MOUTH_FRAMES)
    return frames, run_swap(model, frames), run_swap(model, frames, keep_mouth=True)


def test_open_mouth_interior_is_the_drivers_own(swapped):
    frames, plain, kept = swapped
    for frame, p, k in zip(frames, plain, kept, strict=True):
        assert len(p.faces) == len(k.faces) == 1
        slot = k.faces[0]
        h, w = frame.shape[:2]
        mouth = cv2.warpAffine(mouth_mask(slot), invert(slot.matrix), (w, h), flags=cv2.INTER_LINEAR)
        inside = mouth > 0.99
        assert inside.sum() > 200, "the open mouth should cover a few hundred pixels"
        diff_kept = np.abs(k.frame.astype(int) - frame).max(axis=2)
        diff_plain = np.abs(p.frame.astype(int) - frame).max(axis=2)
        assert (diff_kept[inside] <= 2).mean() > 0.99, "mouth interior changed with --keep-mouth"
        assert (diff_plain[inside] > 16).mean() > 0.9, "without --keep-mouth the mouth is swapped"
        # Everywhere the mouth mask does not reach (the paste's bicubic taps reach 2 crop pixels),
        # the swap is exactly the plain one ...
        reach = 2 * math.ceil(2 * upscale_of(slot.matrix)) + 1
        away = cv2.dilate((mouth > 0).astype(np.uint8), np.ones((reach, reach), np.uint8)) == 0
        assert np.array_equal(k.frame[away], p.frame[away])
        # ... so pixels outside the face mask stay bit-exact, and the rest of the face is swapped.
        untouched = diff_plain == 0
        assert untouched.mean() > 0.3 and np.array_equal(k.frame[untouched], frame[untouched])
        assert (diff_kept[~untouched & away] > 0).mean() > 0.9


def test_keep_mouth_is_a_live_control():
    from swapstream.engine.engine_config import load_engine_config
    from swapstream.engine.pipeline.controls import ControlBoard, ControlError, SwapSettings, apply_settings
    from swapstream.engine.stages.blend_stage import BlendStage
    from swapstream.engine.stages.mask_refine import MaskRefiner
    from swapstream.engine.swap_knobs import SwapConfig

    cfg = load_engine_config()
    board = ControlBoard(SwapSettings.from_config(cfg))
    blend = BlendStage(SwapConfig(), RES, MaskRefiner("whole"))
    assert not board.current.keep_mouth
    apply_settings(blend, board.toggle("keep_mouth"))
    assert blend.refiner.keep_mouth and blend.refiner.active
    with pytest.raises(ControlError, match="occluder"):
        board.submit({"key": "mask", "value": "occlusion"})
    board.submit({"key": "mask", "value": "hull"})
    assert board.cycle("mask").mask == "both"  # occlusion is skipped without an occlusion model


def test_occlusion_mask_needs_an_occluder(tmp_path):
    import argparse

    from swapstream.commands.swap_flags import add_swap_arguments
    from swapstream.common.errors import UserError
    from swapstream.swap_session.from_args import engine_config_from_args

    parser = argparse.ArgumentParser()
    add_swap_arguments(parser)
    with pytest.raises(UserError, match="occlusion model"):
        engine_config_from_args(parser.parse_args(["-m", "m.onnx", "--mask", "occlusion"]))
    with pytest.raises(UserError, match="no such occlusion model"):
        engine_config_from_args(parser.parse_args(["-m", "m.onnx", "--occluder", str(tmp_path / "none.onnx")]))
    cfg = engine_config_from_args(parser.parse_args(["-m", "m.onnx", "--keep-mouth"]))
    assert cfg.swap.keep_mouth and cfg.swap.mask == "both"


def test_detail_sharpens_the_face_but_not_the_mouth(swapped, tmp_path):
    """--detail-from driver adds the driver's fine detail over the face, never over the lips and the opening."""
    from swapstream.engine.face.align import transform_points
    from swapstream.engine.face.mask import lips_mask

    frames, _, _ = swapped
    model = write_invert_model(tmp_path / "invert.onnx", RES)
    plain = run_swap(model, frames, detail=1.0, detail_from="driver")
    without = run_swap(model, frames, detail=0.0)
    for frame, p, w in zip(frames, plain, without, strict=True):
        slot = p.faces[0]
        h, wd = frame.shape[:2]
        lips = lips_mask(transform_points(slot.landmarks, slot.matrix), RES)
        mouth = cv2.warpAffine(lips, invert(slot.matrix), (wd, h), flags=cv2.INTER_LINEAR) > 0.999
        assert mouth.sum() > 500
        assert np.array_equal(p.frame[mouth], w.frame[mouth]), "detail reached the mouth"
        face = cv2.warpAffine(slot.mask, invert(slot.matrix), (wd, h), flags=cv2.INTER_LINEAR) > 0.99
        changed = np.abs(p.frame.astype(int) - w.frame).max(axis=2) > 2
        assert changed[face & ~mouth].mean() > 0.2, "detail should change the rest of the face"
