"""The target's own eyes laid over the render through the driver's blinks (engine.image.target_eyes)
on real faces: a render that keeps its eyes open while the driver's shut gets the target's own
shut eyes where the driver's are; open eyes and a blink no face of the bank fits are left to the
render; nothing outside the eyes' regions changes."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from photo_fixtures import aligned_faces
from swapstream.engine.face.neighbours import landmark_warp
from swapstream.engine.face.openness import EYE_LIDS
from swapstream.engine.image.target_eyes import EYES, IRIS_CENTRES, TargetEyes, eye_region, eye_shapes
from swapstream.engine.image.target_parts import TargetFaces, target_faces

SIZE = 256
OPAQUE = np.full((SIZE, SIZE), 255, np.uint8)


@pytest.fixture(scope="module")
def hopper():
    """Grace Hopper's moving clip aligned at 256 px: (crops, crop landmarks (478, 2), poses)."""
    return aligned_faces("hopper", 8, SIZE, first=10)


faces_of = target_faces


def shut(crop, pts, by: float = 0.95):
    """The crop with its eyes drawn shut, and the landmarks moved with them: each upper lid bent `by`
    of the way down to its lower lid (the landmark warp), the eye painted over with the skin just
    below it and a dark lash line along the lower lid, as a shut eye shows no iris or white."""
    moved = pts.copy()
    for contour, (top, bottom) in zip(EYES, EYE_LIDS):
        moved[list(contour[9:]), 1] += by * (pts[bottom, 1] - pts[top, 1])
    out = landmark_warp(crop, pts, moved)
    for contour, (_, bottom) in zip(EYES, EYE_LIDS):
        eye = np.round(pts[list(contour)]).astype(np.int32)
        width = float(np.linalg.norm(pts[contour[0]] - pts[contour[8]]))
        below = np.round(pts[bottom] + (0, 0.35 * width)).astype(int)
        skin = out[below[1] - 2 : below[1] + 3, below[0] - 2 : below[0] + 3].reshape(-1, 3).mean(axis=0)
        cv2.fillPoly(out, [eye], skin.tolist())
        lash = np.round(moved[list(contour[:9])]).astype(np.int32)
        cv2.polylines(out, [lash], False, (40, 35, 35), max(1, round(width / 15)))
    return cv2.GaussianBlur(out, (0, 0), 0.8), moved


def eye_regions(pts) -> np.ndarray:
    """float32 (SIZE, SIZE): both eyes' lay-over weights (eye_region) over the crop."""
    out = np.zeros((SIZE, SIZE), np.float32)
    for contour in EYES:
        weight, _, (x0, y0, x1, y1) = eye_region(pts, contour, SIZE)
        out[y0:y1, x0:x1] = np.maximum(out[y0:y1, x0:x1], weight)
    return out


def bank_with_blinks(crops, points, poses) -> TargetFaces:
    """Frames 1-7 open and frames 1-3 shut: the bank never holds frame 0 itself."""
    images, landmarks = list(crops[1:]), list(points[1:])
    for crop, pts in zip(crops[1:4], points[1:4]):
        image, moved = shut(crop, pts)
        images.append(image)
        landmarks.append(moved)
    return faces_of(images, landmarks, list(poses[1:]) + list(poses[1:4]))


def test_open_eyes_are_left_to_the_render_and_a_missed_blink_gets_the_targets_shut_eyes(hopper):
    crops, points, poses = hopper
    eyes = TargetEyes(bank_with_blinks(crops, points, poses))
    for crop, pts, pose in zip(crops[1:], points[1:], poses[1:]):  # the driver's open eyes, tracked
        out = crop.copy()
        assert eyes.lay_over(out, pts, OPAQUE, pose, 1.0, track=3) == (0.0, 0.0)
        assert np.array_equal(out, crop)
    truth, moved = shut(crops[0], points[0])
    render = crops[0].copy()  # a model that keeps the eyes open through the blink
    out = render.copy()
    laid = eyes.lay_over(out, moved, OPAQUE, poses[0], 1.0, track=3)
    assert min(laid) > 0.75, laid
    region = eye_regions(moved)
    core = region == 1.0
    before = np.abs(render.astype(np.float32) - truth)[core].mean()
    after = np.abs(out.astype(np.float32) - truth)[core].mean()
    assert before > 8 and after < before / 2, (before, after)
    assert np.array_equal(out[region == 0], render[region == 0])
    assert (region == 0).mean() > 0.85, "the eyes' regions are a small part of the face"


