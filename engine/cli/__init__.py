"""Subcommands of `swapstream` that the engine owns (convert, live, bench, eval).

Helpers shared by convert and live live here; they import nothing heavy at module level, so
`swapstream --help` stays fast.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from engine.errors import UserError


def add_swap_arguments(parser: argparse.ArgumentParser) -> None:
    """Flags shared by convert and live: model, faces, colour, blend, config, runtime."""
    from engine.runtime.providers import add_runtime_arguments

    parser.add_argument(
        "-m", "--model", required=True, type=Path, help="swap model (.onnx export or DeepFaceLive .dfm)"
    )
    parser.add_argument("--face-type", default=None, help="face type of a .dfm model (half, mid, full, whole, head)")
    g = parser.add_argument_group("swap (defaults from configs/engine.yaml)")
    g.add_argument("--faces", choices=("largest", "all"), default=None, help="swap the largest face or every face")
    g.add_argument("--color", default=None, help="colour transfer: rct, lct, mkl, hist or none")
    g.add_argument("--blend", choices=("feather", "poisson"), default=None, help="feathered alpha or Poisson")
    g.add_argument("--mask", choices=("both", "model", "hull"), default=None, help="what limits the blend")
    g.add_argument("--config", type=Path, default=None, help="engine config YAML (default configs/engine.yaml)")
    g.add_argument("--max-frames", type=int, default=0, help="stop after this many frames (0 = all)")
    add_runtime_arguments(parser)


def engine_config_from_args(args: argparse.Namespace):
    """The EngineConfig of configs/engine.yaml (or --config) with the command-line overrides applied."""
    from engine.config import load_engine_config
    from engine.image.color import COLOR_MODES

    cfg = load_engine_config(args.config)
    if args.color is not None and args.color not in COLOR_MODES:
        raise UserError(f"--color {args.color}: unknown mode (known: {', '.join(COLOR_MODES)})")
    swap = {k: v for k, v in (("color", args.color), ("blend", args.blend), ("mask", args.mask)) if v is not None}
    detect = {"faces": args.faces} if args.faces else {}
    return cfg.replace(swap=swap, detect=detect)


def load_model(args: argparse.Namespace):
    """The SwapModel named by -m, on the providers of --providers (bad flags -> UserError)."""
    from engine.runtime.model import load_swap_model
    from engine.runtime.providers import runtime_config_from_args

    try:
        runtime_cfg = runtime_config_from_args(args)
    except ValueError as e:
        raise UserError(f"--providers/--threads: {e}") from None
    return load_swap_model(args.model, runtime_cfg, face_type=args.face_type)


def stage_table(stats) -> str:
    """'detect 3.1/4.0, align 0.4/0.6, ...' : per-stage p50/p95 in ms."""
    snap = stats.snapshot()
    return ", ".join(f"{name} {v['p50']:.1f}/{v['p95']:.1f}" for name, v in snap.stage_ms.items())
