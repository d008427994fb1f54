"""swapstream export: round trips checkpoint -> ONNX -> engine.runtime, metadata, refusals, CLI.

The checkpoints are tiny (32 px, small dims) and trained here: a freshly initialised DF or LIAE
model gets 40 Adam steps of our own (reconstruction MSE of face and mask) on real aligned faces
of two people, made with engine.face from the public-domain photos that ship with scikit-image
(astronaut) and matplotlib (Grace Hopper); they are not the trainer's loop, which only needs to
produce the same checkpoint format (trainer.checkpoint.save_checkpoint).
"""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import onnx
import pytest
import torch
from swapstream.engine.runtime import inspect_model, load_swap_model
from swapstream.engine.runtime.model_hash import model_sha256
from swapstream.export.exporter import ExportOptions, export_model, load_run
from swapstream.export.graph import SwapGraph
from swapstream.export.sample_faces import public_domain_faces
from swapstream.export.verify import ssim_per_face
from tiny_model_fixtures import (
    CPU,
    one_torch_thread,  # noqa: F401 (a fixture, found by name)
)

from swapstream.cli import main as swapstream_main
from swapstream.common.faceset import Faceset

RES = 32


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def people() -> dict[str, np.ndarray]:
    """Aligned 'whole' crops: identity A = the astronaut, B = Grace Hopper, 8 pose variants each."""
    faces = public_domain_faces("whole", RES, 16)
    return {"a": faces[0::2], "b": faces[1::2]}


