"""swapstream train-mask: train an occlusion model on facesets and export it to ONNX.

  swapstream train-mask -f faces_a [faces_b ...] -o occluder.onnx [--iters 3000 | --minutes 6]
  swapstream convert talk.mp4 -m model.onnx --mask occlusion --occluder occluder.onnx -o out.mp4

Synthetic occluders (hands, cups, microphones, glasses frames, hair strands, random shapes with
textures cut from the crops) are pasted on the faces; the model learns to mark them, and the
engine keeps the original pixels there (--mask occlusion). Train it on the faceset of the person
in the videos you convert. One occlusion model serves any swap model (a swap model of another face
type gets its crops re-aligned for it, per face).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from swapstream.common.arg_types import float_in, int_in, seed
from swapstream.common.errors import UserError, user_error
from swapstream.common.output_paths import check_output_file

DEFAULT_ITERS, DEFAULT_MINUTES = 3000, 12.0


def budget(minutes: float | None, iters: int | None) -> dict:
    """OccluderTrainConfig's minutes and iters from the flags. Without either: DEFAULT_ITERS steps, so
    the model does not get worse on a busy machine (the same 3 minutes gave 405 to 2,119 steps,
    benchmarks/results_log/2026-11-to-2026-12-06.md), capped at DEFAULT_MINUTES; one flag alone is the only bound."""
    if minutes is None and iters is None:
        return {"minutes": DEFAULT_MINUTES, "iters": DEFAULT_ITERS}
    return {"minutes": minutes or 0.0, "iters": iters or 0}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "-f", "--faceset", nargs="+", required=True, type=Path, help="facesets to learn faces from (one face type)"
    )
    parser.add_argument("-o", "--output", required=True, type=Path, help="occlusion model to write (.onnx)")
    parser.add_argument(
        "--minutes",
        type=float_in(0.0),
        default=None,
        help=f"training time budget (0 = only --iters); given alone, it is the only bound "
        f"(default: {DEFAULT_ITERS} iterations, at most {DEFAULT_MINUTES:g} minutes)",
    )
    parser.add_argument(
        "--iters", type=int_in(0), default=None, help="stop after this many iterations (0 = no limit; see --minutes)"
    )
    parser.add_argument("--resolution", type=int_in(32, 256), default=96, help="input crop size, multiple of 16")
    parser.add_argument(
        "--width", type=int_in(4, 64), default=16, help="channels of the first layer (speed vs. accuracy)"
    )
    parser.add_argument("--batch", type=int_in(1, 512), default=16, help="faces per step")
    parser.add_argument(
        "--workers", type=int_in(0, 64), default=1, help="processes synthesising batches while training (0 = inline)"
    )
    parser.add_argument("--seed", type=seed, default=0, help="random seed")


def run(args: argparse.Namespace) -> int:
    from swapstream.engine.runtime.occluder import OccluderContract
    from swapstream.export.occluder_exporter import export_occluder
    from swapstream.trainer.occluder_train import OccluderTrainConfig, load_faces, synth_batch, train_occluder

    for path in args.faceset:
        if not (path / "faceset.json").is_file():
            raise user_error(path, "is not a faceset (no faceset.json): make one with `swapstream extract`")
    if args.output.suffix.lower() != ".onnx":
        raise user_error(args.output, "the occlusion model is written as .onnx")
    check_output_file(args.output, args.faceset, "-o", make_parents=True)
    try:
        cfg = OccluderTrainConfig(
            resolution=args.resolution,
            width=args.width,
            **budget(args.minutes, args.iters),
            batch=args.batch,
            seed=args.seed,
            workers=args.workers,
        )
    except ValueError as e:
        raise UserError(f"--minutes/--iters/--resolution: {e}") from None
    bank = load_faces(args.faceset, cfg.resolution)
    print(f"train-mask: {len(bank.faces)} {bank.face_type} faces at {cfg.resolution} px", file=sys.stderr)

    def progress(step: int, done: float, loss: float) -> None:
        print(f"  step {step}, {100 * done:.0f}% of the budget, loss {loss:.4f}", file=sys.stderr, flush=True)

    net, summary = train_occluder(bank, cfg, progress)
    import numpy as np

    verify = synth_batch(bank, np.random.default_rng(cfg.seed + 2), 16, photometric=False)[0]
    contract = OccluderContract(
        bank.face_type, cfg.resolution, iterations=summary["iterations"], validation=summary["validation"]
    )
    diff = export_occluder(net, contract, args.output, verify)
    print(json.dumps({"output": str(args.output), "max_diff_levels": diff, **summary}))
    return 0
