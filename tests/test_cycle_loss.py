"""The cycle term (TrainConfig.cycle_weight): A's faces swapped to B and back must give A again."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import skimage.data
import torch
import torch.nn.functional as F
from swapstream.trainer.config import ModelConfig, TrainConfig
from swapstream.trainer.model import build_model
from swapstream.trainer.step import cycle_loss

TINY_DF_2X = ModelConfig("df", 32, 32, 8, 8, 4, output_scale=2)


def _faces() -> dict[str, torch.Tensor]:
    """The astronaut's face as A's input (32 px) and target (64 px), with a mask and no regions."""
    face = skimage.data.astronaut()[30:230, 150:350]

    def tensor(side: int) -> torch.Tensor:
        image = cv2.resize(face, (side, side), interpolation=cv2.INTER_AREA).astype(np.float32) / 255.0
        return torch.from_numpy(image).permute(2, 0, 1)[None].repeat(2, 1, 1, 1)

    mask = torch.zeros(2, 1, 64, 64)
    mask[..., 8:56, 8:56] = 1.0
    return {"a_input": tensor(32), "a_target": tensor(64), "a_mask": mask, "a_region": torch.zeros(2, 1, 64, 64)}


def test_the_cycle_goes_through_bs_decoder_and_back_through_as():
    """The term's gradient reaches both decoders: B's decoder is what learns to carry A's
    expression. The way back reads the swap shrunk to the model's input size."""
    torch.manual_seed(0)
    model = build_model(TINY_DF_2X)
    t = _faces()
    back = model.cycle(t["a_input"])
    assert back.shape == (2, 3, 64, 64) and float(back.detach().min()) >= 0.0 and float(back.detach().max()) <= 1.0
    with torch.no_grad():
        swapped, _ = model.decoder_b(model.inter(model.encoder(t["a_input"])))
        expected, _ = model.decoder_a(model.inter(model.encoder(F.interpolate(swapped, size=32, mode="area"))))
    torch.testing.assert_close(back.detach(), expected)
    loss = cycle_loss(back, t, TrainConfig())
    loss.backward()
    for decoder in (model.decoder_a, model.decoder_b):
        assert sum(float(p.grad.abs().sum()) for p in decoder.parameters() if p.grad is not None) > 0


def test_the_cycle_is_off_by_default_validated_and_df_only():
    assert TrainConfig().cycle_weight == 0.0
    assert TrainConfig.from_dict({}).cycle_weight == 0.0  # older checkpoints load unchanged
    with pytest.raises(ValueError, match="cycle_weight"):
        TrainConfig(cycle_weight=-1.0)
    liae = build_model(ModelConfig("liae", 32, 32, 8, 8, 4))
    with pytest.raises(ValueError, match="df"):
        liae.cycle(torch.rand(1, 3, 32, 32))
