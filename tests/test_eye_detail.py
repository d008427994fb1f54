"""The target's own lids over the eyes (engine.image.target_detail.EYE_BAND_CELLS): a soft render
that keeps its eyes open takes the nearest target face's shut lids when the driver's are shut,
read back by FaceMesh as eval reads them (issue 28, item 4)."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from swapstream.engine.face.landmarks import FaceMesh
from swapstream.engine.face.neighbours import match_features
from swapstream.engine.face.openness import OpenEyeTracker, eye_openness
from swapstream.engine.image import target_detail
from swapstream.engine.image.target_detail import DetailBank, TargetDetail, eye_weight
from swapstream.trainer.synthetic_blink import close_eyes


@pytest.fixture(scope="module")
def mesh():
    m = FaceMesh(static=True)
    yield m
    m.close()


def test_a_soft_open_eyed_render_takes_the_targets_shut_lids(astronaut_bgr, mesh, monkeypatch):
    face = np.ascontiguousarray(astronaut_bgr[40:296, 120:376])  # 256 px, the bank's size
    open_points = mesh.process(face)[0].landmarks[:, :2]
    shut = close_eyes(face, open_points, 1.0)  # the target's own face with its eyes shut
    points = mesh.process(shut)[0].landmarks[:, :2]  # the driver shuts its eyes: these are its lids
    # The one-cell band alone (DETAIL_BAND_CELLS 1) leaves these eyes open; the two-cell band
    # already takes part of the shut lids' shading, which this test is not about.
    monkeypatch.setattr(target_detail, "DETAIL_BAND_CELLS", 1.0)
    out = _sharpened_with_and_without_lids(shut, points, face, points, monkeypatch)
    read = {cells: eye_openness(mesh.process(image)[0].landmarks) for cells, image in out.items()}
    wide, closed = eye_openness(open_points), eye_openness(points)
    assert read[0.0] > closed + 0.5 * (wide - closed), (read, wide, closed)  # the fine band alone: still open
    assert read[target_detail.EYE_BAND_CELLS] < closed + 0.35 * (wide - closed), (read, wide, closed)
    # Only the lids change: away from them both are the same.
    away = eye_weight(points, 256) == 0
    assert away.mean() > 0.8 and np.array_equal(out[0.0][away], out[target_detail.EYE_BAND_CELLS][away])


def test_a_bank_face_with_open_eyes_lends_nothing_to_a_blink(astronaut_bgr, mesh, monkeypatch):
    """A bank without shut eyes (d6: one of its 64 faces), or a face kept through a blink by the
    choice's hysteresis, has open lids: its lids drawn over a render that shuts its eyes opened
    them (eval's eye r 0.92 -> 0.79 on d14 -> d6), and so did its finer band alone, whose lashes
    and lid creases drew pale-rimmed open eyes through d14's blinks. Over the lids the render's
    own pixels stay, once the face's track has shown its open eye; elsewhere the finer band is added
    as before."""
    face = np.ascontiguousarray(astronaut_bgr[40:296, 120:376])
    open_points = mesh.process(face)[0].landmarks[:, :2]
    shut = close_eyes(face, open_points, 1.0)
    points = mesh.process(shut)[0].landmarks[:, :2]  # the driver's shut lids
    seen = [open_points] * 5  # the track's frames before the blink
    out = _sharpened_with_and_without_lids(face, open_points, shut, points, monkeypatch, seen)  # the render shuts too
    plain = cv2.resize(_render(shut), (256, 256), interpolation=cv2.INTER_CUBIC)
    lids = eye_weight(points, 256)[..., None]
    default, band_alone = (out[c].astype(np.float32) - plain for c in (target_detail.EYE_BAND_CELLS, 0.0))
    assert np.abs(band_alone[lids[..., 0] > 0.5]).max() > 8, "the finer band alone drew the open eye's"
    # The band fades out over the lids as the lid weight rises (rounding apart, where nothing saturates).
    unsaturated = (out[0.0] > 0) & (out[0.0] < 255)
    assert np.all(np.abs(default - (1 - lids) * band_alone)[unsaturated] <= 1.5)
    away = lids[..., 0] == 0
    assert np.array_equal(out[0.0][away], out[target_detail.EYE_BAND_CELLS][away])
    read = eye_openness(mesh.process(out[target_detail.EYE_BAND_CELLS])[0].landmarks)
    assert read < eye_openness(points) + 0.35 * (eye_openness(open_points) - eye_openness(points))


def _render(face: np.ndarray) -> np.ndarray:
    """What a model trained for minutes renders of a 256 px face: soft, at 128 px."""
    return cv2.GaussianBlur(cv2.resize(face, (128, 128), interpolation=cv2.INTER_AREA), (0, 0), 1.2)


def _sharpened_with_and_without_lids(bank_face, bank_points, face, driver_points, monkeypatch, seen=()):
    """{EYE_BAND_CELLS: the 256 px sharpened crop} for 0 (the fine band alone) and the default: a
    one-face bank of bank_face (256 px, its landmarks bank_points), over what a model trained for
    minutes renders of `face` (_render), on the driver's landmarks; seen: the driver's landmarks
    in the face's earlier frames (its track's; none: an untracked face). The blend stage's fused
    path (sharpen_bgra) gives the same pixels within one level."""
    grey = cv2.cvtColor(bank_face, cv2.COLOR_BGR2GRAY).astype(np.float32)[None]
    features = match_features(bank_points, 0, 0)[None]
    bank = DetailBank(Path("bank"), "whole", 256, grey, bank_points[None].astype(np.float32), features)
    render = _render(face)
    weight = np.ones((128, 128), np.float32)
    out = {}
    for cells in (0.0, target_detail.EYE_BAND_CELLS):
        monkeypatch.setattr(target_detail, "EYE_BAND_CELLS", cells)
        reference, fused, track = TargetDetail(bank, 64), TargetDetail(bank, 64), 1 if seen else -1
        for points in seen:
            reference.sharpen(render, points / 2, weight, (0.0, 0.0), 1.0, track)
            fused.sharpen_bgra(render, points / 2, weight, weight, (0.0, 0.0), 1.0, track)
        out[cells] = reference.sharpen(render, driver_points / 2, weight, (0.0, 0.0), 1.0, track)
        packed, _ = fused.sharpen_bgra(render, driver_points / 2, weight, weight, (0.0, 0.0), 1.0, track)
        diff = np.abs(packed[..., :3].astype(np.int16) - out[cells].astype(np.int16))
        assert diff.max() <= 1, (cells, diff.max())
    return out


def test_an_eye_is_shut_relative_to_its_own_open_eye():
    """OpenEyeTracker: a blink reads shut against the track's own open eye, whatever its size;
    an untracked face reads open; forgotten tracks are bounded."""
    tracker = OpenEyeTracker(frames=30, tracks=2)
    for _ in range(10):
        assert tracker.relative(1, 0.15) == pytest.approx(1.0)  # wide eyes
        assert tracker.relative(2, 0.08) == pytest.approx(1.0)  # narrow eyes, open
    assert tracker.relative(1, 0.04) < 0.4 and tracker.relative(2, 0.04) > 0.4
    assert tracker.relative(-1, 0.02) == 1.0
    tracker.relative(3, 0.1)
    assert len(tracker._history) == 2
