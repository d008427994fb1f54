"""The blend stage's steps with the defaults (rct colour, steady 1, feather, detail 1 from the
target's detail bank), one face: what benchmarks/blend_profile.py prints in its third table.

The bank is one face of another public-domain person (matplotlib's Grace Hopper) aligned at
BANK_SIDE px, as `swapstream extract` writes them (256 px by default); its cost does not depend on
which face it is. The driver's face is the astronaut of blend_profile.scene; a blurred copy of her
crop stands in for the model's render, and a copy shifted by one level for the previous frame's
(so steady has a step to hold). The target's mouth (engine.image.target_mouth) is drawn from the
driver's own face aligned at BANK_SIDE px, a face whose lips fit, so the whole lay-over is timed.
"sharpen + paste_face" is the unfused path on today's paste_face;
the code before the fusion is compared with the fused path in benchmarks/bank_paste_ab.py.
"""

from __future__ import annotations

import cv2
import numpy as np
from swapstream.engine.face.align import alignment_matrix, transform_points, warp_face
from swapstream.engine.face.mask import hull_mask, lips_mask
from swapstream.engine.face.neighbours import landmark_warp, match_features
from swapstream.engine.face.pose import yaw_pitch_roll
from swapstream.engine.face.tracking import PhotoFaceFinder
from swapstream.engine.image import blend, color, steady
from swapstream.engine.image.bands import matched_band
from swapstream.engine.image.target_detail import DETAIL_BAND_CELLS, DetailBank, TargetDetail
from swapstream.engine.image.target_eyes import EYES, TargetEyes
from swapstream.engine.image.target_mouth import TargetMouth
from swapstream.engine.image.target_parts import TargetFaces
from swapstream.engine.stages.blend_stage import BlendStage
from swapstream.engine.stages.color_stage import ColorStage
from swapstream.engine.stages.steady_stage import SteadyStage
from swapstream.engine.swap_knobs import SwapConfig

from swapstream.bench.report import time_ms
from swapstream.common.pipeline_contract import FaceSlot, FramePacket

BANK_SIDE = 256


def hopper_bank(side: int = BANK_SIDE) -> DetailBank:
    """A one-face DetailBank: Grace Hopper aligned 'whole' at `side` px."""
    from swapstream.demo.media import grace_hopper_bgr

    image = grace_hopper_bgr()
    finder = PhotoFaceFinder(max_faces=1)
    landmarks = finder.find(image)[0].landmarks.copy()
    finder.close()
    m = alignment_matrix(landmarks, "whole", side)
    crop = warp_face(image, m, side)
    points = transform_points(landmarks, m)
    yaw, pitch, _ = yaw_pitch_roll(landmarks)
    grey = cv2.cvtColor(crop, cv2.COLOR_BGR2GRAY).astype(np.float32)[None]
    features = match_features(points, yaw, pitch)[None]
    return DetailBank(None, "whole", side, grey, points[None, :, :2].astype(np.float32), features)


def own_mouth(frame: np.ndarray, landmarks: np.ndarray, side: int = BANK_SIDE) -> TargetMouth:
    """A one-face TargetMouth: the frame's own face aligned 'whole' at `side` px."""
    m = alignment_matrix(landmarks, "whole", side)
    points = transform_points(landmarks, m)[None, :, :2].astype(np.float32)
    features = match_features(points[0], *yaw_pitch_roll(landmarks)[:2])[None]
    return TargetMouth(TargetFaces(warp_face(frame, m, side)[None], points, features))


def face_slot(frame: np.ndarray, landmarks: np.ndarray, m: np.ndarray, crop: int, shift: int = 0) -> FaceSlot:
    """A FaceSlot as the infer stage hands it on: the render a blurred copy of the driver's crop."""
    driver = warp_face(frame, m, crop)
    points = transform_points(landmarks, m)
    render = cv2.add(cv2.GaussianBlur(driver, (5, 5), 2), shift)
    hull = hull_mask(points, crop, "whole")
    mask = hull.astype(np.float32) / 255.0
    return FaceSlot(landmarks, 0, 1, m, driver, hull, render, mask)


