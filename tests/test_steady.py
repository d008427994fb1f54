"""Steady faces (engine/image/steady.py, engine/stages/steady_stage.py): the swapped face changes from
frame to frame only as much as its driving face does; real changes pass, jitter does not."""

from __future__ import annotations

import itertools

import cv2
import numpy as np
import pytest
from swapstream.engine.image import steady
from swapstream.engine.stages.steady_stage import SteadyStage
from swapstream.engine.swap_knobs import SwapConfig

from swapstream.common.pipeline_contract import FaceSlot, FramePacket

R = 128


@pytest.fixture(scope="module")
def crops(astronaut_bgr, grace_hopper_bgr):
    """(driving crop, swapped face): two real faces at R px, BGR uint8."""
    drive = cv2.resize(astronaut_bgr[30:250, 140:360], (R, R), interpolation=cv2.INTER_AREA)
    face = cv2.resize(grace_hopper_bgr[40:420, 80:460], (R, R), interpolation=cv2.INTER_AREA)
    return drive, face


HULL = np.zeros((R, R), np.uint8)
HULL[16:112, 16:112] = 255


def _jitter(face: np.ndarray, rng: np.random.Generator, levels: float) -> np.ndarray:
    """The model's frame-to-frame jitter: smooth noise of about `levels` grey levels."""
    noise = cv2.GaussianBlur(rng.normal(0, levels * 3, (R, R, 3)).astype(np.float32), (0, 0), 2)
    return np.clip(face.astype(np.float32) + noise, 0, 255).round().astype(np.uint8)


def _mean_step(frames: list[np.ndarray]) -> float:
    return float(np.mean([cv2.absdiff(a, b).mean() for a, b in itertools.pairwise(frames)]))


def test_a_still_driver_holds_the_models_jitter_down(crops):
    drive, face = crops
    rng = np.random.default_rng(0)
    outputs = {0.0: [], 1.0: []}
    for strength, shown in outputs.items():
        state, gen = None, np.random.default_rng(1)
        for _ in range(12):
            crop = np.clip(drive.astype(np.int16) + rng.integers(-1, 2, drive.shape), 0, 255).astype(np.uint8)
            out, mask = _jitter(face, gen, 4.0), np.ones((R, R), np.float32)
            state = steady.steady_face(state, crop, HULL, out, mask, strength)
            shown.append(out)
    assert _mean_step(outputs[1.0]) < 0.6 * _mean_step(outputs[0.0])
    # Off: the model's frames exactly as rendered.
    gen = np.random.default_rng(1)
    assert all(np.array_equal(o, _jitter(face, gen, 4.0)) for o in outputs[0.0])


def test_a_blink_passes_where_the_driver_moves_and_nowhere_else(crops):
    drive, face = crops
    mask = np.ones((R, R), np.float32)
    state = steady.steady_face(None, drive, HULL, face.copy(), mask.copy(), 1.0)
    blink = drive.copy()
    blink[40:56, 30:60] = cv2.GaussianBlur(blink, (0, 0), 6)[40:56, 30:60] // 2  # a lid closes: dark, smooth
    closed = face.copy()
    closed[40:56, 30:60] //= 3  # the model closes its eye there too
    out = closed.copy()
    steady.steady_face(state, blink, HULL, out, mask.copy(), 1.0)
    inner = (slice(43, 53), slice(33, 57))
    assert np.abs(out[inner].astype(int) - closed[inner]).max() <= 1  # the blink comes through
    far = (slice(80, 120), slice(70, 120))
    assert np.array_equal(out[far], face[far])  # elsewhere nothing moved and nothing changes


def test_a_lighting_change_of_the_driver_comes_through_at_once(crops):
    drive, face = crops
    state = steady.steady_face(None, drive, HULL, face.copy(), np.ones((R, R), np.float32), 1.0)
    brighter = cv2.add(drive, np.full_like(drive, 30))
    lit = cv2.add(face, np.full_like(face, 30))
    out = lit.copy()
    steady.steady_face(state, brighter, HULL, out, np.ones((R, R), np.float32), 1.0)
    assert np.abs(out.astype(int) - lit).mean() < 1.0


def test_the_mask_is_held_like_the_face(crops):
    drive, face = crops
    state = steady.steady_face(None, drive, HULL, face.copy(), np.ones((R, R), np.float32), 1.0)
    mask = np.ones((R, R), np.float32)
    mask[:, :64] = 0.5  # the model's mask flickers on a still face
    steady.steady_face(state, drive, HULL, face.copy(), mask, 1.0)
    assert mask[:, :64].min() > 0.9


def _packet(seq: int, crop: np.ndarray, face: np.ndarray, tracks: tuple[int, ...]) -> FramePacket:
    mask = np.ones((R, R), np.float32)
    slots = [
        FaceSlot(np.zeros((478, 3), np.float32), track=t, crop=crop, hull=HULL, swapped=face.copy(), mask=mask.copy())
        for t in tracks
    ]
    return FramePacket(seq=seq, t_capture=0.0, frame=np.zeros((8, 8, 3), np.uint8), faces=slots)


def test_the_stage_keeps_one_state_per_track_and_forgets_faces_that_leave(crops):
    drive, face = crops
    stage = SteadyStage(SwapConfig(steady=1.0))
    stage.setup()
    stage.process(_packet(0, drive, face, (0, 1)))
    other = cv2.add(face, np.full_like(face, 40))  # the model's next frames: far from the first
    held = stage.process(_packet(1, drive, other, (0, 7)))
    assert np.abs(held.faces[0].swapped.astype(int) - face).mean() < 2  # track 0: held to its last frame
    assert np.array_equal(held.faces[1].swapped, other)  # track 7 is new: shown as rendered
    again = stage.process(_packet(2, drive, other, (1,)))
    assert np.array_equal(again.faces[0].swapped, other)  # track 1 left in frame 1: it starts fresh
    stage.apply_settings(SwapConfig(steady=0.0))  # a live control turns it off
    off = stage.process(_packet(3, drive, face, (1,)))
    assert np.array_equal(off.faces[0].swapped, face)
    with pytest.raises(ValueError, match="steady"):
        SwapConfig(steady=1.5)


def test_steady_flag_and_config_are_validated(tmp_path, capsys):
    import argparse

    from swapstream.engine.engine_config import load_engine_config

    from swapstream.commands.swap_flags import add_swap_arguments
    from swapstream.common.errors import UserError
    from swapstream.swap_session.from_args import engine_config_from_args

    parser = argparse.ArgumentParser()
    add_swap_arguments(parser)
    assert engine_config_from_args(parser.parse_args(["-m", "m.onnx"])).swap.steady == 1.0  # on by default
    assert engine_config_from_args(parser.parse_args(["-m", "m.onnx", "--steady", "0.5"])).swap.steady == 0.5
    with pytest.raises(SystemExit) as exit_info:
        parser.parse_args(["-m", "m.onnx", "--steady", "1.5"])
    assert exit_info.value.code == 2 and "--steady" in capsys.readouterr().err
    config = tmp_path / "engine.yaml"
    config.write_text("swap:\n  steady: 2.0\n")
    with pytest.raises(UserError, match=r"engine\.yaml.*steady must be in \[0, 1\]"):
        load_engine_config(config)
