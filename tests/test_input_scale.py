"""Models that read more pixels than their grid (issue #12): a space-to-depth step before the
encoder (`input_scale: 2`), the grid in the export metadata, the engine's restored band.

Models are tiny (32 px grid: 64 px in, 64 px out) and fp32 with one torch thread.
"""

from __future__ import annotations

import dataclasses

import cv2
import numpy as np
import onnx
import pytest
import torch
from model_fixtures import seal
from swap_fixtures import outside_blend, run_swap
from swapstream.engine.engine_config import load_engine_config
from swapstream.engine.pipeline.build import swap_stages
from swapstream.engine.runtime import inspect_model, load_swap_model
from swapstream.trainer.config import ModelConfig
from swapstream.trainer.model import build_model
from swapstream.trainer.train import RunOptions, train
from tiny_model_fixtures import (
    CPU,
    FAST,
    one_torch_thread,  # noqa: F401 (a fixture, found by name)
    params_reshaped,
    run_both_ways,
    run_options,
)

from swapstream.cli import main as cli_main
from swapstream.common.errors import UserError
from tests.train_fixtures import pair_facesets

D2S = ModelConfig("df", 32, 64, 16, 16, 8, output_scale=2)
S2D = dataclasses.replace(D2S, input_scale=2)


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def test_input_scale_config_defaults_and_validation():
    assert (S2D.input_resolution, S2D.resolution, S2D.output_resolution) == (64, 32, 64)
    assert D2S.input_resolution == 32
    old = {k: v for k, v in D2S.to_dict().items() if k != "input_scale"}  # a checkpoint from before
    assert ModelConfig.from_dict(old) == D2S
    with pytest.raises(ValueError, match="input_scale"):
        dataclasses.replace(D2S, input_scale=4)


@pytest.mark.parametrize("arch", ["df", "liae"])
def test_space_to_depth_reads_twice_the_grid_and_only_the_first_conv_widens(arch):
    torch.manual_seed(0)
    model = build_model(dataclasses.replace(S2D, arch=arch))
    outs, swapped = run_both_ways(model, torch.rand(2, 3, 64, 64))
    assert [tuple(t.shape) for t in outs] == [(2, 3, 64, 64), (2, 1, 64, 64)] * 2
    assert [tuple(t.shape) for t in swapped] == [(2, 3, 64, 64), (2, 1, 64, 64)]
    differ = params_reshaped(model, dataclasses.replace(D2S, arch=arch))
    assert differ == ["encoder.blocks.0.conv.weight"]  # 12 input channels instead of 3


def test_detail_finer_than_the_grid_reaches_only_the_space_to_depth_encoder():
    """A 2x2 pattern that sums to zero in every block (a 1 px lid edge, say) vanishes when the crop
    is shrunk to the grid (INTER_AREA, what the engine feeds a 1x model), but changes what a
    space-to-depth encoder codes."""
    rng = np.random.default_rng(0)
    face = cv2.GaussianBlur(rng.integers(0, 256, (64, 64, 3), dtype=np.uint8), (0, 0), 3).astype(np.float32)
    checker = np.where((np.indices((64, 64)).sum(0) % 2) == 0, 20.0, -20.0).astype(np.float32)
    patterned = np.clip(face + checker[..., None] * (np.abs(face - 128) < 100), 0, 255)
    on_grid = [cv2.resize(f, (32, 32), interpolation=cv2.INTER_AREA) for f in (face, patterned)]
    assert np.abs(on_grid[0] - on_grid[1]).max() < 1e-3  # the 1x model reads the same crop
    torch.manual_seed(0)
    encoder = build_model(S2D).encoder
    with torch.no_grad():
        codes = [encoder(torch.from_numpy(f / 255).permute(2, 0, 1)[None].float()) for f in (face, patterned)]
    assert (codes[0] - codes[1]).abs().max() > 1e-3


@pytest.fixture(scope="module")
def facesets(tmp_path_factory):
    return pair_facesets(tmp_path_factory, size=64)


def _opts(facesets, run_dir) -> RunOptions:
    return run_options(facesets, run_dir, iters=3)


def test_faces_smaller_than_what_the_model_reads_are_refused(facesets, tmp_path):
    reads_128 = ModelConfig("df", 64, 64, 16, 16, 8, input_scale=2)  # reads 128 px; facesets are 64 px
    refused = r"faces are 64 px but the model trains at 128 px \(128 px in, 64 px grid, 64 px out\)"
    with pytest.raises(UserError, match=refused):
        train(_opts(facesets, tmp_path / "run"), reads_128, FAST)
    assert not (tmp_path / "run" / "checkpoint.pt").exists()


@pytest.fixture(scope="module")
def s2d_model(tmp_path_factory, facesets):
    run = tmp_path_factory.mktemp("run") / "s2d"
    train(_opts(facesets, run), S2D, FAST)
    path = run.parent / "s2d.onnx"
    assert cli_main(["export", str(run), "-o", str(path)]) == 0
    return path


def test_export_states_input_grid_and_output_resolution(s2d_model, tmp_path, capsys):
    contract = inspect_model(s2d_model)
    assert (contract.resolution, contract.grid_resolution, contract.output_resolution) == (64, 32, 64)
    capsys.readouterr()
    assert cli_main(["info", str(s2d_model)]) == 0
    assert "whole, 64 px in, 32 px grid, 64 px out" in capsys.readouterr().out
    meta = {p.key: p.value for p in onnx.load(str(s2d_model)).metadata_props}
    assert meta["swapstream.grid_resolution"] == "32"
    faces, masks = load_swap_model(s2d_model, CPU).swap(np.full((2, 64, 64, 3), 100, np.uint8))
    assert faces.shape == (2, 64, 64, 3) and masks.shape == (2, 64, 64)
    # Exported before the key existed: the grid is the input. A grid finer than the input is refused.
    assert inspect_model(_with_grid(s2d_model, tmp_path / "old.onnx", None)).grid_resolution == 64
    with pytest.raises(UserError, match="grid_resolution 128 exceeds"):
        inspect_model(_with_grid(s2d_model, tmp_path / "bad.onnx", "128"))


def _with_grid(src, dst, value: str | None):
    model = onnx.load(str(src))
    keep = [p for p in model.metadata_props if p.key != "swapstream.grid_resolution"]
    del model.metadata_props[:]
    model.metadata_props.extend(keep)
    if value is not None:
        onnx.helper.set_model_props(model, {**{p.key: p.value for p in keep}, "swapstream.grid_resolution": value})
    seal(model)  # as its export would have stated it (a contract the engine refuses stays unsealed)
    onnx.save(model, str(dst))
    return dst


def test_engine_feeds_the_full_crop_and_restores_the_band_finer_than_the_grid(s2d_model, astronaut_bgr):
    blend = swap_stages(load_swap_model(s2d_model, CPU), load_engine_config(), offline=True)[-1]
    assert blend.detail_cell == 2  # the band between the 32 px grid and the 64 px render
    frame = np.ascontiguousarray(cv2.resize(astronaut_bgr[0:300, 100:400], (400, 400)))
    (packet,) = run_swap(s2d_model, [frame], detail=1.0, detail_from="driver")
    (slot,) = packet.faces
    assert slot.crop.shape == slot.swapped.shape == (64, 64, 3)
    outside = outside_blend(slot, frame.shape)
    assert outside.mean() > 0.5
    assert np.array_equal(frame[outside], packet.frame[outside]), "pixels outside the blend mask changed"
    assert (frame[~outside] != packet.frame[~outside]).any()