def stages(crop: int, bank: DetailBank, mouth: TargetMouth | None = None):
    """The CPU path's colour, steady and blend stages with the default knobs, the bank and the mouth."""
    knobs = SwapConfig()
    blend_stage = BlendStage(knobs, crop, None, crop // 2, TargetDetail(bank, crop // 2, mouth))
    out = [ColorStage(knobs), SteadyStage(knobs), blend_stage]
    for stage in out:
        stage.setup()
    return out


def _sharpen_steps(target: TargetDetail, slot: FaceSlot, keep: np.ndarray) -> dict:
    """TargetDetail.sharpen cut into its steps: name -> zero-argument callable."""
    size = target.bank.size
    k = size / slot.swapped.shape[0]
    pts = transform_points(slot.landmarks, slot.matrix)[:, :2].astype(np.float64) * k
    big = cv2.resize(slot.swapped, (size, size), interpolation=cv2.INTER_CUBIC)
    w = cv2.resize(keep, (size, size), interpolation=cv2.INTER_LINEAR)
    warped = landmark_warp(target.bank.greys[0], target.bank.landmarks[0], pts)
    grey = cv2.cvtColor(big, cv2.COLOR_BGR2GRAY).astype(np.float32)
    band = matched_band(warped, grey, w, target.cell, DETAIL_BAND_CELLS, 1.0)

    def add():
        return cv2.add(big, cv2.merge((band, band, band)), dtype=cv2.CV_8U)

    return {
        "  enlarge crop + weight": lambda: (
            cv2.resize(slot.swapped, (size, size), interpolation=cv2.INTER_CUBIC),
            cv2.resize(keep, (size, size), interpolation=cv2.INTER_LINEAR),
        ),
        "  bank lookup (pose)": lambda: target.choose(1, match_features(pts, *yaw_pitch_roll(slot.landmarks)[:2])),
        "  landmark warp": lambda: landmark_warp(target.bank.greys[0], target.bank.landmarks[0], pts),
        "  matched band": lambda: matched_band(warped, grey, w, target.cell, DETAIL_BAND_CELLS, 1.0),
        "  add band": add,
    }


def detail_step_times(
    frame, landmarks, m, crop: int, bank: DetailBank, repeat: int, stat: str = "median"
) -> dict[str, float]:
    """Median (or minimum: stat) ms of each step of colour + steady + blend with the detail bank, one face."""
    slot = face_slot(frame, landmarks, m, crop)
    previous = face_slot(frame, landmarks, m, crop, shift=1)
    mouth = own_mouth(frame, landmarks, bank.size)
    eyes = TargetEyes(mouth.faces)  # the same one face: choosing costs as for any bank, laying as for a blink
    colour, steadier, blender = stages(crop, bank, mouth)
    points = transform_points(landmarks, m)
    px = round(0.05 * crop)
    mask = blend.feather_mask(slot.hull, px, px)
    keep = mask * (1 - lips_mask(points, crop))
    state = steady.steady_face(None, previous.crop, previous.hull, previous.swapped.copy(), mask.copy(), 1.0)
    target = blender.target
    yaw, pitch, _ = yaw_pitch_roll(landmarks)
    big = target.sharpen(slot.swapped, points, keep, (yaw, pitch), 1.0, 1)
    kb = big.shape[0] / crop
    mask_big = cv2.resize(mask, big.shape[1::-1], interpolation=cv2.INTER_LINEAR)
    m_big = np.asarray(m, np.float64) * kb
    m_big[:, 2] += 0.5 * kb - 0.5
    packed, support = target.sharpen_bgra(slot.swapped, points, keep, mask, (yaw, pitch), 1.0, 1)
    packed, points_big = packed.copy(), points[:, :2] * kb

    def steady_step():
        s = steady.SteadyState(state.crop, state.face.copy(), state.mask.copy())
        steady.steady_face(s, slot.crop, slot.hull, slot.swapped.copy(), mask.copy(), 1.0)

    def whole(chain):
        def run():
            packet = FramePacket(0, 0.0, frame.copy(), faces=[_copy(slot)])
            steadier._states = {1: steady.SteadyState(state.crop, state.face.copy(), state.mask.copy())}
            for stage in chain:
                stage.process(packet)

        return run

    steps = {
        "colour (rct)": lambda: color.transfer_color(slot.swapped, slot.crop, mask, "rct"),
        "steady": steady_step,
        "feather": lambda: blend.feather_mask(slot.hull, px, px),
        "detail mask (lips)": lambda: lips_mask(points, crop),
        "sharpen (bank detail)": lambda: target.sharpen(slot.swapped, points, keep, (yaw, pitch), 1.0, 1),
        **_sharpen_steps(target, slot, keep),
        "mask to bank size": lambda: cv2.resize(mask, big.shape[1::-1], interpolation=cv2.INTER_LINEAR),
        "paste from bank crop": lambda: blend.paste_face(frame.copy(), big, mask_big, m_big, "feather"),
        "sharpen + paste_face": lambda: blend.paste_face(
            frame.copy(),
            target.sharpen(slot.swapped, points, keep, (yaw, pitch), 1.0, 1),
            cv2.resize(mask, big.shape[1::-1], interpolation=cv2.INTER_LINEAR),
            m_big,
            "feather",
        ),
        "sharpen_bgra + paste_bgra": lambda: blend.paste_bgra(
            frame.copy(), *_at(target.sharpen_bgra(slot.swapped, points, keep, mask, (yaw, pitch), 1.0, 1), m_big)
        ),
        "  sharpen_bgra": lambda: target.sharpen_bgra(slot.swapped, points, keep, mask, (yaw, pitch), 1.0, 1),
        "  paste_bgra": lambda: blend.paste_bgra(frame.copy(), packed, m_big, support),
        "  target's mouth (lay_over)": lambda: mouth.lay_over(
            packed.copy()[:, :, :3], points_big, packed[:, :, 3], (yaw, pitch), 1.0, 1
        ),
        "  eyes: choice (each frame)": lambda: eyes.distances(points_big, (yaw, pitch), -1),
        "  eyes: one laid (blink)": lambda: eyes._lay_eye(
            packed.copy()[:, :, :3], points_big, packed[:, :, 3], (0, 0), EYES[0], 1.0
        ),
        "blend stage (bank)": whole([blender]),
        "colour+steady+blend": whole([colour, steadier, blender]),
        "frame copy (in the pastes)": frame.copy,
    }
    return {name: time_ms(fn, repeat, stat) for name, fn in steps.items()}


def _at(packed_support: tuple, matrix: np.ndarray) -> tuple:
    """paste_bgra's (bgra, matrix, support) from sharpen_bgra's (bgra, support)."""
    return packed_support[0], matrix, packed_support[1]


def _copy(slot: FaceSlot) -> FaceSlot:
    return FaceSlot(
        slot.landmarks,
        slot.target,
        slot.track,
        slot.matrix,
        slot.crop,
        slot.hull,
        slot.swapped.copy(),
        slot.mask.copy(),
    )
