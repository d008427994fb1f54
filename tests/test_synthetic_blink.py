"""Synthetic blinks (trainer/synthetic_blink.py) on real faces, read back by FaceMesh, and ICNR."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from swapstream.engine.face.landmarks import FaceMesh
from swapstream.engine.face.openness import eye_openness
from swapstream.trainer import synthetic_blink
from swapstream.trainer.config import TrainConfig
from swapstream.trainer.model import SwapAutoencoder, init_icnr
from swapstream.trainer.synthetic_blink import blink_amounts, blink_batch, close_eyes, needs_blinks


@pytest.fixture(scope="module")
def mesh():
    m = FaceMesh(static=True)
    yield m
    m.close()


@pytest.mark.parametrize("portrait", ["astronaut_bgr", "grace_hopper_bgr"])
def test_closed_eyes_read_as_closed_and_nothing_else_moves(portrait, mesh, request):
    """FaceMesh, which eval uses, reads the drawn-down lids as a smaller lid gap, more so the
    larger the amount; below the eyes and above the stretched band every pixel is untouched."""
    image = request.getfixturevalue(portrait)
    landmarks = mesh.process(image)[0].landmarks
    before = eye_openness(landmarks)
    half, shut = (close_eyes(image, landmarks, a) for a in (0.5, 1.0))
    read = [eye_openness(mesh.process(x)[0].landmarks) for x in (half, shut)]
    assert read[1] < read[0] < 0.9 * before and read[1] < 0.65 * before, (before, read)
    eye_width = np.linalg.norm(landmarks[33, :2] - landmarks[133, :2])
    sb = synthetic_blink
    lids = landmarks[list(sb.RIGHT_UPPER + sb.RIGHT_LOWER + sb.LEFT_UPPER + sb.LEFT_LOWER), 1]
    top = int(lids.min() - synthetic_blink.LID_BAND * eye_width * 1.2)
    bottom = int(np.ceil(lids.max())) + 2
    for out in (half, shut):
        assert np.array_equal(out[:top], image[:top]) and np.array_equal(out[bottom:], image[bottom:])
        assert not np.array_equal(out[top:bottom], image[top:bottom])
    assert np.array_equal(close_eyes(image, landmarks, 0.0), image)


def test_blink_batch_closes_about_its_rate_of_faces_input_and_target_alike(astronaut_bgr, mesh):
    import cv2

    face = cv2.resize(astronaut_bgr[40:296, 120:376], (128, 128), interpolation=cv2.INTER_AREA)
    landmarks = mesh.process(cv2.resize(face, (256, 256), interpolation=cv2.INTER_CUBIC))[0].landmarks[:, :2] / 2
    n = 400
    images = np.repeat(face[None], n, 0)
    smalls = np.repeat(cv2.resize(face, (64, 64), interpolation=cv2.INTER_AREA)[None], n, 0)
    rng = np.random.default_rng(3)
    out, out_small = blink_batch(rng, images, smalls, np.repeat(landmarks[None], n, 0), 0.25)
    changed = np.array([not np.array_equal(o, face) for o in out])
    changed_small = np.array([not np.array_equal(o, smalls[0]) for o in out_small])
    assert 0.18 < changed.mean() < 0.32 and np.array_equal(changed, changed_small)
    assert np.array_equal(images[0], face)  # the faces in memory are not touched
    # The input crop is closed where its own pixels are: its shrunk target matches it closely.
    i = int(np.flatnonzero(changed)[0])
    shrunk = cv2.resize(out[i], (64, 64), interpolation=cv2.INTER_AREA).astype(float)
    assert np.abs(shrunk - out_small[i]).mean() < 2.0


def test_blink_amounts_and_which_facesets_need_them():
    rng = np.random.default_rng(0)
    assert not blink_amounts(rng, 100, 0.0).any()
    a = blink_amounts(rng, 4000, 0.3)
    drawn = a[a > 0]
    assert 0.27 < len(drawn) / len(a) < 0.33
    assert drawn.min() >= synthetic_blink.AMOUNT_RANGE[0] and drawn.max() == 1.0
    assert 0.15 < (drawn == 1.0).mean() < 0.35  # about a quarter fully shut
    assert needs_blinks(0, 250) and needs_blinks(4, 250) and not needs_blinks(6, 250) and not needs_blinks(0, 0)
    with pytest.raises(ValueError, match="synthetic_blinks"):
        TrainConfig(synthetic_blinks=1.5)


def test_icnr_starts_the_pixel_shuffle_as_a_nearest_neighbour_enlargement():
    torch.manual_seed(0)
    model = SwapAutoencoder(arch="df", resolution=32, ae_dims=32, e_dims=8, d_dims=8, d_mask_dims=4, output_scale=2)
    x = torch.rand(2, 3, 32, 32)

    def checker(m: SwapAutoencoder) -> float:
        with torch.no_grad():
            face, _ = m.render(x, "b")
        return float((face[..., 0::2, 0::2] - face[..., 1::2, 1::2]).abs().max())

    assert checker(model) > 1e-3  # PyTorch's default init: every sub-pixel its own
    assert init_icnr(model) == 1 + 2 * (6 + 2)  # the inter's Upscale; per decoder 6 Upscales, 2 output convs
    assert checker(model) == 0.0
