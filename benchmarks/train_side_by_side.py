"""Train several presets on the same facesets for the same minutes, side by side (issue #12).

Usage (the GPU run of benchmarks/results_log/2026-11-to-2026-12-06.md, "Depth-to-space"):
    python benchmarks/train_side_by_side.py -a FS_A -b FS_B -o OUT \\
        --presets OLD_LIVE.yaml configs/presets/live.yaml --labels live64 live128 --minutes 6 \\
        [--batch-size 16 --lr 5e-4 --data-workers 4] [--slim SLIM_DIR]
    python benchmarks/train_side_by_side.py --merge SLIM_DIR --labels live64 live128 -o OUT

Each preset trains in its own process, all at once (a GPU has room for several small models; on a
2-core CPU add --sequential). The batch size, learning rate and loader threads given here replace
every preset's, so the presets differ only in their model. --slim writes each run's weights as
fp16 in two files (encoders and inters, then decoders: each under 16 MiB for the live presets; the
first also holds history.csv and summary.json), small enough to carry off a machine; --merge
rebuilds RUN/checkpoint.pt (fp32 weights, no optimiser state), RUN/history.csv and
RUN/summary.json from them, which `swapstream export`, benchmarks/time_to_quality.py and
`swapstream train --base` read.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import multiprocessing
import time
from pathlib import Path

import torch
from swapstream.trainer.checkpoint import load_checkpoint, save_checkpoint
from swapstream.trainer.config import load_preset
from swapstream.trainer.train import RunOptions, train

FIRST_PART = ("encoder.", "inter")  # parameter name prefixes of the slim checkpoint's first file


def train_one(label: str, preset: str, args: argparse.Namespace) -> None:
    logging.basicConfig(level=logging.INFO, format=f"{label} %(levelname)s %(name)s: %(message)s")
    model_cfg, train_cfg = load_preset(preset)
    overrides = {"batch_size": args.batch_size, "lr": args.lr, "data_workers": args.data_workers}
    overrides = {k: v for k, v in overrides.items() if v is not None}
    train_cfg = dataclasses.replace(
        train_cfg, preview_minutes=args.preview_minutes, checkpoint_minutes=args.checkpoint_minutes, **overrides
    )
    run_dir = args.output / label
    opts = RunOptions(
        args.faceset_a,
        args.faceset_b,
        run_dir,
        preset=label,
        minutes=args.minutes,
        progress=False,
        threads=args.threads,
        keep_checkpoints=args.keep_checkpoints,
    )
    s = train(opts, model_cfg, train_cfg)
    summary = {
        "label": label,
        "preset": str(preset),
        "model_config": model_cfg.to_dict(),
        "train_config": train_cfg.to_dict(),
        "iterations": s.iteration,
        "minutes": s.seconds / 60,
        "samples_per_s": s.samples_per_s,
        "data_wait_share": s.data_wait_share,
        "val_ssim_start": s.val_ssim_start,
        "val_ssim_end": s.val_ssim_end,
        "device": s.device,
        "device_name": torch.cuda.get_device_name() if torch.cuda.is_available() else "cpu",
        "precision": s.precision,
        "torch": torch.__version__,
    }
    (run_dir / "summary.json").write_text(json.dumps(summary, indent=1))
    print(json.dumps(summary), flush=True)


def slim(run_dir: Path, dest: Path, label: str) -> list[Path]:
    """Two fp16 weight files of one run, named by its label; the first also holds the rest of the
    checkpoint, summary.json and history.csv (a machine returns only a few files)."""
    state = load_checkpoint(run_dir / "checkpoint.pt")
    weights = {k: v.half() if v.is_floating_point() else v for k, v in state.pop("model").items()}
    state.pop("optimizer")
    first = {k: v for k, v in weights.items() if k.startswith(FIRST_PART)}
    rest = {k: v for k, v in weights.items() if k not in first}
    dest.mkdir(parents=True, exist_ok=True)
    paths = [dest / f"{label}_w0.pt", dest / f"{label}_w1.pt"]
    texts = {n: (run_dir / n).read_text() for n in ("summary.json", "history.csv") if (run_dir / n).is_file()}
    torch.save({"state": state, "model": first, "texts": texts}, paths[0])
    torch.save({"model": rest}, paths[1])
    return paths


def merge(slim_dir: Path, label: str, run_dir: Path) -> Path:
    """Rebuild RUN_DIR/checkpoint.pt (fp32 weights, empty optimiser state) from slim()'s files."""
    first = torch.load(slim_dir / f"{label}_w0.pt", map_location="cpu", weights_only=True)
    rest = torch.load(slim_dir / f"{label}_w1.pt", map_location="cpu", weights_only=True)
    weights = {k: v.float() if v.is_floating_point() else v for k, v in {**first["model"], **rest["model"]}.items()}
    state = {k: v for k, v in first["state"].items() if k not in ("format", "version")}
    state.update(model=weights, optimizer={})
    run_dir.mkdir(parents=True, exist_ok=True)
    save_checkpoint(run_dir / "checkpoint.pt", state)
    for name, text in first.get("texts", {}).items():
        (run_dir / name).write_text(text)
    return run_dir / "checkpoint.pt"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("-a", "--faceset-a", type=Path)
    p.add_argument("-b", "--faceset-b", type=Path)
    p.add_argument("-o", "--output", type=Path, required=True, help="folder of the runs (one per label)")
    p.add_argument("--presets", nargs="+", default=[])
    p.add_argument("--labels", nargs="+", required=True)
    p.add_argument("--minutes", type=float, default=5.0)
    p.add_argument("--batch-size", type=int)
    p.add_argument("--lr", type=float)
    p.add_argument("--data-workers", type=int)
    p.add_argument("--preview-minutes", type=float, default=1.0, help="minutes between validation rows")
    p.add_argument("--sequential", action="store_true", help="one run after the other (CPU)")
    p.add_argument("--threads", type=int, help="torch threads per run (CPU: cores / runs, for runs at once)")
    p.add_argument("--checkpoint-minutes", type=float, default=60.0, help="minutes between checkpoints")
    p.add_argument(
        "--keep-checkpoints", action="store_true", help="keep each checkpoint (RUN/checkpoints/), to evaluate later"
    )
    p.add_argument("--slim", type=Path, help="also write each run's slim weights and history here")
    p.add_argument("--merge", type=Path, metavar="SLIM_DIR", help="only rebuild the runs from slim files")
    args = p.parse_args()
    if args.merge is not None:
        for label in args.labels:
            print(merge(args.merge, label, args.output / label))
        return
    if len(args.presets) != len(args.labels) or args.faceset_a is None or args.faceset_b is None:
        p.error("give -a, -b and one --labels entry per --presets entry")
    started = time.perf_counter()
    ctx = multiprocessing.get_context("spawn")
    pairs = zip(args.labels, args.presets, strict=True)
    jobs = [ctx.Process(target=train_one, args=(label, preset, args)) for label, preset in pairs]
    for job in jobs:
        job.start()
        if args.sequential:
            job.join()
    for job in jobs:
        job.join()
    print(f"all runs done in {(time.perf_counter() - started) / 60:.1f} min", flush=True)
    if any(job.exitcode for job in jobs):
        raise SystemExit(f"a run failed: exit codes {[job.exitcode for job in jobs]}")
    if args.slim is not None:
        for label in args.labels:
            for path in slim(args.output / label, args.slim, label):
                print(f"{path} {path.stat().st_size / 2**20:.1f} MiB")


if __name__ == "__main__":
    main()
