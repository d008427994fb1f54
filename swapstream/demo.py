"""The whole chain on public-domain faces that ship inside the dependencies; nothing downloaded.

A = skimage's astronaut (NASA portrait of Eileen Collins), B = matplotlib's Grace Hopper (US Navy
portrait). The demo renders a driving clip of A, extracts both facesets, trains the `demo`
preset (the `live` architecture at a quarter of its width, configs/presets/demo.yaml) for five
minutes, exports it to INT8 ONNX, converts the clip, benchmarks the engine and writes everything
with an index.html into DIR. About 8 minutes on 2 CPU cores; --quick trains for one minute
(about 3 minutes in all). Five minutes of training on a CPU gives a rough swap, not a good one:
real models train for hours.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("-o", "--output", default="out/demo", metavar="DIR", help="where to write (default: out/demo)")
    p.add_argument("--quick", action="store_true", help="train 1 minute instead of 5 (about 3 minutes in all)")
    p.add_argument("--frames", type=int, default=None, help="driving clip length (default: 150, quick: 90)")


def _step(title: str, argv: list[str]) -> None:
    from engine.errors import UserError
    from swapstream.cli import main

    print(f"\n== {title}: swapstream {' '.join(argv)}", flush=True)
    code = main(argv)
    if code != 0:
        raise UserError(f"demo step '{title}' failed with exit code {code} (see above)")


def run(args: argparse.Namespace) -> int:
    from swapstream.demo_media import astronaut_bgr, grace_hopper_bgr, motion_frames, side_by_side, write_video
    from swapstream.demo_page import write_index

    out = Path(args.output)
    out.mkdir(parents=True, exist_ok=True)
    work = out / "work"
    work.mkdir(exist_ok=True)
    started = time.perf_counter()
    frames = args.frames or (90 if args.quick else 150)
    minutes = 1.0 if args.quick else 5.0

    print(f"rendering a {frames}-frame driving clip of A and a pose clip of B ...", flush=True)
    driving = out / "driving.mp4"
    write_video(motion_frames(astronaut_bgr(), frames, seed=1), driving)
    clip_b = work / "identity_b.mp4"
    write_video(motion_frames(grace_hopper_bgr(), 120, seed=2, mirror=True), clip_b)
    clip_a = work / "identity_a.mp4"
    write_video(motion_frames(astronaut_bgr(), 120, seed=3, mirror=True), clip_a)

    fs_a, fs_b, run_dir = work / "faceset_a", work / "faceset_b", work / "run"
    model = out / "model_int8.onnx"
    swapped = out / "swapped.mp4"
    _step("extract A", ["extract", str(clip_a), "-o", str(fs_a)])
    _step("extract B", ["extract", str(clip_b), "-o", str(fs_b)])
    resume = ["--resume"] if (run_dir / "checkpoint.pt").exists() else []
    _step(
        "train",
        [
            "train",
            "-a",
            str(fs_a),
            "-b",
            str(fs_b),
            "-o",
            str(run_dir),
            "--preset",
            "demo",
            "--minutes",
            str(minutes),
            *resume,
        ],
    )
    _step("export", ["export", str(run_dir), "-o", str(model), "--precision", "int8", "--calibration", str(fs_a)])
    _step("convert", ["convert", str(driving), "-m", str(model), "-o", str(swapped)])
    _step(
        "bench",
        [
            "bench",
            "-m",
            str(model),
            "--source",
            str(driving),
            "--mode",
            "live",
            "--json",
            str(out / "bench.json"),
            "--plot",
            str(out / "bench.png"),
        ],
    )
    side_by_side(driving, swapped, out / "side_by_side.mp4")
    for name in ("preview.png", "loss.png"):
        src = run_dir / name
        if src.exists():
            (out / f"train_{name}").write_bytes(src.read_bytes())
    bench = json.loads((out / "bench.json").read_text())
    index = write_index(out, bench)
    print(
        f"\nDemo finished in {(time.perf_counter() - started) / 60:.1f} min. Open {index} to see the driving clip, "
        f"the swapped video ({swapped}), the side-by-side comparison, the training preview and loss, and the "
        f"latency table. Every video written carries a metadata label saying its faces were synthetically swapped."
    )
    return 0
