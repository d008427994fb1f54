"""`swapstream bench` end to end: the real engine on a real clip and on the bundled default source.

The clip run uses the colour-inverting contract model (no torch, fast); the default run builds
the untrained `live` model with the export package into a temporary cache, as a user's first
run would, and checks that the second call reuses it.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import cv2
import pytest
from model_fixtures import write_invert_model

from swapstream.bench.inputs import UNTRAINED_NOTE, default_model
from swapstream.cli import main
from swapstream.commands.bench import parse_size
from swapstream.demo.shipped_models import asset_paths, find_shipped

SWAP_STAGES = ("capture", "detect", "align", "infer", "color", "steady", "blend")


def bench(argv: list[str], capsys) -> tuple[int, str, str]:
    code = main(["bench", *argv])
    out = capsys.readouterr()
    return code, out.out, out.err


def check_run(run: dict, sink: str) -> None:
    """Sane values for one timed run (a dict of the JSON)."""
    assert run["fps"] > 0
    assert run["frames"] > 0 and run["dropped"] >= 0
    assert run["source_frames"] == run["frames"] + run["dropped"]
    assert run["faces_swapped"] > 0, "no face was swapped: the clip has a face in every frame"
    for name in (*SWAP_STAGES, sink):
        v = run["stage_ms"][name]
        assert 0 <= v["p50"] <= v["p95"] <= v["p99"], f"{name}: {v}"
    lat = run["latency_ms"]
    assert 0 < lat["p50"] <= lat["p95"] <= lat["p99"] <= lat["max"] + 1e-6
    assert len(run["latency_samples_ms"]) == run["frames"]


def check_png(path: Path) -> None:
    image = cv2.imread(str(path))
    assert image is not None, f"{path} is not a readable image"
    assert image.shape[0] >= 300 and image.shape[1] >= 600
    assert image.std() > 10, "the plot is blank"


def test_live_bench_on_real_clip(face_clip, tmp_path, capsys):
    clip = face_clip
    model = write_invert_model(tmp_path / "invert.onnx", 64)
    out_json, out_png = tmp_path / "bench.json", tmp_path / "bench.png"
    argv = ["-m", str(model), "--source", str(clip), "--frames", "40", "--warmup", "3"]
    code, stdout, err = bench([*argv, "--json", str(out_json), "--plot", str(out_png)], capsys)
    assert code == 0, err
    r = json.loads(out_json.read_text())  # strict JSON: NaN would have been written as null
    assert r["mode"] == "live" and r["source"]["width"] == 480 and r["source"]["fps"] == pytest.approx(30, abs=1)
    check_run(r["run"], "sink")
    check_run(r["throughput"]["sequential"], "sink")
    check_run(r["throughput"]["pipelined"], "sink")
    # The paced live run captures the clip's 40 frames; whatever it could not process is dropped.
    assert r["run"]["source_frames"] == 40
    thr = r["throughput"]
    assert thr["speedup"] == pytest.approx(thr["pipelined_fps"] / thr["sequential_fps"])
    assert r["model"]["provider"] == "CPUExecutionProvider" and r["model"]["precision"] == "fp32"
    assert r["model"]["resolution"] == 64
    m = r["machine"]
    assert m["cpu"] and m["logical_cores"] >= 1 and m["physical_cores"] >= 1
    assert m["threads"]["onnxruntime_intra_op"] >= 1 and m["threads"]["numba"] >= 1
    # The table names every stage and the headline figures.
    for word in (*SWAP_STAGES, "glass-to-glass", "dropped", "sequential loop", "CPUExecutionProvider"):
        assert word in stdout
    check_png(out_png)


@pytest.mark.slow  # exports the untrained live model once (torch + INT8 calibration): ~20-60 s here
def test_default_model_and_source_convert_mode(tmp_path, capsys):
    cache = tmp_path / "cache"
    out_json, out_png = tmp_path / "b.json", tmp_path / "b.png"
    argv = ["--mode", "convert", "--frames", "20", "--warmup", "2", "--cache-dir", str(cache)]
    code, stdout, err = bench([*argv, "--json", str(out_json), "--plot", str(out_png)], capsys)
    assert code == 0, err
    r = json.loads(out_json.read_text())
    assert r["source"]["default"] is True
    assert (r["source"]["width"], r["source"]["height"]) == (640, 480)
    assert r["model"]["weights"] == UNTRAINED_NOTE and UNTRAINED_NOTE in stdout
    assert r["model"]["preset"] == "live" and r["model"]["precision"] == "int8"
    run = r["run"]
    check_run(run, "write")  # convert mode encodes: its sink is the file writer
    assert run["dropped"] == 0 and run["frames"] == 20, "convert mode must process every frame"
    check_png(out_png)
    # A second run reuses the cached model instead of exporting again.
    cached = Path(r["model"]["path"])
    assert cached.is_relative_to(cache)
    mtime = cached.stat().st_mtime_ns
    again, note = default_model("live", "int8", cache / "bench")
    assert again == cached and note == UNTRAINED_NOTE and cached.stat().st_mtime_ns == mtime


def test_size_rescales_the_source(face_clip, tmp_path, capsys):
    clip = face_clip
    model = write_invert_model(tmp_path / "invert.onnx", 64)
    out_json = tmp_path / "b.json"
    argv = ["-m", str(model), "--source", str(clip), "--size", "640x360", "--frames", "8", "--warmup", "0"]
    code, _, err = bench([*argv, "--mode", "convert", "--cache-dir", str(tmp_path), "--json", str(out_json)], capsys)
    assert code == 0, err
    r = json.loads(out_json.read_text())
    assert (r["source"]["width"], r["source"]["height"]) == (640, 360)
    assert r["run"]["faces_swapped"] > 0, "the letterboxed face must still be found"
    assert not math.isnan(r["run"]["fps"])


def test_default_model_is_the_shipped_one_when_it_fits(tmp_path):
    """`--preset demo --precision int8` measures the demo model that ships (no export, nothing cached)."""
    if find_shipped("demo", "int8") is None:
        pytest.skip("no fresh demo model shipped in swapstream/assets")
    path, note = default_model("demo", "int8", tmp_path)
    assert path == asset_paths("demo", "int8")[0] and note is None
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize("text", ["1280", "x720", "12x7000", "axb", "1280x720x3"])
def test_bad_size_is_a_user_error(text, tmp_path, capsys):
    with pytest.raises(Exception, match="--size") as info:
        parse_size(text)
    assert type(info.value).__name__ == "UserError"
    assert parse_size("1280x720") == (1280, 720)


def test_missing_source_exits_2_with_one_line(tmp_path, capsys):
    code, _, err = bench(["--source", str(tmp_path / "nope.mp4"), "--cache-dir", str(tmp_path)], capsys)
    assert code == 2
    assert err.strip().count("\n") == 0 and "nope.mp4" in err
