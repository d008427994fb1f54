"""Model contract: configs, presets, DF/LIAE shapes and swap directions, checkpoints."""

from __future__ import annotations

import pytest
import torch
from swapstream.trainer.checkpoint import find_checkpoint, load_checkpoint, save_checkpoint
from swapstream.trainer.config import ModelConfig, TrainConfig, available_presets, load_preset
from swapstream.trainer.model import build_model

from swapstream.common.errors import UserError

TINY_DF = ModelConfig("df", 32, 32, 8, 8, 4)
TINY_LIAE = ModelConfig("liae", 32, 32, 8, 8, 4)


def test_presets_exist_and_match_the_design():
    assert {"live", "balanced", "quality"} <= set(available_presets())
    balanced, _ = load_preset("balanced")
    assert (balanced.arch, balanced.resolution, balanced.ae_dims, balanced.e_dims, balanced.d_dims) == (
        "df",
        128,
        256,
        64,
        64,
    )
    quality, quality_train = load_preset("quality")
    assert quality.arch == "liae" and 192 <= quality.resolution <= 256 and quality_train.gan_power > 0
    assert all(load_preset(p)[0].face_type == "whole" for p in ("live", "balanced", "quality"))


@pytest.mark.parametrize("preset", ["live", "balanced", "quality"])
def test_forward_shapes_for_every_preset(preset):
    cfg, _ = load_preset(preset)
    r, o = cfg.resolution, cfg.output_resolution
    with torch.device("meta"):  # shapes only: the quality model is 150 GFLOP per face
        model = build_model(cfg)
        faces = model(torch.empty(2, 3, r, r), torch.empty(2, 3, r, r))
        swapped = model.render(torch.empty(3, 3, r, r), model.swap_directions()[0][-1])
    assert [tuple(t.shape) for t in faces] == [(2, 3, o, o), (2, 1, o, o)] * 2
    assert [tuple(t.shape) for t in swapped] == [(3, 3, o, o), (3, 1, o, o)]


@pytest.mark.parametrize("cfg", [TINY_DF, TINY_LIAE], ids=["df", "liae"])
def test_outputs_are_in_unit_range(cfg):
    torch.manual_seed(0)
    model = build_model(cfg)
    x = torch.rand(4, 3, 32, 32)
    with torch.no_grad():
        outs = list(model(x, x))
        outs += list(model.render(x, "a"))
    for t in outs:
        assert t.dtype == torch.float32 and t.min() >= 0.0 and t.max() <= 1.0


@pytest.mark.parametrize("output_scale", [1, 2])
def test_a_saturated_decoder_still_learns_under_bf16_autocast(output_scale):
    """A decoder pushed far into its sigmoid's flat end (outputs ~1 everywhere) must still get a
    gradient: in bf16 the sigmoid rounds to exactly 1.0 there and its gradient is exactly 0, the
    dead state that collapsed a CPU run; the decoder computes its sigmoids in fp32."""
    torch.manual_seed(0)
    model = build_model(ModelConfig("df", 32, 32, 8, 8, 4, output_scale=output_scale))
    with torch.no_grad():
        model.decoder_b.out_face.bias.fill_(9.0)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        face, _ = model.reconstruct(torch.rand(2, 3, 32, 32), "b")
    assert face.dtype == torch.bfloat16 and (face.float() == 1.0).all()  # saturated as seen in bf16
    ((face.float() - 0.5) ** 2).mean().backward()
    assert model.decoder_b.out_face.bias.grad.abs().min() > 0


def test_swap_directions_and_liae_refuses_a2b():
    assert build_model(TINY_DF).swap_directions() == ("a2b", "b2a")
    liae = build_model(TINY_LIAE)
    assert liae.swap_directions() == ("b2a",)
    x = torch.rand(1, 3, 32, 32)
    with pytest.raises(ValueError, match="LIAE"):
        liae.render(x, "b")
    with pytest.raises(ValueError):
        liae.swap_module("a2b")
    with torch.no_grad():
        face, mask = liae.swap_module("b2a")(x)
        ref_face, ref_mask = liae.render(x, "a")
    assert torch.equal(face, ref_face) and torch.equal(mask, ref_mask)


