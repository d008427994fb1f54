"""Models that render more pixels than they read (issue #12): depth-to-space decoders, training
targets at the output resolution, export metadata, the engine with input != output, --base.

Models are tiny (32 px in, 64 px out) and fp32 with one torch thread.
"""

from __future__ import annotations

import dataclasses

import cv2
import numpy as np
import onnx
import pytest
import torch
from model_fixtures import write_invert_model
from swap_fixtures import outside_blend
from swapstream.engine.engine_config import load_engine_config
from swapstream.engine.pipeline.build import swap_stages
from swapstream.engine.runtime import inspect_model, load_swap_model
from swapstream.trainer import data
from swapstream.trainer.checkpoint import load_checkpoint
from swapstream.trainer.config import ModelConfig, load_preset
from swapstream.trainer.model import build_model
from swapstream.trainer.train import train
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
from swapstream.common.faceset import Faceset
from swapstream.common.pipeline_contract import FramePacket
from tests.train_fixtures import pair_facesets

PLAIN = ModelConfig("df", 32, 64, 16, 16, 8)
D2S = dataclasses.replace(PLAIN, output_scale=2)


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def facesets(tmp_path_factory):
    return pair_facesets(tmp_path_factory, size=64)


# ------------------------------------------------------------------------------------ model
@pytest.mark.parametrize("arch", ["df", "liae"])
def test_depth_to_space_decoders_render_twice_the_input(arch):
    torch.manual_seed(0)
    model = build_model(dataclasses.replace(D2S, arch=arch))
    outs, swapped = run_both_ways(model, torch.rand(3, 3, 32, 32))
    assert [tuple(t.shape) for t in outs] == [(3, 3, 64, 64), (3, 1, 64, 64)] * 2
    assert [tuple(t.shape) for t in swapped] == [(3, 3, 64, 64), (3, 1, 64, 64)]
    assert all(float(t.min()) >= 0 and float(t.max()) <= 1 for t in (*outs, *swapped))
    # Only the last conv of each branch differs from the plain decoder (3x3 to 4x the channels).
    differ = params_reshaped(model, dataclasses.replace(PLAIN, arch=arch))
    assert differ and all(k.split(".")[-2] in ("out_face", "out_mask") for k in differ), differ


def test_output_scale_config_defaults_and_validation():
    assert D2S.output_resolution == 64 and PLAIN.output_resolution == 32
    old = {k: v for k, v in PLAIN.to_dict().items() if k != "output_scale"}  # a checkpoint from before
    assert ModelConfig.from_dict(old) == PLAIN
    with pytest.raises(ValueError, match="output_scale"):
        dataclasses.replace(PLAIN, output_scale=3)
    live, _ = load_preset("live")
    assert (live.resolution, live.output_resolution) == (64, 128)


# ------------------------------------------------------------------------------------- data
def test_rescale_affine_is_exact_under_opencv_resize():
    rng = np.random.default_rng(0)
    big = cv2.GaussianBlur(rng.integers(0, 256, (64, 64, 3), dtype=np.uint8), (0, 0), 3)
    small = cv2.resize(big, (32, 32), interpolation=cv2.INTER_AREA)
    m = cv2.getRotationMatrix2D((32, 32), 7.0, 1.03)
    m[:, 2] += (2.5, -1.5)
    via_big = cv2.resize(cv2.warpAffine(big, m, (64, 64)), (32, 32), interpolation=cv2.INTER_AREA)
    via_small = cv2.warpAffine(small, data.rescale_affine(m, 0.5), (32, 32))
    inner = (slice(4, -4), slice(4, -4))  # borders differ by construction
    assert np.abs(via_big[inner].astype(int) - via_small[inner]).mean() < 1.5


def test_targets_masks_and_eye_mouth_regions_at_the_output_resolution(facesets):
    fs = Faceset.open(facesets[0])
    faces = data.load_faces(fs, 32, 64)
    assert faces.images.shape[1:] == (64, 64, 3) and faces.inputs.shape[1:] == (32, 32, 3)
    assert faces.masks.shape[1:] == faces.regions.shape[1:] == (64, 64)
    # The eye/mouth regions are drawn from the landmarks at 64 px: they cover the eye centres.
    for i, rec in enumerate(fs.faces[:5]):
        for eye in (data.LEFT_EYE, data.RIGHT_EYE):
            x, y = np.round(rec.landmarks[list(eye), :2].mean(0) * 64 / fs.size).astype(int)
            assert faces.regions[i, y, x] == 1
    no_aug = data.AugmentConfig(False, False, 0.0, 0.0, 0.0, 0.0)
    batch = data.make_batch(3, 0, faces, faces, 4, no_aug, False, False)
    assert batch.a_input.shape == (4, 32, 32, 3) and batch.a_target.shape == (4, 64, 64, 3)
    assert batch.a_mask.shape == batch.a_region.shape == (4, 64, 64)
    down = np.stack([cv2.resize(t, (32, 32), interpolation=cv2.INTER_AREA) for t in batch.a_target])
    assert np.abs(down.astype(int) - batch.a_input).mean() < 2.0  # same crop, same (identity) affine
    aug = data.AugmentConfig(True, True, 0.05, 10.0, 0.05, 0.05)
    b1, b2 = (data.make_batch(5, 1, faces, faces, 4, aug, True, True) for _ in range(2))
    assert np.array_equal(b1.b_input, b2.b_input) and np.array_equal(b1.b_target, b2.b_target)


