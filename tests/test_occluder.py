"""The occlusion mask: synthetic occluders, `swapstream train-mask` (a few iterations), the model's
contract checked at load, and the engine keeping the driver's pixels where an occluder is, on
real frames (the astronaut's clip, tests/photo_fixtures.py). How well a real training run finds
occluders: benchmarks/occlusion.py."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import onnx
import pytest
from model_fixtures import write_invert_model
from photo_fixtures import face_frames
from swap_fixtures import run_swap
from train_fixtures import build_faceset

from swapstream.cli import main
from swapstream.common.errors import UserError

RES = 96


@pytest.fixture(scope="module")
def faceset(tmp_path_factory) -> Path:
    return build_faceset("astronaut", tmp_path_factory.mktemp("fs") / "astronaut", size=64)


@pytest.fixture(scope="module")
def occluder(faceset, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("occ") / "occluder.onnx"
    args = ["train-mask", "-f", str(faceset), "-o", str(out), "--minutes", "0", "--iters", "3"]
    assert main([*args, "--resolution", "48", "--width", "4", "--batch", "4", "--workers", "1"]) == 0
    return out


def test_synthetic_occluders_change_only_what_they_cover(faceset):
    from swapstream.trainer.occluder_shapes import SHAPES, occlude
    from swapstream.trainer.occluder_train import load_faces

    bank = load_faces([faceset], 64)
    rng = np.random.default_rng(0)
    covered = []
    for i in range(40):
        face = bank.faces[i % len(bank.faces)]
        out, alpha = occlude(
            face, bank.masks[i % len(bank.faces)], bank.landmarks[i % len(bank.faces)], rng, bank.faces
        )
        assert out.shape == face.shape and alpha.shape == face.shape[:2]
        assert alpha.min() >= 0 and alpha.max() <= 1
        assert np.array_equal(out[alpha == 0], face[alpha == 0])
        covered.append(float((alpha > 0.5).mean()))
    assert 0 < np.mean(covered) < 0.5 and sum(c == 0 for c in covered) < 20
    assert len(SHAPES) == 7


def test_train_mask_writes_a_model_with_its_contract(occluder, capsys):
    from swapstream.engine.runtime.occluder import load_occluder

    model = load_occluder(occluder)
    c = model.contract
    assert (c.face_type, c.resolution, c.iterations) == ("whole", 48, 3)
    assert set(c.validation) == {"occluder_found", "face_kept"}
    assert main(["info", str(occluder)]) == 0
    assert "occlusion model" in capsys.readouterr().out
    crops = np.full((2, 48, 48, 3), 100, np.uint8)
    out = model.occlusion(crops)
    assert out.shape == (2, 48, 48) and out.dtype == np.float32 and out.min() >= 0 and out.max() <= 1


def test_models_of_the_wrong_kind_are_refused(occluder, tmp_path):
    from swapstream.engine.runtime.occluder import load_occluder
    from swapstream.engine.runtime.providers import RuntimeConfig
    from swapstream.engine.runtime.swap_model import load_swap_model

    with pytest.raises(UserError, match="occlusion model, not a swap model"):
        load_swap_model(occluder, RuntimeConfig(providers=("cpu",)))
    swap = write_invert_model(tmp_path / "swap.onnx", 64)
    with pytest.raises(UserError, match="swap model, not an occlusion model"):
        load_occluder(swap)
    m = onnx.load(str(occluder))
    for p in m.metadata_props:
        if p.key == "swapstream.face_type":
            p.value = "cheek"
    onnx.save(m, str(tmp_path / "bad.onnx"))
    with pytest.raises(UserError, match="face type 'cheek'"):
        load_occluder(tmp_path / "bad.onnx")


def test_train_mask_refuses_bad_inputs(tmp_path, capsys):
    assert main(["train-mask", "-f", str(tmp_path), "-o", str(tmp_path / "o.onnx")]) == 2
    assert "not a faceset" in capsys.readouterr().err


def test_train_mask_budget_is_iterations_by_default_and_one_flag_alone_is_the_only_bound():
    from swapstream.commands.train_mask import DEFAULT_ITERS, DEFAULT_MINUTES, budget

    assert budget(None, None) == {"minutes": DEFAULT_MINUTES, "iters": DEFAULT_ITERS}
    assert budget(6.0, None) == {"minutes": 6.0, "iters": 0}
    assert budget(None, 500) == {"minutes": 0.0, "iters": 500}
    assert budget(0.0, 3) == {"minutes": 0.0, "iters": 3}


def test_the_loss_weighs_occluder_borders_up():
    """Both sides of an occluder's edge weigh 1 + EDGE_WEIGHT (a 1 px strand is all border); the
    plain face and the inside of a large occluder weigh 1."""
    from swapstream.trainer.occluder_train import EDGE_WEIGHT, to_tensors

    y = np.zeros((1, 96, 96), np.float32)
    y[0, 20:60, 20:60] = 1
    w = to_tensors(np.zeros((1, 96, 96, 3), np.uint8), y, np.ones((1, 96, 96), np.float32))[2][0, 0]
    assert float(w[40, 40]) == float(w[5, 5]) == 1.0
    assert float(w[20, 40]) == float(w[19, 40]) == 1.0 + EDGE_WEIGHT


@dataclass
class _Contract:
    face_type: str
    resolution: int


class DiscOccluder:
    """Stands in for a trained model: says a disc over the nose and mouth covers the face."""

    def __init__(self, face_type: str = "whole", resolution: int = 64):
        self.contract = _Contract(face_type, resolution)
        self.resolution = resolution

    def occlusion(self, crops, resize=True):
        r = self.resolution
        disc = np.zeros((r, r), np.float32)
        cv2.circle(disc, (r // 2, int(r * 0.62)), r // 6, 1.0, -1)
        return np.repeat(disc[None], len(crops), 0)


def _with_occluder(monkeypatch, occluder):
    from swapstream.engine.pipeline import build

    monkeypatch.setattr(build, "load_occluder", lambda path: occluder)


@pytest.mark.parametrize("face_type", ["whole", "full"])
def test_engine_keeps_the_driver_where_the_occluder_is(monkeypatch, tmp_path, face_type):
    """Real frames through the convert stages: where the occlusion model says 'covered' the input
    pixels stay (here: a disc), everything else is swapped as with mask 'both'; an occluder of
    another face type than the swap model is re-aligned per face."""
    from swapstream.engine.face.align import alignment_matrix, invert

    model = write_invert_model(tmp_path / "inv.onnx", RES, face_type="full")
    frames = face_frames("astronaut", 81)[::40]
    plain = run_swap(model, frames)
    _with_occluder(monkeypatch, DiscOccluder(face_type))
    occluded = run_swap(model, frames, mask="occlusion", occluder="disc.onnx")
    for frame, p, o in zip(frames, plain, occluded, strict=True):
        h, w = frame.shape[:2]
        slot = o.faces[0]
        m = alignment_matrix(slot.landmarks, face_type, 64)
        disc = cv2.warpAffine(DiscOccluder(face_type).occlusion([0])[0], invert(m), (w, h), flags=cv2.INTER_NEAREST)
        core = cv2.erode(disc, np.ones((9, 9), np.uint8)) > 0.5
        assert core.sum() > 300
        diff = np.abs(o.frame.astype(int) - frame).max(axis=2)
        assert (diff[core] <= 2).mean() > 0.99, "the occluded disc was swapped"
        assert (np.abs(p.frame.astype(int) - frame).max(axis=2)[core] > 16).mean() > 0.9
        away = cv2.dilate(disc, np.ones((41, 41), np.uint8)) == 0
        assert np.array_equal(o.frame[away], p.frame[away]), "outside the occluder the swap must not change"
        assert np.all(slot.mask <= p.faces[0].mask + 1e-6)


def test_occluder_cli_flags(occluder, tmp_path):
    """--mask occlusion with --occluder: one line per problem, the real model accepted."""
    import argparse

    from swapstream.commands.swap_flags import add_swap_arguments
    from swapstream.swap_session.from_args import engine_config_from_args

    parser = argparse.ArgumentParser()
    add_swap_arguments(parser)
    cfg = engine_config_from_args(
        parser.parse_args(["-m", "m.onnx", "--mask", "occlusion", "--occluder", str(occluder)])
    )
    assert cfg.swap.mask == "occlusion" and cfg.swap.occluder == str(occluder)
