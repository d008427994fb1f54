"""The alignment contract on real faces: detection, template fit, inverse mapping, masks, pose."""

from __future__ import annotations

import itertools

import cv2
import numpy as np
import pytest
from swapstream.engine.face.align import (
    FACE_TYPES,
    alignment_matrix,
    face_type,
    invert,
    template_points,
    transform_points,
    umeyama,
    warp_face,
)
from swapstream.engine.face.mask import hull_mask
from swapstream.engine.face.pose import yaw_pitch_roll
from swapstream.engine.face.tracking import PhotoFaceFinder


@pytest.fixture(scope="module")
def finder():
    f = PhotoFaceFinder()
    yield f
    f.close()


@pytest.mark.parametrize("photo", ["astronaut_bgr", "grace_hopper_bgr"])
def test_exactly_one_face_and_eyes_land_on_template(photo, finder, request):
    image = request.getfixturevalue(photo)
    faces = finder.find(image)
    assert len(faces) == 1
    lm = faces[0].landmarks
    assert lm.shape == (478, 3)
    m = alignment_matrix(lm, "whole", 256)
    crop_lm = transform_points(lm, m)
    tp = template_points(face_type("whole"), 256)  # rows 0/2 and 1/3: right and left eye corners
    for corners, template_rows in (((33, 133), (0, 2)), ((362, 263), (1, 3))):
        eye = crop_lm[list(corners)].mean(0)
        target = tp[list(template_rows)].mean(0)
        assert np.linalg.norm(eye - target) < 3.0, (photo, eye, target)
    # round trip: frame -> crop -> frame
    back = transform_points(crop_lm, invert(m))
    assert np.abs(back - lm[:, :2]).max() < 0.5


def test_crop_shows_the_face_the_landmarks_describe(astronaut_bgr, finder):
    lm = finder.find(astronaut_bgr)[0].landmarks
    m = alignment_matrix(lm, "whole", 256)
    crop = warp_face(astronaut_bgr, m, 256)
    # a fresh detection on the crop finds the face where the mapped landmarks say it is
    again = finder.find(crop)
    assert len(again) == 1
    assert np.abs(again[0].points - transform_points(lm, m)).mean() < 4.0


def test_umeyama_recovers_a_known_similarity():
    rng = np.random.default_rng(0)
    src = rng.uniform(0, 100, (20, 2))
    angle, scale, shift = 0.4, 1.7, np.array([12.0, -3.0])
    rot = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    dst = scale * src @ rot.T + shift
    m = umeyama(src, dst)
    np.testing.assert_allclose(m[:, :2], scale * rot, atol=1e-9)
    np.testing.assert_allclose(m[:, 2], shift, atol=1e-9)


def test_face_types_nest_and_masks_cover_the_face(astronaut_bgr, finder):
    lm = finder.find(astronaut_bgr)[0].landmarks
    areas = []
    for name in ("half", "mid", "full", "whole", "head"):
        m = alignment_matrix(lm, name, 256)
        mask = hull_mask(transform_points(lm, m), 256, name)
        assert mask.dtype == np.uint8 and set(np.unique(mask)) <= set(range(256))
        areas.append((mask > 127).mean())
    # the wider the crop, the smaller the face inside it
    assert all(a > b for a, b in itertools.pairwise(areas[1:])), areas
    # whole extends the mask over the forehead: higher top edge than full, relative to the eyes
    m_full = alignment_matrix(lm, "full", 256)
    m_whole = alignment_matrix(lm, "whole", 256)
    top = {}
    for name, m in (("full", m_full), ("whole", m_whole)):
        crop_lm = transform_points(lm, m)
        ys = np.nonzero(hull_mask(crop_lm, 256, name).any(axis=1))[0]
        eye_y = crop_lm[[33, 263], 1].mean()
        top[name] = (eye_y - ys.min()) / (crop_lm[152, 1] - eye_y)
    assert top["whole"] > top["full"] * 1.2
    assert set(FACE_TYPES) == {"half", "mid", "full", "whole", "head"}


def test_pose_reads_rotation_and_mirror(astronaut_bgr, finder):
    yaw0, _, roll0 = yaw_pitch_roll(finder.find(astronaut_bgr)[0].landmarks)
    assert abs(yaw0) < 15 and abs(roll0) < 10
    h, w = astronaut_bgr.shape[:2]
    rotated = cv2.warpAffine(astronaut_bgr, cv2.getRotationMatrix2D((w / 2, h / 2), -20, 1.0), (w, h))
    _, _, roll = yaw_pitch_roll(finder.find(rotated)[0].landmarks)
    assert 12 < roll - roll0 < 28  # clockwise on screen reads as positive roll
    yaw_m, _, roll_m = yaw_pitch_roll(finder.find(np.ascontiguousarray(astronaut_bgr[:, ::-1]))[0].landmarks)
    assert abs(yaw_m + yaw0) < 3 and abs(roll_m + roll0) < 3
