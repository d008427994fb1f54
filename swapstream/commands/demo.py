"""The whole chain on public-domain faces that ship inside the dependencies; nothing downloaded.

A = skimage's astronaut (NASA portrait of Eileen Collins), B = matplotlib's Grace Hopper (US Navy
portrait). The demo renders a driving clip of A, extracts both facesets, trains the `demo`
preset (the `live` architecture at a quarter of its width, configs/presets/demo.yaml) for five
minutes, exports it to INT8 ONNX, converts the clip, benchmarks the engine and writes everything
with an index.html into DIR. About 8 minutes on 2 CPU cores; --quick trains for one minute
(about 3 minutes in all). Five minutes of training on a CPU gives a rough swap, not a good one:
real models train for hours. Last, `swapstream eval` measures the swap (identity, expression,
flicker, whose fine detail the face shows) and the page shows its figures.

A model trained longer by the same command ships in swapstream/assets/ (see its README.md):
when it is there and was trained with the current `demo` preset and alignment contract, the
full demo uses it instead of training (its preview and loss plot come with it); --retrain
ignores it, and --quick always trains, so the quick run exercises every step.
"""

from __future__ import annotations

import argparse
import json
import shutil
import time
from pathlib import Path

from swapstream.common.arg_types import int_in, positive_float

PRESET, PRECISION = "demo", "int8"  # the demo's model; a fresh one may ship (swapstream/demo/shipped_models.py)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("-o", "--output", default="out/demo", metavar="DIR", help="where to write (default: out/demo)")
    p.add_argument("--quick", action="store_true", help="train 1 minute, 90 frames (about 3 minutes in all)")
    p.add_argument(
        "--frames", type=int_in(2, 100_000), default=None, help="driving clip length (default: 150, quick: 90)"
    )
    p.add_argument("--retrain", action="store_true", help="train even when the shipped demo model is usable")
    p.add_argument(
        "--train-minutes", type=positive_float(525_600), default=None, help="training budget (default 5, quick 1)"
    )
    p.add_argument("--save-model", action="store_true", help="store the trained model in swapstream/assets/")
    p.add_argument(
        "--eval-every",
        type=int_in(1, 100_000),
        default=5,
        metavar="N",
        help="measure the swap with `swapstream eval` on one frame in N (default 5) and show it on the page",
    )


def _step(title: str, argv: list[str]) -> None:
    from swapstream.cli import main
    from swapstream.common.errors import UserError

    print(f"\n== {title}: swapstream {' '.join(argv)}", flush=True)
    code = main(argv)
    if code != 0:
        raise UserError(f"demo step '{title}' failed with exit code {code} (see above)")


def _export(run_dir: Path, model: Path, calibration: Path) -> None:
    """The trained run -> the demo's INT8 model, through the export package's one entry point."""
    from swapstream.export.exporter import ExportOptions, export_model

    print(f"\n== export: {run_dir} -> {model} ({PRECISION}, calibrated on {calibration})", flush=True)
    report = export_model(run_dir, model, ExportOptions(precision=PRECISION, calibration=calibration))
    for line in report.lines():
        print(line)


def run(args: argparse.Namespace) -> int:
    from swapstream.credentials.flags import local_sealer
    from swapstream.demo.media import astronaut_bgr, grace_hopper_bgr, motion_frames, side_by_side, write_video
    from swapstream.demo.page import write_index
    from swapstream.demo.shipped_models import ASSETS, find_shipped, plot_paths, store_shipped

    out = Path(args.output)
    out.mkdir(parents=True, exist_ok=True)
    work = out / "work"
    work.mkdir(exist_ok=True)
    started = time.perf_counter()
    frames = args.frames or (90 if args.quick else 150)
    minutes = args.train_minutes or (1.0 if args.quick else 5.0)
    shipped = None if (args.quick or args.retrain) else find_shipped(PRESET, PRECISION)

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
    if shipped:
        shipped_path, info = shipped
        print(
            f"\nusing the shipped demo model ({info['iterations']} iterations, {info['train_minutes']:g} min "
            f"of training by `{info['command']}`); --retrain trains a new one",
            flush=True,
        )
        shutil.copyfile(shipped_path, model)
        for name, path in plot_paths(PRESET).items():
            shutil.copyfile(path, out / f"train_{name}")
    else:
        resume = ["--resume"] if (run_dir / "checkpoint.pt").exists() else []
        train = ["train", "-a", str(fs_a), "-b", str(fs_b), "-o", str(run_dir), "--preset", PRESET]
        _step("train", [*train, "--minutes", str(minutes), *resume])
        _export(run_dir, model, calibration=fs_a)
        for name in ("preview.png", "loss.png"):
            shutil.copyfile(run_dir / name, out / f"train_{name}")
        if args.save_model:
            command = f"swapstream demo --retrain --train-minutes {minutes:g} --save-model"
            store_shipped(model, run_dir, PRESET, PRECISION, minutes, command)
            print(f"stored the demo model in {ASSETS}")
    resume = ["--resume"] if swapped.with_name(f"{swapped.stem}.parts").is_dir() else []  # a convert cut short
    detail = ["--detail-from", str(fs_b)]  # B's own fine detail (the shipped model has no MODEL.detail)
    _step("convert", ["convert", str(driving), "-m", str(model), "-o", str(swapped), *detail, *resume])
    bench = ["bench", "-m", str(model), "--source", str(driving), "--mode", "live", *detail]
    _step("bench", [*bench, "--json", str(out / "bench.json"), "--plot", str(out / "bench.png")])
    side_by_side(driving, swapped, out / "side_by_side.mp4", publish=local_sealer(driving, model).publish)
    evaluation = ["eval", "--driving", str(driving), "--swapped", str(swapped), "--identity", str(fs_b)]
    eval_files = ["--json", str(out / "eval.json"), "--plot", str(out / "eval.png")]
    _step("eval", [*evaluation, "--every", str(args.eval_every), "--no-progress", *eval_files])
    index = write_index(out, json.loads((out / "bench.json").read_text()), json.loads((out / "eval.json").read_text()))
    print(
        f"\nDemo finished in {(time.perf_counter() - started) / 60:.1f} min. Open {index} to see the driving clip, "
        f"the swapped video ({swapped}), the side-by-side comparison, the training preview and loss, the eval "
        f"figures and the latency table. Every swapped video carries a metadata label and signed content "
        f"credentials (C2PA; `swapstream verify {swapped}`) saying its faces were synthetically swapped."
    )
    return 0
