"""Flags and helpers shared by the swapping commands (convert, live, bench), defined once.

They import nothing heavy at module level, so `swapstream --help` stays fast.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from swapstream.common.arg_types import int_in
from swapstream.common.choices import (
    BLEND_MODE_HELP,
    BLEND_MODES,
    COLOR_MODE_HELP,
    COLOR_MODES,
    FACE_SELECTION_HELP,
    FACE_SELECTIONS,
    FACE_TYPES,
    MASK_MODE_HELP,
    MASK_MODES,
    describe,
)
from swapstream.common.errors import UserError


def add_swap_arguments(parser: argparse.ArgumentParser, model_required: bool = True, max_frames: bool = True) -> None:
    """Flags shared by convert, live and bench: model, faces, colour, mask, blend, config, runtime.

    bench passes model_required=False (it has a default model) and max_frames=False (it has --frames).
    """
    from swapstream.engine.runtime.providers import add_runtime_arguments

    model_help = "swap model (.onnx export or DeepFaceLive .dfm)"
    parser.add_argument("-m", "--model", required=model_required, type=Path, default=None, help=model_help)
    parser.add_argument(
        "--face-type", default=None, choices=FACE_TYPES, help=f"face type of a .dfm model: {describe(FACE_TYPES)}"
    )
    g = parser.add_argument_group("swap (defaults from configs/engine.yaml)")
    g.add_argument(
        "--faces", choices=FACE_SELECTIONS, default=None, help=describe(FACE_SELECTIONS, FACE_SELECTION_HELP)
    )
    g.add_argument("--color", choices=COLOR_MODES, default=None, help=describe(COLOR_MODES, COLOR_MODE_HELP))
    g.add_argument("--blend", choices=BLEND_MODES, default=None, help=describe(BLEND_MODES, BLEND_MODE_HELP))
    g.add_argument("--mask", choices=MASK_MODES, default=None, help=describe(MASK_MODES, MASK_MODE_HELP))
    g.add_argument(
        "--occluder",
        type=Path,
        default=None,
        help="occlusion model made by `swapstream train-mask` (needed by --mask occlusion): keeps hands, "
        "microphones, cups and hair strands in front of the face instead of painting the face over them",
    )
    g.add_argument(
        "--keep-mouth",
        action="store_true",
        default=None,
        help="keep the driver's own teeth and tongue inside an open mouth (feathered): real speech when "
        "the model's teeth are soft",
    )
    g.add_argument("--config", type=Path, default=None, help="engine config YAML (default configs/engine.yaml)")
    if max_frames:
        g.add_argument("--max-frames", type=int_in(0), default=0, help="stop after this many frames (0 = all)")
    add_runtime_arguments(parser)


def engine_config_from_args(args: argparse.Namespace):
    """The EngineConfig of configs/engine.yaml (or --config) with the command-line overrides applied."""
    from swapstream.engine.config import load_engine_config

    cfg = load_engine_config(args.config)
    pairs = (("color", args.color), ("blend", args.blend), ("mask", args.mask), ("keep_mouth", args.keep_mouth))
    swap = {k: v for k, v in pairs if v is not None}
    if args.occluder is not None:
        if not args.occluder.is_file():
            raise UserError(f"{args.occluder}: no such occlusion model (--occluder)")
        swap["occluder"] = str(args.occluder)
    detect = {"faces": args.faces} if args.faces else {}
    try:
        return cfg.replace(swap=swap, detect=detect)
    except ValueError as e:
        raise UserError(f"--mask/--occluder: {e}") from None


def load_model(args: argparse.Namespace):
    """The SwapModel named by -m, on the providers of --providers (bad flags -> UserError)."""
    from swapstream.engine.runtime.model import load_swap_model
    from swapstream.engine.runtime.providers import runtime_config_from_args

    try:
        runtime_cfg = runtime_config_from_args(args)
    except ValueError as e:
        raise UserError(f"--providers/--threads: {e}") from None
    return load_swap_model(args.model, runtime_cfg, face_type=args.face_type)


def stage_table(stats) -> str:
    """'detect 3.1/4.0, align 0.4/0.6, ...' : per-stage p50/p95 in ms."""
    snap = stats.snapshot()
    return ", ".join(f"{name} {v['p50']:.1f}/{v['p95']:.1f}" for name, v in snap.stage_ms.items())
