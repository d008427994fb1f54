"""The sharpness figure of `swapstream eval` (engine/quality/sharpness.py) on a real public-domain face."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from swapstream.engine.quality.pixels import face_region
from swapstream.engine.quality.sharpness import high_frequency_energy, inner_face_region, summarize_sharpness


@pytest.fixture(scope="module")
def face(astronaut_bgr):
    """(frame, landmarks) of the astronaut, head and shoulders (MediaPipe's short-range detector)."""
    from swapstream.engine.face.tracking import PhotoFaceFinder

    frame = np.ascontiguousarray(cv2.resize(astronaut_bgr[0:300, 100:400], (400, 400)))
    finder = PhotoFaceFinder(max_faces=1)
    try:
        (found,) = finder.find(frame)
    finally:
        finder.close()
    return frame, found.landmarks


def _ratio(driving: np.ndarray, swapped: np.ndarray, region: np.ndarray) -> float:
    return summarize_sharpness([high_frequency_energy(driving, region)], [high_frequency_energy(swapped, region)]).ratio


def test_inner_region_lies_inside_the_face_hull(face):
    frame, landmarks = face
    hull, inner = face_region(landmarks, frame.shape), inner_face_region(landmarks, frame.shape)
    assert inner.any() and not (inner & ~hull).any()
    assert 0.2 < inner.sum() / hull.sum() < 0.9


def test_identical_is_one_blurred_or_upscaled_is_well_below_and_noise_above(face):
    frame, landmarks = face
    region = inner_face_region(landmarks, frame.shape)
    assert _ratio(frame, frame.copy(), region) == 1.0
    blurred = cv2.GaussianBlur(frame, (0, 0), 2.0)
    assert _ratio(frame, blurred, region) < 0.3
    # What a model that renders too few pixels for the face does: detail lost to the upscale.
    h, w = frame.shape[:2]
    upscaled = cv2.resize(cv2.resize(frame, (w // 4, h // 4), interpolation=cv2.INTER_AREA), (w, h))
    assert _ratio(frame, upscaled, region) < 0.5
    noisy = np.clip(frame + np.random.default_rng(0).normal(0, 8, frame.shape), 0, 255).astype(np.uint8)
    assert _ratio(frame, noisy, region) > 1.2
    # Only the region counts: blurring everything outside it changes little (the seam at its edge).
    outside_blurred = np.where(region[..., None], frame, blurred)
    assert _ratio(frame, outside_blurred, region) == pytest.approx(1.0, abs=0.05)


def test_summary_over_frames():
    s = summarize_sharpness([10.0, 30.0], [5.0, 5.0])
    assert s.frames_compared == 2 and s.ratio == pytest.approx(0.25) and s.driving_energy == 20.0
    assert summarize_sharpness([], []).ratio is None
    assert high_frequency_energy(np.zeros((8, 8, 3), np.uint8), np.zeros((8, 8), bool)) == 0.0
