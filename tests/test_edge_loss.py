"""The gradient L1 term of the face loss (TrainConfig.edge_weight): what it sees that MSE does not."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import skimage.data
import torch
from swapstream.trainer.config import TrainConfig
from swapstream.trainer.losses import edge_loss, face_loss


def _face() -> torch.Tensor:
    """(1, 3, 96, 96) float32 in [0, 1]: the astronaut's face, a real image with edges."""
    image = cv2.resize(skimage.data.astronaut()[30:230, 150:350], (96, 96), interpolation=cv2.INTER_AREA)
    return torch.from_numpy(image.astype(np.float32) / 255.0).permute(2, 0, 1)[None]


def test_a_blur_costs_edges_where_an_offset_of_the_same_mse_costs_none():
    target = _face()
    blurred = torch.from_numpy(cv2.GaussianBlur(target[0].permute(1, 2, 0).numpy(), (0, 0), 1.5)).permute(2, 0, 1)[None]
    mse = float(((blurred - target) ** 2).mean())
    offset = target + mse**0.5  # the same squared error, every edge where it was
    assert float(((offset - target) ** 2).mean()) == pytest.approx(mse, rel=1e-4)
    ones = torch.ones(1, 1, 96, 96)
    assert float(edge_loss(target, target, ones)) == 0.0
    assert float(edge_loss(offset, target, ones)) < 1e-6
    assert float(edge_loss(blurred, target, ones)) > 0.01


def test_face_loss_adds_the_edge_term_weighted_by_the_mask_and_regions():
    target = _face()
    pred = torch.from_numpy(cv2.blur(target[0].permute(1, 2, 0).numpy(), (5, 5))).permute(2, 0, 1)[None]
    mask = torch.zeros(1, 1, 96, 96)
    mask[..., 16:80, 16:80] = 1.0
    region = torch.zeros(1, 1, 96, 96)
    region[..., 30:40, 20:76] = 1.0  # eyes: eyes_mouth_weight 3
    without = float(face_loss(pred, target, mask, region, 10.0, 10.0, 3.0))
    with_edges = float(face_loss(pred, target, mask, region, 10.0, 10.0, 3.0, edge_weight=5.0))
    weight = 1.0 + 2.0 * region
    expected = 5.0 * float(edge_loss(pred * mask, target * mask, weight))
    assert with_edges - without == pytest.approx(expected, rel=1e-4)
    # The regions weigh the term up: the same faces with no eye region cost less.
    assert float(edge_loss(pred * mask, target * mask, torch.ones_like(weight))) < expected / 5.0
    # Outside the mask nothing counts: changing the faces there changes nothing.
    outside = pred.clone()
    outside[..., :8, :] = 0.0
    again = float(face_loss(outside, target, mask, region, 10.0, 10.0, 3.0, edge_weight=5.0))
    assert again == pytest.approx(with_edges, rel=1e-6)


def test_edge_weight_is_validated_and_off_by_default():
    assert TrainConfig().edge_weight == 0.0
    assert TrainConfig.from_dict({}).edge_weight == 0.0  # older checkpoints load unchanged
    with pytest.raises(ValueError, match="edge_weight"):
        TrainConfig(edge_weight=-1.0)