# ------------------------------------------------------------------------------ train, --base
def test_d2s_model_trains_and_warm_starts_from_a_plain_run(facesets, tmp_path):
    plain = train(run_options(facesets, tmp_path / "plain", iters=2), PLAIN, FAST)
    assert plain.base is None
    s = train(run_options(facesets, tmp_path / "d2s", iters=2, base=tmp_path / "plain"), D2S, FAST)
    warm = s.base
    skipped = {name.split(" ")[0] for name in warm.skipped}
    assert skipped == {f"decoder_{i}.out_{o}.{p}" for i in "ab" for o in ("face", "mask") for p in ("weight", "bias")}
    assert len(warm.loaded) == len(build_model(D2S).state_dict()) - 8 and not warm.unused
    assert 0.99 < warm.loaded_values / warm.total_values < 1.0
    base_weights = load_checkpoint(plain.checkpoint)["model"]
    state = load_checkpoint(s.checkpoint)
    assert state["base"]["loaded"] == list(warm.loaded) and state["base"]["source"].endswith("checkpoint.pt")
    assert not torch.equal(state["model"]["encoder.blocks.0.conv.weight"], base_weights["encoder.blocks.0.conv.weight"])


def test_base_through_the_cli(facesets, tmp_path, capsys):
    a, b = facesets
    preset = tmp_path / "d2s.yaml"
    preset.write_text(
        "model: {arch: df, resolution: 32, output_scale: 2, ae_dims: 64, e_dims: 16, d_dims: 16, d_mask_dims: 8}\n"
        "train: {batch_size: 2, validation_faces: 2, precision: fp32, lr_warmup_iters: 1}\n"
    )
    common = ["train", "-a", str(a), "-b", str(b), "--preset", str(preset), "--iters", "1", "--threads", "1"]
    assert cli_main([*common, "-o", str(tmp_path / "first"), "--no-progress"]) == 0
    capsys.readouterr()
    assert cli_main([*common, "-o", str(tmp_path / "second"), "--base", str(tmp_path / "first"), "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "warm start from" in out and "(100.0% of the weights), skipped 0," in out
    assert "32 px in, 64 px out" in out
    assert cli_main([*common, "-o", str(tmp_path / "second"), "--resume", "--base", str(tmp_path / "first")]) == 2
    assert "--base starts a new run" in capsys.readouterr().err
    assert cli_main([*common, "-o", str(tmp_path / "third"), "--base", str(tmp_path / "nope")]) == 2
    assert "nope: no such run directory or checkpoint" in capsys.readouterr().err


# ---------------------------------------------------------------------- export and the engine
@pytest.fixture(scope="module")
def d2s_model(tmp_path_factory, facesets):
    run = tmp_path_factory.mktemp("run") / "d2s"
    train(run_options(facesets, run, iters=3), D2S, FAST)
    path = run.parent / "d2s.onnx"
    assert cli_main(["export", str(run), "-o", str(path)]) == 0
    return path


def test_export_states_input_and_output_resolution(d2s_model, tmp_path):
    contract = inspect_model(d2s_model)
    assert (contract.resolution, contract.output_resolution) == (32, 64)
    meta = {p.key: p.value for p in onnx.load(str(d2s_model)).metadata_props}
    assert meta["swapstream.resolution"] == "32" and meta["swapstream.output_resolution"] == "64"
    model = load_swap_model(d2s_model, CPU)
    faces, masks = model.swap(np.full((2, 32, 32, 3), 100, np.uint8))
    assert faces.shape == (2, 64, 64, 3) and masks.shape == (2, 64, 64)
    assert model.swap(np.zeros((0, 32, 32, 3), np.uint8))[0].shape == (0, 64, 64, 3)
    # A model exported before output_resolution existed reads as in = out ...
    old = _without_output_resolution(write_invert_model(tmp_path / "invert.onnx", 32), tmp_path / "old.onnx")
    assert inspect_model(old).output_resolution == 32
    assert load_swap_model(old, CPU).swap(np.zeros((1, 32, 32, 3), np.uint8))[0].shape == (1, 32, 32, 3)
    # ... so a 32 -> 64 model stripped of it no longer matches its own graph and is refused.
    with pytest.raises(UserError, match=r"has shape .*64, 64, 3.*contract says \(N, 32, 32, 3\)"):
        inspect_model(_without_output_resolution(d2s_model, tmp_path / "stripped.onnx"))


def _without_output_resolution(src, dst):
    model = onnx.load(str(src))
    keep = [p for p in model.metadata_props if p.key != "swapstream.output_resolution"]
    del model.metadata_props[:]
    model.metadata_props.extend(keep)
    onnx.save(model, str(dst))
    return dst


def test_engine_aligns_at_the_output_resolution_and_leaves_the_rest_untouched(d2s_model, astronaut_bgr):
    model = load_swap_model(d2s_model, CPU)
    cfg = load_engine_config().replace(swap={"color": "rct"})
    stages = swap_stages(model, cfg, offline=True)
    # Head and shoulders: MediaPipe's short-range detector misses small faces in wide frames.
    frame = np.ascontiguousarray(cv2.resize(astronaut_bgr[0:300, 100:400], (400, 400)))
    packet = FramePacket(0, 0.0, frame.copy())
    try:
        for stage in stages:
            stage.setup()
        for stage in stages:
            (packet,) = stage.process_batch([packet])
    finally:
        for stage in stages:
            stage.close()
    (slot,) = packet.faces
    assert slot.crop.shape == slot.swapped.shape == (64, 64, 3) and slot.mask.shape == slot.hull.shape == (64, 64)
    outside = outside_blend(slot, frame.shape)
    assert outside.mean() > 0.5
    assert np.array_equal(frame[outside], packet.frame[outside]), "pixels outside the blend mask changed"
    assert (frame[~outside] != packet.frame[~outside]).any()
