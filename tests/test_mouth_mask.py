"""engine.face.mask.mouth_interior_mask on real open and closed mouths (d6.mp4, an expressive clip)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from conftest import media
from swapstream.engine.face.align import alignment_matrix, transform_points
from swapstream.engine.face.landmarks import FaceMesh
from swapstream.engine.face.mask import MOUTH_CORNERS, mouth_interior_mask

SIZE = 256


@pytest.fixture(scope="module")
def crop_landmarks() -> dict[str, np.ndarray]:
    """Crop-space landmarks of one open-mouth and one closed-mouth frame of d6.mp4, picked by the
    lip gap / mouth width ratio (open > 0.5, closed < 0.05) among every 25th frame."""
    cap = cv2.VideoCapture(str(media("d6.mp4")))
    mesh = FaceMesh(static=True, max_faces=1)
    found: dict[str, np.ndarray] = {}
    index = 0
    while len(found) < 2:
        ok, frame = cap.read()
        if not ok:
            break
        faces = mesh.process(frame) if index % 25 == 0 else []
        index += 1
        if not faces:
            continue
        lm = faces[0].landmarks
        m = alignment_matrix(lm, "whole", SIZE)
        crop_lm = transform_points(lm, m)
        a, b = MOUTH_CORNERS
        ratio = np.linalg.norm(crop_lm[13, :2] - crop_lm[14, :2]) / np.linalg.norm(crop_lm[a, :2] - crop_lm[b, :2])
        key = "open" if ratio > 0.5 else "closed" if ratio < 0.05 else None
        if key and key not in found:
            found[key] = crop_lm
    mesh.close()
    assert set(found) == {"open", "closed"}
    return found


def test_open_mouth_interior_is_kept_and_lips_are_not(crop_landmarks):
    lm = crop_landmarks["open"]
    mask = mouth_interior_mask(lm, SIZE)
    centre = np.round((lm[13, :2] + lm[14, :2]) / 2).astype(int)
    assert mask[centre[1], centre[0]] > 0.95
    for outside in (1, 152, 0, 17):  # nose tip, chin, outer upper and lower lip
        x, y = np.round(lm[outside, :2]).astype(int)
        assert mask[y, x] == 0.0, outside
    assert mask.min() >= 0.0 and mask.max() <= 1.0 and mask.dtype == np.float32


def test_closed_mouth_keeps_nothing(crop_landmarks):
    assert (
        mouth_interior_mask(crop_landmarks["closed"], SIZE).sum()
        < 0.01 * mouth_interior_mask(crop_landmarks["open"], SIZE).sum()
    )