def test_a_blink_no_face_of_the_bank_fits_is_left_to_the_render(hopper):
    crops, points, poses = hopper
    eyes = TargetEyes(faces_of(crops[1:], points[1:], poses[1:]))  # never shut
    for pts, pose in zip(points[1:], poses[1:]):
        eyes.distances(pts, pose, 5)  # the tracker learns the driver's open eye
    _, moved = shut(crops[0], points[0])
    out = crops[0].copy()
    assert eyes.lay_over(out, moved, OPAQUE, poses[0], 1.0, track=5) == (0.0, 0.0)
    assert np.array_equal(out, crops[0])


def test_eye_shapes_read_the_opening_and_where_the_iris_looks(hopper):
    _, points, _ = hopper
    pts = points[0]
    opening, gaze = eye_shapes(pts[None])
    _, moved = shut(np.zeros((SIZE, SIZE, 3), np.uint8), pts)
    assert np.all(eye_shapes(moved[None])[0] < 0.4 * opening)
    looked = pts.copy()
    for contour, iris in zip(EYES, IRIS_CENTRES):
        along = pts[contour[8]] - pts[contour[0]]
        looked[iris] += 0.1 * along  # the iris a tenth of the eye's width toward the inner corner
    assert np.allclose(eye_shapes(looked[None])[1][0, :, 0] - gaze[0, :, 0], 0.1, atol=1e-5)
    assert np.allclose(eye_shapes(looked[None])[1][0, :, 1], gaze[0, :, 1], atol=1e-5)


def test_a_shut_eye_in_shadow_is_not_laid_over_a_lit_one(hopper):
    """s18 driving d6 -> d3: d3's shut eyes are frowns with the socket in shadow; laid over a
    relaxed blink they drew a dark blob. A shut lid is no darker than the open eye it covers."""
    crops, points, poses = hopper
    images, landmarks = list(crops[1:]), list(points[1:])
    for crop, pts in zip(crops[1:4], points[1:4]):
        image, moved = shut(crop, pts)
        shadow = (eye_regions(moved) > 0)[..., None]
        images.append(np.where(shadow, (image * 0.55).astype(np.uint8), image))
        landmarks.append(moved)
    eyes = TargetEyes(faces_of(images, landmarks, list(poses[1:]) + list(poses[1:4])))
    for pts, pose in zip(points[1:], poses[1:]):
        eyes.distances(pts, pose, 6)
    render = crops[0].copy()
    _, moved = shut(crops[0], points[0])
    assert eyes.lay_over(render, moved, OPAQUE, poses[0], 1.0, track=6) == (0.0, 0.0)
    assert np.array_equal(render, crops[0])


def test_a_render_that_already_shuts_its_eyes_keeps_its_own_lids(hopper):
    """A model that follows blinks: its shut eyes look more like the target's shut eyes than its open
    ones (render_open), so nothing is laid over them."""
    crops, points, poses = hopper
    eyes = TargetEyes(bank_with_blinks(crops, points, poses))
    for pts, pose in zip(points[1:], poses[1:]):
        eyes.distances(pts, pose, 4)
    render, moved = shut(crops[0], points[0])
    out = render.copy()
    assert eyes.lay_over(out, moved, OPAQUE, poses[0], 1.0, track=4) == (0.0, 0.0)
    assert np.array_equal(out, render)
