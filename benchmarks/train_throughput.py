"""Training throughput per preset and precision: samples/s and the share of step time spent waiting for data.

Usage (facesets from `swapstream extract`, at least as large as the biggest preset measured):
    python benchmarks/train_throughput.py -a fsA -b fsB [--presets live balanced] [--steps 20]
        [--precisions fp32 bf16] [--batch-size N] [--threads N] [--json out.json]
Each measurement is a real `trainer.train.train` run of --steps iterations in a temp dir (the first
validation and the final checkpoint are outside the timed loop). Prints a Markdown table to paste
into a dated file in benchmarks/results_log/.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import tempfile
from pathlib import Path

import torch
from swapstream.trainer.config import load_preset
from swapstream.trainer.step import cpu_has_fast_bf16
from swapstream.trainer.train import RunOptions, train

from swapstream.bench.report import cpu_name


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("-a", required=True, type=Path)
    p.add_argument("-b", required=True, type=Path)
    p.add_argument("--presets", nargs="+", default=["live", "balanced", "quality"])
    p.add_argument("--precisions", nargs="+", default=["fp32", "bf16"])
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--batch-size", type=int)
    p.add_argument("--threads", type=int)
    p.add_argument("--json", type=Path)
    args = p.parse_args()

    rows = []
    for preset in args.presets:
        model_cfg, train_cfg = load_preset(preset)
        for precision in args.precisions:
            cfg = dataclasses.replace(train_cfg, precision=precision, lr_warmup_iters=1)
            if args.batch_size:
                cfg = dataclasses.replace(cfg, batch_size=args.batch_size)
            with tempfile.TemporaryDirectory() as tmp:
                opts = RunOptions(args.a, args.b, Path(tmp) / "run", preset, iters=args.steps, threads=args.threads)
                s = train(opts, model_cfg, cfg)
            row = {
                "preset": preset,
                "arch": model_cfg.arch,
                "resolution": model_cfg.resolution,
                "precision": precision,
                "batch_size": cfg.batch_size,
                "steps": args.steps,
                "step_s": cfg.batch_size * 2 / s.samples_per_s,
                "samples_per_s": s.samples_per_s,
                "data_wait_share": s.data_wait_share,
            }
            rows.append(row)
            print(json.dumps(row), flush=True)
    hw = (
        f"{cpu_name()}, {torch.get_num_threads()} torch threads, torch {torch.__version__}, "
        f"native bf16: {cpu_has_fast_bf16()}"
    )
    print(f"\nHardware: {hw}\n")
    print("| preset | arch | px | precision | batch | s/step | samples/s | data wait |")
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {r['preset']} | {r['arch']} | {r['resolution']} | {r['precision']} | {r['batch_size']} | "
            f"{r['step_s']:.2f} | {r['samples_per_s']:.1f} | {100 * r['data_wait_share']:.1f}% |"
        )
    if args.json:
        args.json.write_text(json.dumps({"hardware": hw, "rows": rows}, indent=1))


if __name__ == "__main__":
    main()
