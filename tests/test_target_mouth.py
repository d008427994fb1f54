"""The target's own mouth laid over the render (engine.image.target_mouth) on real faces: a render
whose mouth is in another state than the driver's gets the target's own mouth back where the
driver's lips are, colour-matched to the render; nothing outside the mouth's region changes; a
mouth no face of the bank fits is left to the render; the face chosen is the one whose lips fit."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from photo_fixtures import aligned_faces
from swapstream.engine.face.mask import OUTER_LIPS, lips_mask
from swapstream.engine.face.neighbours import landmark_warp
from swapstream.engine.image.target_mouth import TargetMouth, mouth_region
from swapstream.engine.image.target_parts import target_faces

SIZE = 256
LOWER = (14, 17, 84, 181, 91, 146, 314, 405, 321, 375, 87, 178, 88, 95, 317, 402, 318, 324)  # lower lip


@pytest.fixture(scope="module")
def hopper():
    """Grace Hopper's moving clip aligned at 256 px: (crops, crop landmarks (478, 2), poses)."""
    return aligned_faces("hopper", 8, SIZE, first=10)


faces_of = target_faces


def dropped_jaw(crop, pts, by: float):
    """The crop bent so the lower lip moves down by `by` x the mouth width (a mouth opened by the
    landmark warp: the lips parted, the chin with them), and the landmarks moved with it."""
    width = float(np.linalg.norm(pts[OUTER_LIPS[0]] - pts[OUTER_LIPS[10]]))
    moved = pts.copy()
    moved[list(LOWER), 1] += by * width
    return landmark_warp(crop, pts, moved), moved


def open_mouth_render(crop, pts):
    """The true face with a dark open mouth drawn over its closed lips, as a model that holds the
    target's open mouth draws it (d9 -> d18, issue 28)."""
    render = crop.copy()
    centre = pts[list(OUTER_LIPS)].mean(axis=0)
    width = float(np.linalg.norm(pts[OUTER_LIPS[0]] - pts[OUTER_LIPS[10]]))
    axes = (int(width * 0.45), int(width * 0.35))
    cv2.ellipse(render, (int(centre[0]), int(centre[1] + width * 0.1)), axes, 0, 0, 360, (40, 30, 90), -1)
    return cv2.GaussianBlur(render, (0, 0), 2)


def test_a_wrong_mouth_gets_the_targets_own_back_and_nothing_else_changes(hopper):
    crops, points, poses = hopper
    faces = faces_of(crops[1:], points[1:], poses[1:])  # the bank never holds the frame itself
    truth, pts = crops[0], points[0]
    render = open_mouth_render(truth, pts)
    out = render.copy()
    alpha = np.full((SIZE, SIZE), 255, np.uint8)
    weight = TargetMouth(faces).lay_over(out, pts, alpha, poses[0], 1.0)
    assert weight == pytest.approx(1.0)
    lips = lips_mask(pts, SIZE, grow=0.0) > 0.5
    before = np.abs(render.astype(np.float32) - truth)[lips].mean()
    after = np.abs(out.astype(np.float32) - truth)[lips].mean()
    assert before > 30 and after < before / 3, (before, after)
    weight, _, (x0, y0, x1, y1) = mouth_region(pts, SIZE)
    region = np.zeros((SIZE, SIZE), np.float32)
    region[y0:y1, x0:x1] = weight
    assert region[lips].min() == 1.0
    assert np.array_equal(out[region == 0], render[region == 0])
    assert (region == 0).mean() > 0.8, "the mouth's region is a small part of the face"


def test_the_bank_face_is_matched_to_the_renders_colour(hopper):
    crops, points, poses = hopper
    darker = [np.clip(c * 0.7, 0, 255).astype(np.uint8) for c in crops[1:]]
    faces = faces_of(darker, points[1:], poses[1:])
    truth, pts = crops[0], points[0]
    out = open_mouth_render(truth, pts)
    TargetMouth(faces).lay_over(out, pts, np.full((SIZE, SIZE), 255, np.uint8), poses[0], 1.0)
    lips = lips_mask(pts, SIZE, grow=0.0) > 0.5
    assert abs(out[lips].astype(np.float32).mean() - truth[lips].astype(np.float32).mean()) < 8


def test_a_mouth_no_face_fits_is_left_to_the_render(hopper):
    crops, points, poses = hopper
    faces = faces_of(crops[1:], points[1:], poses[1:])
    wide, moved = dropped_jaw(crops[0], points[0], 0.6)  # far wider than any face of the bank
    out = wide.copy()
    assert TargetMouth(faces).lay_over(out, moved, np.full((SIZE, SIZE), 255, np.uint8), poses[0], 1.0) == 0
    assert np.array_equal(out, wide)


def test_the_face_whose_lips_fit_is_chosen_and_kept_through_small_changes(hopper):
    crops, points, poses = hopper
    images, landmarks = list(crops[1:4]), list(points[1:4])
    parted, parted_points = dropped_jaw(crops[4], points[4], 0.12)
    images.append(parted)
    landmarks.append(parted_points)
    mouth = TargetMouth(faces_of(images, landmarks, poses[1:5]))
    _, driver_parted = dropped_jaw(crops[0], points[0], 0.12)
    assert mouth.choose(-1, driver_parted, poses[0])[0] == 3
    assert mouth.choose(-1, points[0], poses[0])[0] != 3
    first = mouth.choose(7, points[0], poses[0])[0]
    nudged = points[0] + np.float32(0.3)
    assert mouth.choose(7, nudged, poses[0])[0] == first


def test_a_sticky_choice_holds_a_near_row_moves_to_a_far_better_one_and_forgets_old_tracks():
    """engine.face.neighbours.StickyChoice, shared by the detail bank's face and the mouth's."""
    from swapstream.engine.face.neighbours import StickyChoice

    choice = StickyChoice(hysteresis=1.3, slack=0.25, tracks=2)
    assert choice.pick(1, np.array([1.0, 2.0, 3.0])) == 0
    assert choice.pick(1, np.array([1.2, 1.0, 3.0])) == 0  # 1.2 <= 1.3 x 1.0 + 0.25: kept
    assert choice.pick(1, np.array([3.0, 1.0, 3.0])) == 1  # far worse than the nearest: moved
    assert choice.pick(-1, np.array([1.2, 1.0, 3.0])) == 1  # untracked: the nearest, not remembered
    assert StickyChoice().pick(1, np.array([3.0, 1.0, 3.0])) == 1
    choice.pick(2, np.array([0.0, 5.0, 5.0]))
    choice.pick(3, np.array([0.0, 5.0, 5.0]))  # a third track: track 1 is forgotten
    assert choice.pick(1, np.array([0.9, 1.1, 3.0])) == 0  # remembered, row 1 would have been kept
