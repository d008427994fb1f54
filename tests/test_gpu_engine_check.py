"""benchmarks/gpu_engine_check.py (issue 30): the engine check scripts/gpu-check.sh runs on a GPU
machine, exercised end to end here on a pack made from a real face: without a GPU both runs take
the CPU frame path, so they must agree exactly, and every figure the check reports is there."""

from __future__ import annotations

import json

import cv2
import numpy as np
from model_fixtures import write_invert_model

from benchmarks import gpu_check, gpu_engine_check


def _clip(path, astronaut_bgr, n: int = 3):
    """A short clip of the astronaut drifting (MJPEG in AVI: OpenCV writes it everywhere)."""
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 30.0, (640, 360))
    base = cv2.resize(astronaut_bgr, (360, 360), interpolation=cv2.INTER_AREA)
    for t in range(n):
        frame = np.zeros((360, 640, 3), np.uint8)
        frame[:, 140 + t : 500 + t] = base
        writer.write(frame)
    writer.release()
    return path


def test_pack_and_engine_check_on_a_real_face(tmp_path, astronaut_bgr, capsys):
    model = write_invert_model(tmp_path / "invert.onnx", 64)
    info = gpu_engine_check.prepare_pack(_clip(tmp_path / "clip.avi", astronaut_bgr), tmp_path / "pack", 3, model)
    assert info["frames"] == 3 and info["with_face"] == 3
    frames, landmarks, found = gpu_engine_check.load_pack(tmp_path / "pack")
    assert frames[0].shape == (1080, 1920, 3) and landmarks.shape == (3, 478, 3) and found.all()
    code = gpu_check.main(
        [
            "--engine-only",
            "--engine-pack",
            str(tmp_path / "pack"),
            "--live-seconds",
            "0.1",
            "--json",
            str(tmp_path / "r.json"),
        ]
    )
    assert code == 0
    out = capsys.readouterr().out
    results = json.loads((tmp_path / "r.json").read_text())["engine frame path"]
    for size in gpu_engine_check.SIZES:
        row = results[size]
        assert row["cpu"]["frames"] == row["gpu"]["frames"] == 3
        assert row["gpu"]["frame_path"] == "cpu"  # no GPU here: the honest fallback
        assert row["agreement"]["max_levels"] == 0 and row["agreement"]["face_pixels"] > 1000
        assert row["live_cpu"]["latency_ms_p99"] > 0 and "infer" in row["cpu"]["stage_ms_p50"]
    assert "1920x1080 agreement: 100.000% of face pixels" in out