def test_df_decoders_differ_per_identity():
    model = build_model(TINY_DF)
    x = torch.rand(2, 3, 32, 32)
    with torch.no_grad():
        assert not torch.allclose(model.render(x, "a")[0], model.render(x, "b")[0])


def test_model_config_round_trip_and_validation():
    d = TINY_LIAE.to_dict()
    assert ModelConfig.from_dict(d) == TINY_LIAE
    with pytest.raises(ValueError, match="resolution"):
        ModelConfig.from_dict({**d, "resolution": 100})
    with pytest.raises(ValueError, match="arch"):
        ModelConfig.from_dict({**d, "arch": "unet"})
    with pytest.raises(ValueError, match="unknown key 'depth'"):
        ModelConfig.from_dict({**d, "depth": 3})
    with pytest.raises(ValueError, match="missing key 'ae_dims'"):
        ModelConfig.from_dict({k: v for k, v in d.items() if k != "ae_dims"})
    with pytest.raises(ValueError, match="precision"):
        TrainConfig(precision="int4")


def test_load_preset_names_file_and_bad_key(tmp_path):
    path = tmp_path / "mine.yaml"
    path.write_text(
        "model: {arch: df, resolution: 64, ae_dims: 64, e_dims: 8, d_dims: 8, d_mask_dims: 4}\n"
        "train: {batch_size: 4, lr: 1e-4, learning_speed: 3}\n"
    )
    with pytest.raises(UserError, match=r"mine\.yaml: train: unknown key 'learning_speed'"):
        load_preset(path)
    path.write_text(
        "model: {arch: df, resolution: 64, ae_dims: 64, e_dims: 8, d_dims: 8, d_mask_dims: 4}\n"
        "train: {batch_size: 4, lr: 1e-4}\n"
    )
    model_cfg, train_cfg = load_preset(path)
    assert model_cfg.resolution == 64 and train_cfg.lr == pytest.approx(1e-4)  # YAML reads 1e-4 as a string
    with pytest.raises(UserError, match="no such preset"):
        load_preset("nonexistent")


def _state(model, iteration=3):
    optimizer = torch.optim.Adam(model.parameters())
    return {
        "model_config": TINY_DF.to_dict(),
        "train_config": TrainConfig().to_dict(),
        "preset": "test",
        "model": model.state_dict(),
        "optimizer": optimizer.state_dict(),
        "iteration": iteration,
        "losses": {"loss_a": 0.5},
        "rng": {"seed": 1, "torch": torch.get_rng_state()},
    }


def test_checkpoint_round_trip_and_corruption(tmp_path):
    model = build_model(TINY_DF)
    path = tmp_path / "checkpoint.pt"
    save_checkpoint(path, _state(model))
    assert find_checkpoint(tmp_path) == path
    assert [p.name for p in tmp_path.iterdir()] == ["checkpoint.pt"]  # no temp file left behind
    state = load_checkpoint(path)
    assert state["iteration"] == 3 and state["losses"] == {"loss_a": 0.5}
    rebuilt = build_model(ModelConfig.from_dict(state["model_config"]))
    rebuilt.load_state_dict(state["model"])
    for k, v in model.state_dict().items():
        assert torch.equal(v, rebuilt.state_dict()[k])

    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])  # a truncated write
    with pytest.raises(UserError, match=r"checkpoint\.pt: corrupt"):
        load_checkpoint(path)
    torch.save({"format": "something-else"}, path)
    with pytest.raises(UserError, match="not a swapstream training checkpoint"):
        load_checkpoint(path)
    with pytest.raises(UserError, match=r"no checkpoint\.pt"):
        find_checkpoint(tmp_path / "..")
    with pytest.raises(ValueError, match="lacks"):
        save_checkpoint(path, {"iteration": 1})
