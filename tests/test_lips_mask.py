"""lips_mask works only around the mouth (issue 29: the blend's detail mask took 0.2-0.45 ms of
whole-crop dilation and blur per face): the same values as over the whole crop, on real faces,
with the mouth anywhere in the crop, its edges included."""

from __future__ import annotations

import cv2
import numpy as np
from photo_fixtures import face_frames
from swapstream.engine.face.align import alignment_matrix, transform_points
from swapstream.engine.face.mask import OUTER_LIPS, lips_mask
from swapstream.engine.face.tracking import PhotoFaceFinder


def whole_crop_lips_mask(crop_landmarks: np.ndarray, size: int, grow: float = 0.15) -> np.ndarray:
    """lips_mask as it was: the dilation and the blur over the whole crop."""
    pts = np.asarray(crop_landmarks, np.float32)[:, :2]
    width = float(np.linalg.norm(pts[OUTER_LIPS[0]] - pts[OUTER_LIPS[10]]))
    out = np.zeros((size, size), np.float32)
    if width < 2:
        return out
    cv2.fillPoly(out, [np.round(pts[list(OUTER_LIPS)] * 16).astype(np.int32)], 1.0, lineType=cv2.LINE_AA, shift=4)
    radius = max(1, round(grow * width))
    out = cv2.dilate(out, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1)))
    return cv2.GaussianBlur(out, (0, 0), sigmaX=radius / 2)


def test_lips_mask_equals_the_whole_crop_computation_wherever_the_mouth_is():
    finder = PhotoFaceFinder(max_faces=1)
    try:
        landmarks = [finder.find(f)[0].landmarks for f in face_frames("astronaut", 2) + face_frames("hopper", 2)]
    finally:
        finder.close()
    touched_edge = 0
    for lm in landmarks:
        for size in (64, 128, 256):
            pts = transform_points(lm, alignment_matrix(lm, "whole", size))
            for dx, dy in ((0, 0), (0, 0.3), (0.35, -0.6), (-0.4, 0.1)):
                moved = pts.copy()
                moved[:, 0] += dx * size
                moved[:, 1] += dy * size
                want = whole_crop_lips_mask(moved, size)
                got = lips_mask(moved, size)
                assert np.array_equal(got, want), (size, dx, dy)
                touched_edge += bool(want[0].any() or want[-1].any() or want[:, 0].any() or want[:, -1].any())
    assert touched_edge >= 4, "some mouths should reach the crop's edge"
