"""The detail bank: written beside the model by export, found by convert/live, validated, and the
source of --detail by default (the driver's own detail only when asked for by name)."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import media
from leakage_fixtures import read_frames, write_faceset
from model_fixtures import write_invert_model
from swap_fixtures import outside_blend, run_swap
from swapstream.engine.engine_config import load_engine_config
from swapstream.engine.face.landmarks import FaceMesh
from swapstream.engine.image.target_detail import load_detail_bank
from swapstream.engine.pipeline.build import swap_stages
from swapstream.engine.runtime.providers import RuntimeConfig
from swapstream.engine.runtime.swap_model import load_swap_model
from swapstream.export.detail_bank import bank_path, write_detail_bank

from swapstream.common.errors import UserError
from swapstream.common.faceset import Faceset

RES = 128
pytestmark = pytest.mark.media


@pytest.fixture(scope="module")
def target_faces(tmp_path_factory):
    """A faceset of man B (d19.mp4), one frame in three of the first 240."""
    mesh = FaceMesh(static=True)
    try:
        return write_faceset(tmp_path_factory.mktemp("b") / "faces_b", read_frames(media("d19.mp4"), 0, 240)[::3], mesh)
    finally:
        mesh.close()


def test_export_writes_a_bank_of_the_targets_faces_spread_over_their_poses(target_faces, tmp_path):
    model = tmp_path / "m.onnx"
    bank = write_detail_bank(target_faces, model, count=12)
    assert bank == bank_path(model) == tmp_path / "m.detail"
    source, written = Faceset.open(target_faces), Faceset.open(bank)
    assert len(written) == 12 and (written.face_type, written.size) == (source.face_type, source.size)
    yaw = np.array([f.yaw for f in source.faces])
    kept = np.array([f.yaw for f in written.faces])
    assert kept.max() - kept.min() > 0.8 * (yaw.max() - yaw.min()), "the bank should reach the faceset's extremes"
    for i in range(len(written)):
        assert written.image(i).shape == (source.size, source.size, 3)
    write_detail_bank(target_faces, model, count=5)  # a re-export replaces the bank, leaving nothing else
    assert len(Faceset.open(bank)) == 5
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.detail"]


def test_a_bank_of_another_face_type_or_smaller_faces_is_refused(target_faces):
    with pytest.raises(UserError, match="holds whole faces; the model swaps head faces"):
        load_detail_bank(target_faces, "head", RES)
    with pytest.raises(UserError, match="smaller than the model's 512 px render"):
        load_detail_bank(target_faces, "whole", 512)


def test_convert_takes_detail_from_the_bank_beside_the_model_and_never_from_the_driver(target_faces, tmp_path):
    model = write_invert_model(tmp_path / "invert.onnx", RES)
    frames = read_frames(media("d18.mp4"), 0, 3)
    cpu = RuntimeConfig(providers=("cpu",))
    blend = swap_stages(load_swap_model(model, cpu), load_engine_config(), offline=True)[-1]
    assert blend.target is None and not blend.driver_detail
    plain = run_swap(model, frames)  # no bank: --detail adds nothing, the driver's detail is not used
    none = run_swap(model, frames, detail=0.0)
    assert all(np.array_equal(p.frame, n.frame) for p, n in zip(plain, none, strict=True))
    write_detail_bank(target_faces, model, count=16)
    blend = swap_stages(load_swap_model(model, cpu), load_engine_config(), offline=True)[-1]
    assert blend.target is not None and blend.target.bank.path == tmp_path / "invert.detail"
    banked = run_swap(model, frames)
    for b, n, original in zip(banked, none, frames, strict=True):
        # The inverting model renders all of the driver's detail (inverted), so the bank adds little on
        # top of it (only the share the render lacks): the paste from the bank's crop still shows.
        changed = np.abs(b.frame.astype(int) - n.frame).max(axis=2) > 2
        assert 0.005 < changed.mean() < 0.5, "the bank should change the face, and only the face"
        outside = outside_blend(b.faces[0], original.shape)
        assert outside.mean() > 0.3 and np.array_equal(b.frame[outside], original[outside])


def test_a_live_model_switch_takes_the_new_models_own_bank(target_faces, tmp_path):
    """The studio swaps models mid-stream: the detail must be of the person the new model renders."""
    from swapstream.engine.pipeline.controls import SwapSettings, apply_settings

    cpu = RuntimeConfig(providers=("cpu",))
    banked = load_swap_model(write_invert_model(tmp_path / "b.onnx", RES), cpu)
    write_detail_bank(target_faces, tmp_path / "b.onnx", count=8)
    other = load_swap_model(write_invert_model(tmp_path / "other.onnx", RES, darken=True), cpu)
    cfg = load_engine_config()
    blend = swap_stages(banked, cfg, offline=False)[-1]
    assert blend.target is not None and blend.detail_model is banked
    apply_settings(blend, SwapSettings.from_config(cfg, other))
    assert blend.target is None and blend.detail_model is other
    apply_settings(blend, SwapSettings.from_config(cfg, banked))
    assert blend.target is not None and blend.target.bank.path == tmp_path / "b.detail"


def blend_one_face(target, knobs: dict):
    """(frame, its landmarks, the alignment matrix, blended): d18's frame 40 with a soft copy of its
    own crop as the render; blended(face_target=0, **overrides) -> the frame blended by a BlendStage
    with `target` (a TargetDetail) and SwapConfig(**knobs, **overrides), the face swapped by model
    face_target."""
    import cv2
    from swapstream.engine.face.align import alignment_matrix, transform_points, warp_face
    from swapstream.engine.face.mask import hull_mask
    from swapstream.engine.stages.blend_stage import BlendStage
    from swapstream.engine.swap_knobs import SwapConfig

    from swapstream.common.pipeline_contract import FaceSlot, FramePacket

    frame = read_frames(media("d18.mp4"), 40, 1)[0]
    mesh = FaceMesh(static=True)
    try:
        lm = mesh.process(frame)[0].landmarks
    finally:
        mesh.close()
    m = alignment_matrix(lm, "whole", RES)
    soft = cv2.GaussianBlur(warp_face(frame, m, RES), (0, 0), 3)
    mask = hull_mask(transform_points(lm, m), RES, "whole").astype(np.float32) / 255

    def blended(face_target: int = 0, **overrides) -> np.ndarray:
        stage = BlendStage(SwapConfig(**{**knobs, **overrides}), RES, None, 64, target, driver_detail=False)
        stage.setup()
        slot = FaceSlot(lm, target=face_target, matrix=m, crop=warp_face(frame, m, RES), swapped=soft.copy(), mask=mask)
        return stage.process(FramePacket(0, 0.0, frame.copy(), faces=[slot])).frame

    return frame, lm, m, blended


def test_a_face_swapped_by_another_reference_model_gets_none_of_the_banks_detail(target_faces):
    """--reference FILE:MODEL swaps another person with another model: the main model's bank is not theirs."""
    from swapstream.engine.image.target_detail import TargetDetail

    bank = TargetDetail(load_detail_bank(target_faces, "whole", RES), 64)
    _, _, _, blend = blend_one_face(bank, {})

    def blended(detail: float, target: int) -> np.ndarray:
        return blend(target, detail=detail)

    plain = blended(0.0, 0)
    assert np.array_equal(blended(1.0, 1), plain)
    assert (np.abs(blended(1.0, 0).astype(int) - plain).max(axis=2) > 4).mean() > 0.01


