"""Train a per-pair face-swap autoencoder (DF or LIAE) on two facesets made by `swapstream extract`.

RUN_DIR receives checkpoint.pt (saved every few minutes, at the end and on Ctrl-C), preview.png
(columns A, A->A, A->B, B, B->B, B->A on held-out faces), loss.png and history.csv.
Example: swapstream train -a fsA -b fsB -o run --preset live --minutes 60
"""

from __future__ import annotations

import argparse
from pathlib import Path

from swapstream.common.arg_types import float_in, int_in, positive_float, seed, threads
from swapstream.common.choices import TRAIN_PRECISIONS, sizes_text

MAX_MINUTES = 525_600  # a year


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-a", "--faceset-a", required=True, type=Path, metavar="FACESET_A", help="faceset of A")
    parser.add_argument("-b", "--faceset-b", required=True, type=Path, metavar="FACESET_B", help="faceset of B")
    parser.add_argument("-o", "--output", required=True, type=Path, metavar="RUN_DIR", help="run directory")
    parser.add_argument(
        "--preset", default="live", help="live | balanced | quality or a YAML path (default: live; ignored on resume)"
    )
    budget = parser.add_mutually_exclusive_group(required=True)
    budget.add_argument(
        "--iters", type=int_in(1, 10**9), metavar="N", help="train until iteration N (total, also on resume)"
    )
    budget.add_argument(
        "--minutes", type=positive_float(MAX_MINUTES), metavar="M", help="train for M more minutes (> 0)"
    )
    parser.add_argument("--resume", action="store_true", help="continue the run in RUN_DIR")
    parser.add_argument(
        "--replace-facesets",
        action="store_true",
        help="with --resume: continue on other facesets than the run recorded (default: refuse)",
    )
    parser.add_argument(
        "--base",
        type=Path,
        metavar="RUN",
        help="warm start a new run from RUN's weights (a run dir or checkpoint.pt) wherever name and shape "
        "match; which tensors were loaded or skipped is printed",
    )
    parser.add_argument("--batch-size", type=int_in(1, 4096), help="override the preset's batch size (1..4096)")
    parser.add_argument("--lr", type=positive_float(1.0), help="override the preset's learning rate (0 < lr <= 1)")
    parser.add_argument(
        "--precision",
        choices=TRAIN_PRECISIONS,
        help="auto: fp16 on CUDA, bf16 on CPUs with native bf16 (AMX/AVX512-BF16), else fp32",
    )
    parser.add_argument("--gan-power", type=float_in(0, 10), help="override the preset's GAN power (0 = off)")
    parser.add_argument(
        "--gan-start",
        type=float_in(0, 1),
        help="share of the budget (0..1) before the GAN term begins, as DeepFaceLab users turn GAN on late",
    )
    parser.add_argument(
        "--cycle-weight",
        type=float_in(0, 10),
        help="weight of the cycle term: A's faces swapped to B and back must give A again, so the swap keeps "
        "A's expression (a closed mouth stays closed); 0.57x the iterations per minute (df only; 0 = off)",
    )
    parser.add_argument("--color-transfer", action="store_true", help="rct: move A's colours toward B's")
    parser.add_argument("--preview-minutes", type=positive_float(MAX_MINUTES), help="minutes between previews")
    parser.add_argument("--checkpoint-minutes", type=positive_float(MAX_MINUTES), help="minutes between checkpoints")
    parser.add_argument(
        "--keep-checkpoints",
        action="store_true",
        help="also keep every periodic checkpoint (and the last) as RUN_DIR/checkpoints/minute_M_iter_N.pt: "
        "export or resume an earlier state if a later one is worse (each is the full checkpoint, ~130 MB "
        "for `live`)",
    )
    parser.add_argument(
        "--seed", type=seed, default=0, help="random seed, 0..2^32-1 (default 0; resume keeps the run's)"
    )
    parser.add_argument(
        "--threads",
        type=threads(allow_zero=False),
        help="torch CPU threads (default: one per core; 1 on a busy machine)",
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def _sizes(model_cfg) -> str:
    return sizes_text(model_cfg.input_resolution, model_cfg.resolution, model_cfg.output_resolution)


def run(args: argparse.Namespace) -> int:
    import torch  # noqa: F401  (fail here, not halfway, when torch is missing)

    from swapstream.common.errors import UserError
    from swapstream.trainer.train import RunOptions, train

    if args.iters is not None and args.iters <= 0:
        raise UserError(f"--iters must be positive, got {args.iters}")
    if args.minutes is not None and args.minutes <= 0:
        raise UserError(f"--minutes must be positive, got {args.minutes}")
    if args.base is not None and args.resume:
        raise UserError("--base starts a new run from other weights; a resumed run keeps its own (drop one)")
    if args.base is not None and not args.base.exists():
        raise UserError(f"{args.base}: no such run directory or checkpoint (--base)")
    overrides = {
        "batch_size": args.batch_size,
        "lr": args.lr,
        "precision": args.precision,
        "gan_power": args.gan_power,
        "gan_start": args.gan_start,
        "cycle_weight": args.cycle_weight,
        "preview_minutes": args.preview_minutes,
        "checkpoint_minutes": args.checkpoint_minutes,
        "color_transfer": True if args.color_transfer else None,
    }
    # Whether this is a resume, and so which configs the overrides apply to, is the trainer's
    # decision (trainer.run_state.start_run): a resumed run keeps its checkpoint's configs.
    opts = RunOptions(
        faceset_a=args.faceset_a,
        faceset_b=args.faceset_b,
        run_dir=args.output,
        preset=args.preset,
        iters=args.iters,
        minutes=args.minutes,
        resume=args.resume,
        seed=args.seed,
        progress=not args.no_progress,
        threads=args.threads,
        base=args.base,
        replace_facesets=args.replace_facesets,
        keep_checkpoints=args.keep_checkpoints,
        train_overrides={k: v for k, v in overrides.items() if v is not None},
    )
    try:
        s = train(opts)
    except KeyboardInterrupt:  # Ctrl-C, SIGTERM, SIGHUP: train saved a checkpoint between steps
        raise KeyboardInterrupt(_interrupted_note(args.output)) from None
    if not s.leader:  # torchrun's other ranks: rank 0 reports
        return 0
    if s.base is not None:
        print(s.base.summary())
    print(
        f"Trained {s.model_config.arch.upper()} {_sizes(s.model_config)} to iteration {s.iteration} in "
        f"{s.seconds / 60:.1f} min on {s.device} ({s.precision}, {s.samples_per_s:.0f} samples/s, "
        f"{100 * s.data_wait_share:.0f}% of the time waiting for data). Validation SSIM A->A "
        f"{s.val_ssim_start[0]:.3f} -> {s.val_ssim_end[0]:.3f}, B->B {s.val_ssim_start[1]:.3f} -> "
        f"{s.val_ssim_end[1]:.3f}. Checkpoint: {s.checkpoint}; look at {args.output / 'preview.png'}; "
        f"export with `swapstream export {args.output} -o model.onnx`."
    )
    return 0


def _interrupted_note(run_dir: Path) -> str:
    """What an interrupted train leaves, for the exit message."""
    checkpoint = run_dir / "checkpoint.pt"
    if not checkpoint.is_file():
        return "no checkpoint was saved yet (interrupted before the first step)"
    return f"the checkpoint {checkpoint} holds the last finished step: continue the run with --resume"
