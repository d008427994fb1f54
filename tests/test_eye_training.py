"""Eyes in training (issue #12, item 3): eye-openness balanced sampling, separate eye and mouth
regions, and a DSSIM weight of its own inside the eyes."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from swapstream.engine.face.openness import EYE_LIDS, INNER_LIPS, OUTER_EYE_CORNERS, eye_openness, mouth_openness
from swapstream.engine.quality.expression import expression_of
from swapstream.trainer import data, sampling
from swapstream.trainer.config import TrainConfig
from swapstream.trainer.losses import face_loss

NO_AUG = data.AugmentConfig(False, False, 0.0, 0.0, 0.0, 0.0)


def _ring(landmarks: np.ndarray, contour: tuple[int, ...], centre: tuple[float, float], radius: float) -> None:
    angles = np.linspace(0, 2 * np.pi, len(contour), endpoint=False)
    landmarks[list(contour), 0] = centre[0] + radius * np.cos(angles)
    landmarks[list(contour), 1] = centre[1] + radius * np.sin(angles)


def test_openness_is_eval_measure_in_eye_corner_units():
    """Training balances on exactly what eval correlates: the gaps over the outer eye-corner
    distance, the same for a face of any size."""
    landmarks = np.zeros((478, 3), np.float32)
    landmarks[list(OUTER_EYE_CORNERS), 0] = (100, 200)  # 100 px between the outer eye corners
    landmarks[list(INNER_LIPS), 1] = (300, 330)  # lips 30 px apart
    (r_up, r_low), (l_up, l_low) = EYE_LIDS
    landmarks[[r_up, r_low, l_up, l_low], 1] = (100, 110, 100, 104)  # lid gaps 10 and 4 px
    for scale in (1.0, 3.0):
        assert mouth_openness(landmarks * scale) == pytest.approx(0.3)
        assert eye_openness(landmarks * scale) == pytest.approx(0.07)
    assert expression_of(landmarks).mouth == pytest.approx(0.3) and expression_of(landmarks).eyes == pytest.approx(0.07)


def test_region_map_marks_eyes_and_mouth_apart():
    landmarks = np.full((478, 2), 32.0, np.float32)
    _ring(landmarks, data.LEFT_EYE, (20, 20), 4)
    _ring(landmarks, data.RIGHT_EYE, (44, 20), 4)
    _ring(landmarks, data.LIPS, (32, 48), 7)
    region = data.region_map(landmarks, 64)
    assert region[20, 20] == region[20, 44] == data.REGION_EYES
    assert region[48, 32] == data.REGION_MOUTH
    assert region[5, 32] == region[32, 5] == 0


def _faces(openness: np.ndarray, mouths: np.ndarray | None = None) -> data.IdentityFaces:
    """Faces of 8 px whose pixel value is their index, so a batch's target tells which were drawn."""
    n = len(openness)
    images = np.repeat(np.arange(n, dtype=np.uint8)[:, None, None, None], 8, 1).repeat(8, 2).repeat(3, 3)
    masks = np.full((n, 8, 8), 255, np.uint8)
    regions = np.zeros((n, 8, 8), np.uint8)
    return data.IdentityFaces(
        images, masks, regions, np.zeros(n, np.float32), [str(i) for i in range(n)], None, openness, mouths
    )


def test_eye_balance_draws_rare_eye_openness_more_often():
    openness = np.array([0.15] * 90 + [0.02] * 10, np.float32)  # 10% of the faces have closed eyes
    faces = _faces(openness)
    closed = openness < 0.05

    def closed_share(balance: float) -> float:
        return float(sampling.sampling_weights(faces, True, balance)[closed].sum())

    assert closed_share(0.0) == pytest.approx(0.1)
    assert closed_share(1.0) == pytest.approx(0.5)  # every openness bin as often as every other
    assert 0.1 < closed_share(0.5) < 0.5
    assert sampling.sampling_weights(faces, False, 0.0) is None
    # Batches draw by those weights and stay a pure function of (seed, iteration).
    batches = [data.make_batch(7, 0, faces, faces, 400, NO_AUG, True, False, eye_balance=1.0) for _ in range(2)]
    assert np.array_equal(batches[0].a_target, batches[1].a_target)
    drawn = batches[0].a_target[:, 0, 0, 0]
    assert 0.4 < closed[drawn].mean() < 0.6
    plain = data.make_batch(7, 0, faces, faces, 400, NO_AUG, True, False)
    assert closed[plain.a_target[:, 0, 0, 0]].mean() < 0.2