def test_a_resume_records_the_detail_bank_by_its_content(target_faces, tmp_path):
    """Issue 26, item 1: the target's faces change pixels, so convert's parts manifest records the
    bank beside the model by content: a bank replaced between an interrupt and --resume differs."""
    import argparse

    from swapstream.convert_parts.command import pixel_files

    model = write_invert_model(tmp_path / "b.onnx", RES)
    args = argparse.Namespace(model=model, reference=None)
    cfg = load_engine_config()
    assert "--detail-from" not in pixel_files(args, cfg)  # no bank: nothing the detail depends on
    write_detail_bank(target_faces, model, count=8)
    first = pixel_files(args, cfg)["--detail-from"]["sha256"]
    assert pixel_files(args, cfg.replace(swap={"detail": 0.0}))["--detail-from"]["sha256"] == first  # the mouth
    none = cfg.replace(swap={"detail": 0.0, "mouth": 0.0, "eyes": 0.0})
    assert pixel_files(args, none).get("--detail-from") is None
    assert pixel_files(args, cfg.replace(swap={"detail": 0.0, "mouth": 0.0}))["--detail-from"]["sha256"] == first
    face = next((bank_path(model) / "faces").iterdir())
    face.write_bytes(face.read_bytes()[:-1] + b"\0")
    assert pixel_files(args, cfg)["--detail-from"]["sha256"] != first


def test_the_targets_mouth_changes_the_mouth_and_nothing_else(target_faces):
    """--mouth (engine.image.target_mouth): the bank's mouth laid over the render's, only around
    the driver's lips; off, the paste is the plain one."""
    import cv2
    from swapstream.engine.face.align import transform_points
    from swapstream.engine.image.target_detail import TargetDetail
    from swapstream.engine.image.target_mouth import mouth_region, target_mouth_from

    target = TargetDetail(load_detail_bank(target_faces, "whole", RES), 64, target_mouth_from(target_faces))
    frame, lm, m, blend = blend_one_face(target, {"detail": 0.0})
    pts = transform_points(lm, m)

    def blended(mouth: float) -> np.ndarray:
        return blend(mouth=mouth)

    plain, mouthed = blended(0.0), blended(1.0)
    changed = np.abs(mouthed.astype(int) - plain).max(axis=2) > 2
    weight, _, (x0, y0, x1, y1) = mouth_region(pts * (target.bank.size / RES), target.bank.size)
    region = np.zeros((target.bank.size,) * 2, np.float32)
    region[y0:y1, x0:x1] = weight
    region = cv2.resize(region, (RES, RES), interpolation=cv2.INTER_AREA)
    inverse = cv2.invertAffineTransform(np.asarray(m, np.float64))
    near = cv2.warpAffine(region, inverse, frame.shape[1::-1]) > 0
    near = cv2.dilate(near.astype(np.uint8), np.ones((5, 5), np.uint8)) > 0
    assert changed.sum() > 200, "the bank's mouth should show"
    assert not (changed & ~near).any(), "only the mouth's region may change"