def _ellipse_masks(n: int) -> torch.Tensor:
    m = np.zeros((RES, RES), np.float32)
    cv2.ellipse(m, (RES // 2, RES // 2 + 2), (RES // 3, RES * 2 // 5), 0, 0, 360, 1.0, -1)
    return torch.from_numpy(m)[None, None].expand(n, 1, RES, RES)


def _make_faceset(path: Path, faces: np.ndarray) -> Path:
    from swapstream.common.faceset import FaceRecord, Faceset

    fs = Faceset.open_or_create(path, "whole", RES)
    for i, face in enumerate(faces):
        record = FaceRecord(
            file=f"faces/{i:04d}.jpg",
            mask=f"masks/{i:04d}.png",
            source="public-domain",
            frame=i,
            landmarks=np.zeros((478, 2), np.float32),
            matrix=np.eye(2, 3),
            yaw=0.0,
            pitch=0.0,
            roll=0.0,
            sharpness=1.0,
        )
        fs.write_face(record, face, np.full((RES, RES), 255, np.uint8))
    fs.save()
    return path


def _train_run(run_dir: Path, arch: str, people: dict[str, np.ndarray], facesets: dict[str, str]) -> Path:
    from swapstream.trainer.checkpoint import save_checkpoint
    from swapstream.trainer.config import ModelConfig, TrainConfig
    from swapstream.trainer.model import build_model

    torch.manual_seed(0)
    cfg = ModelConfig(arch=arch, resolution=RES, ae_dims=32, e_dims=8, d_dims=8, d_mask_dims=4, face_type="whole")
    model = build_model(cfg)
    opt = torch.optim.Adam(model.parameters(), lr=2e-3)
    x = {k: torch.from_numpy(v).permute(0, 3, 1, 2).float() / 255.0 for k, v in people.items()}
    masks = _ellipse_masks(len(people["a"]))
    for _ in range(40):
        fa, ma, fb, mb = model(x["a"], x["b"])
        loss = sum(
            torch.nn.functional.mse_loss(f, t) for f, t in ((fa, x["a"]), (fb, x["b"]), (ma, masks), (mb, masks))
        )
        opt.zero_grad()
        loss.backward()
        opt.step()
    run_dir.mkdir(parents=True)
    save_checkpoint(
        run_dir / "checkpoint.pt",
        {
            "model_config": cfg.to_dict(),
            "train_config": TrainConfig().to_dict(),
            "preset": "test-tiny",
            "model": model.state_dict(),
            "optimizer": opt.state_dict(),
            "iteration": 40,
            "losses": {"total": float(loss.detach())},
            "rng": {"torch": torch.get_rng_state()},
            "facesets": facesets,
        },
    )
    return run_dir


@pytest.fixture(scope="module")
def runs(tmp_path_factory, people) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("runs")
    facesets = {k: str(_make_faceset(root / f"faceset_{k}", v)) for k, v in people.items()}
    return {
        "df": _train_run(root / "df", "df", people, facesets),
        "liae": _train_run(root / "liae", "liae", people, {}),
        "faceset_a": Path(facesets["a"]),
        "faceset_b": Path(facesets["b"]),
    }


@pytest.mark.parametrize("precision", ["fp32", "fp16", "int8"])
@pytest.mark.parametrize("arch", ["df", "liae"])
def test_round_trip_matches_torch(runs, people, tmp_path, arch, precision):
    direction = "a2b" if arch == "df" else "b2a"
    calibration = runs["faceset_a"] if arch == "liae" else None  # DF uses the faceset its checkpoint records
    out = tmp_path / f"{arch}_{precision}.onnx"
    report = export_model(runs[arch], out, ExportOptions(direction, precision, calibration, verify_faces=8))
    assert all(v.passed for v in report.verifications)
    model = load_swap_model(out, CPU)
    assert model.contract.precision == precision and model.contract.direction == direction
    run = load_run(runs[arch])
    reference = SwapGraph(run.model.swap_module(direction), "uint8")
    source = people[direction[0]]
    for batch in (1, 4):
        faces = source[:batch]
        got_face, got_mask = model.swap(faces)
        with torch.no_grad():
            want_face, want_mask = (t.numpy() for t in reference(torch.from_numpy(faces)))
        assert got_face.shape == (batch, RES, RES, 3) and got_mask.shape == (batch, RES, RES)
        if precision == "fp32":
            assert np.abs(got_face.astype(int) - want_face).max() <= 1
            np.testing.assert_allclose(got_mask, want_mask[..., 0] / 255.0, atol=1 / 255 + 1e-6)
        else:
            assert ssim_per_face(got_face, want_face).mean() >= 0.98
            assert np.abs(got_mask - want_mask[..., 0] / 255.0).mean() < 0.02


def test_metadata_survives_and_describes_the_run(runs, tmp_path):
    out = tmp_path / "m.onnx"
    export_model(runs["df"], out, ExportOptions("b2a", "fp32", verify_faces=4))
    meta = {p.key: p.value for p in onnx.load(out).metadata_props}
    assert meta["swapstream.direction"] == "b2a" and meta["swapstream.iterations"] == "40"
    assert meta["swapstream.preset"] == "test-tiny" and meta["swapstream.arch"] == "df"
    assert meta["swapstream.synthetic"] == "true" and len(meta["swapstream.weights_sha256"]) == 64
    assert json.loads(meta["swapstream.input"])["dtype"] == "uint8"
    contract = inspect_model(out)
    assert contract.face_type == "whole" and contract.resolution == RES
    assert contract.weights_sha256 == model_sha256(out.read_bytes(), contract)  # what inspect_model verified
    assert set(contract.losses) == {"total"}


def test_verification_fails_on_a_broken_export(runs, tmp_path, monkeypatch):
    """A graph that does not compute what PyTorch computes must not be written."""
    from swapstream.export import exporter

    real = exporter.run_onnx
    monkeypatch.setattr(exporter, "run_onnx", lambda model, faces: tuple(o * 0.99 for o in real(model, faces)))
    out = tmp_path / "broken.onnx"
    assert swapstream_main(["export", str(runs["df"]), "-o", str(out), "--verify-faces", "4"]) == 2
    assert not out.exists() and not list(tmp_path.iterdir())


def test_cli_export_prints_figures_and_info_reads_it_back(runs, tmp_path, capsys):
    out = tmp_path / "cli.onnx"
    assert swapstream_main(["export", str(runs["df"]), "-o", str(out), "--verify-faces", "4"]) == 0
    printed = capsys.readouterr().out
    assert "verified fp32: 4 faces, max |diff|" in printed and "DF a2b fp32" in printed
    # The run records its target faceset (B, for a2b): a detail bank of B's faces lies beside the model.
    assert f"detail bank: {tmp_path / 'cli.detail'}" in printed
    bank, b = Faceset.open(tmp_path / "cli.detail"), Faceset.open(runs["faceset_b"])
    assert len(bank) == len(b) and all(np.array_equal(x.landmarks, y.landmarks) for x, y in zip(bank.faces, b.faces))
    assert swapstream_main(["info", str(out), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["kind"] == "model" and info["direction"] == "a2b" and info["resolution"] == RES
    assert swapstream_main(["info", str(out)]) == 0
    assert "template mp478-sym-v1" in capsys.readouterr().out
    assert swapstream_main(["info", str(runs["df"])]) == 0
    assert "preset test-tiny, 40 iterations" in capsys.readouterr().out
    assert swapstream_main(["info", str(runs["faceset_a"]), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["count"] == 8


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--direction", "a2b"], "LIAE model cannot swap a2b"),
        (["--precision", "int8", "--direction", "b2a"], "pass --calibration FACESET"),
        (["--tensorrt", "--direction", "b2a"], "--tensorrt needs onnxruntime-gpu"),
    ],
)
def test_export_refusals_exit_2_with_one_line(runs, tmp_path, capsys, argv, message):
    out = tmp_path / "x.onnx"
    assert swapstream_main(["export", str(runs["liae"]), "-o", str(out), "--verify-faces", "2", *argv]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1


def test_info_refusals_exit_2(tmp_path, capsys):
    bad = tmp_path / "bad.onnx"
    bad.write_text("not onnx")
    assert swapstream_main(["info", str(bad)]) == 2
    assert "not a loadable ONNX model" in capsys.readouterr().err
    assert swapstream_main(["info", str(tmp_path)]) == 2
    assert "not a model" in capsys.readouterr().err
    assert swapstream_main(["export", str(tmp_path / "nowhere"), "-o", str(tmp_path / "m.onnx")]) == 2
    assert "no such run directory" in capsys.readouterr().err
