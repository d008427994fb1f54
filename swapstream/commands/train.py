"""Train a per-pair face-swap autoencoder (DF or LIAE) on two facesets made by `swapstream extract`.

RUN_DIR receives checkpoint.pt (saved every few minutes, at the end and on Ctrl-C), preview.png
(columns A, A->A, A->B, B, B->B, B->A on held-out faces), loss.png and history.csv.
Example: swapstream train -a fsA -b fsB -o run --preset live --minutes 60
"""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

from swapstream.common.choices import TRAIN_PRECISIONS


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-a", "--faceset-a", required=True, type=Path, metavar="FACESET_A", help="faceset of A")
    parser.add_argument("-b", "--faceset-b", required=True, type=Path, metavar="FACESET_B", help="faceset of B")
    parser.add_argument("-o", "--output", required=True, type=Path, metavar="RUN_DIR", help="run directory")
    parser.add_argument(
        "--preset", default="live", help="live | balanced | quality or a YAML path (default: live; ignored on resume)"
    )
    budget = parser.add_mutually_exclusive_group(required=True)
    budget.add_argument("--iters", type=int, metavar="N", help="train until iteration N (total, also on resume)")
    budget.add_argument("--minutes", type=float, metavar="M", help="train for M more minutes")
    parser.add_argument("--resume", action="store_true", help="continue the run in RUN_DIR")
    parser.add_argument("--batch-size", type=int, help="override the preset's batch size")
    parser.add_argument("--lr", type=float, help="override the preset's learning rate")
    parser.add_argument(
        "--precision",
        choices=TRAIN_PRECISIONS,
        help="auto: fp16 on CUDA, bf16 on CPUs with native bf16 (AMX/AVX512-BF16), else fp32",
    )
    parser.add_argument("--gan-power", type=float, help="override the preset's GAN power (0 = off)")
    parser.add_argument("--color-transfer", action="store_true", help="rct: move A's colours toward B's")
    parser.add_argument("--preview-minutes", type=float, help="minutes between previews")
    parser.add_argument("--checkpoint-minutes", type=float, help="minutes between checkpoints")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0; resume keeps the run's)")
    parser.add_argument("--threads", type=int, help="torch CPU threads (default: one per core; 1 on a busy machine)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def run(args: argparse.Namespace) -> int:
    import torch  # noqa: F401  (fail here, not halfway, when torch is missing)

    from swapstream.common.errors import UserError
    from swapstream.trainer.checkpoint import find_checkpoint, load_checkpoint
    from swapstream.trainer.config import ModelConfig, TrainConfig, load_preset
    from swapstream.trainer.train import RunOptions, train

    if args.iters is not None and args.iters <= 0:
        raise UserError(f"--iters must be positive, got {args.iters}")
    if args.minutes is not None and args.minutes <= 0:
        raise UserError(f"--minutes must be positive, got {args.minutes}")
    if args.resume:
        state = load_checkpoint(find_checkpoint(args.output))
        model_cfg = ModelConfig.from_dict(state["model_config"])
        train_cfg = TrainConfig.from_dict(state["train_config"])
        preset = state["preset"]
        del state
    else:
        model_cfg, train_cfg = load_preset(args.preset)
        preset = args.preset
    overrides = {
        "batch_size": args.batch_size,
        "lr": args.lr,
        "precision": args.precision,
        "gan_power": args.gan_power,
        "preview_minutes": args.preview_minutes,
        "checkpoint_minutes": args.checkpoint_minutes,
        "color_transfer": True if args.color_transfer else None,
    }
    try:
        train_cfg = dataclasses.replace(train_cfg, **{k: v for k, v in overrides.items() if v is not None})
    except ValueError as e:
        raise UserError(f"bad option: {e}") from None
    opts = RunOptions(
        faceset_a=args.faceset_a,
        faceset_b=args.faceset_b,
        run_dir=args.output,
        preset=str(preset),
        iters=args.iters,
        minutes=args.minutes,
        resume=args.resume,
        seed=args.seed,
        progress=not args.no_progress,
        threads=args.threads,
    )
    s = train(opts, model_cfg, train_cfg)
    print(
        f"Trained {model_cfg.arch.upper()} {model_cfg.resolution} px to iteration {s.iteration} in "
        f"{s.seconds / 60:.1f} min on {s.device} ({s.precision}, {s.samples_per_s:.0f} samples/s, "
        f"{100 * s.data_wait_share:.0f}% of the time waiting for data). Validation SSIM A->A "
        f"{s.val_ssim_start[0]:.3f} -> {s.val_ssim_end[0]:.3f}, B->B {s.val_ssim_start[1]:.3f} -> "
        f"{s.val_ssim_end[1]:.3f}. Checkpoint: {s.checkpoint}; look at {args.output / 'preview.png'}; "
        f"export with `swapstream export {args.output} -o model.onnx`."
    )
    return 0