def test_eye_balance_cap_keeps_a_lone_closed_eye_frame_from_dominating_the_draws():
    """One closed-eye frame alone in its bin (as in a real 504-face clip) took 1/bins of all draws
    uncapped; capped, no face is drawn more than `cap` times as often as without eye balance."""
    openness = np.array([0.02] + [0.10] * 40 + [0.13] * 300 + [0.15] * 159, np.float32)
    faces = _faces(openness)
    plain = sampling.sampling_weights(faces, True, 0.0)
    uncapped = sampling.sampling_weights(faces, True, 1.0)
    assert uncapped[0] == pytest.approx(0.25)  # 4 bins, one face: a quarter of every batch
    for cap in (1.0, 4.0, 8.0):
        w = sampling.sampling_weights(faces, True, 1.0, cap)
        assert w.sum() == pytest.approx(1.0) and (w / plain).max() <= cap * (1 + 1e-6)
        assert w[0] == pytest.approx(cap / len(openness))  # still the most favoured face
    assert sampling.sampling_weights(faces, True, 1.0, 8.0)[1:41].sum() > plain[1:41].sum()  # half-closed up
    assert np.allclose(sampling.sampling_weights(faces, True, 1.0, 1.0), plain)  # cap 1: no balance left
    with pytest.raises(ValueError, match="balance_cap"):
        TrainConfig(balance_cap=0.5)


def test_mouth_balance_draws_open_mouths_more_often_and_shares_the_cap_with_the_eyes():
    """A talking clip is mostly closed lips: 80 closed, 15 half open, 5 wide open mouths. Balanced,
    each openness bin is drawn about equally; with eye balance on too, the product of the two
    factors stays under the one cap."""
    mouths = np.array([0.01] * 80 + [0.12] * 15 + [0.32] * 5, np.float32)
    eyes = np.array([0.15] * 95 + [0.02] * 5, np.float32)  # the wide-open mouths also blink
    faces = _faces(eyes, mouths)
    plain = sampling.sampling_weights(faces, True, 0.0)
    wide = mouths > 0.3
    assert plain[wide].sum() == pytest.approx(0.05)
    assert sampling.sampling_weights(faces, True, 0.0, mouth_balance=1.0)[wide].sum() == pytest.approx(1 / 3)
    both = sampling.sampling_weights(faces, True, 1.0, 8.0, mouth_balance=1.0)
    assert both.sum() == pytest.approx(1.0) and (both / plain).max() <= 8.0 * (1 + 1e-6)
    assert both[wide] == pytest.approx(8.0 / 100)  # blinking and wide open: at the cap, not 8 x 8
    half = (mouths > 0.1) & (mouths < 0.3)
    assert both[half].sum() > sampling.sampling_weights(faces, True, 1.0, 8.0)[half].sum()
    drawn = data.make_batch(3, 0, faces, faces, 600, NO_AUG, True, False, mouth_balance=1.0).a_target[:, 0, 0, 0]
    assert 0.25 < wide[drawn].mean() < 0.42
    with pytest.raises(ValueError, match="mouth_balance"):
        TrainConfig(mouth_balance=-0.1)
    assert TrainConfig.from_dict({"eye_balance_cap": 4.0}).balance_cap == 4.0  # a checkpoint of before


def test_eye_dssim_weight_acts_on_dssim_inside_the_eyes_only():
    torch.manual_seed(0)
    pred, target = torch.rand(2, 3, 32, 32), torch.rand(2, 3, 32, 32)
    mask = torch.ones(2, 1, 32, 32)
    eyes = torch.zeros(2, 1, 32, 32)
    eyes[..., 8:14, 6:26] = data.REGION_EYES
    mouth = eyes / data.REGION_EYES * data.REGION_MOUTH

    def loss(region, eyes_dssim, dssim=10.0, mse=10.0):
        return float(face_loss(pred, target, mask, region, dssim, mse, 3.0, eyes_dssim))

    # Without the option, eyes and mouth weigh the same (eyes_mouth_weight).
    assert loss(eyes, 0.0) == pytest.approx(loss(mouth, 0.0))
    # The option raises the eyes' DSSIM, not their MSE, and leaves the mouth alone.
    assert loss(eyes, 10.0) > loss(eyes, 0.0)
    assert loss(eyes, 10.0, dssim=0.0) == pytest.approx(loss(eyes, 0.0, dssim=0.0))
    assert loss(mouth, 10.0) == pytest.approx(loss(mouth, 0.0))


def test_eye_options_are_validated():
    with pytest.raises(ValueError, match="eye_balance"):
        TrainConfig(eye_balance=1.5)
    with pytest.raises(ValueError, match="eyes_dssim_weight"):
        TrainConfig(eyes_dssim_weight=0.5)
    assert TrainConfig.from_dict({}).eye_balance == 0.0  # older checkpoints load unchanged
