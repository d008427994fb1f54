"""Flags and helpers shared by the swapping commands (convert, live, bench), defined once.

They import nothing heavy at module level, so `swapstream --help` stays fast.
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

from swapstream.common.arg_types import MAX_DETAIL, float_in, int_in
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
        "--detail",
        type=float_in(0.0, MAX_DETAIL),
        default=None,
        metavar="AMOUNT",
        help="add the target's own fine detail (lashes, lid creases, brows, nostrils, skin texture) that "
        "is finer than the model renders, inside the swapped face except the mouth, from the target's "
        "faces nearest in pose and expression (see --detail-from): 1 = all the render lacks, 0 = none "
        "(default from configs/engine.yaml). Sharpens faces pasted larger than the model's crop (close-ups)",
    )
    g.add_argument(
        "--detail-from",
        type=Path,
        default=None,
        metavar="FACESET",
        help="the target's faceset (`swapstream extract`, the model's -b) whose own fine detail --detail "
        "adds: lashes, lid creases, brows, nostrils and skin of the target's face nearest in pose and "
        "expression, warped onto the driving face (default: MODEL.detail beside the model, written by "
        "`swapstream export`; without either --detail adds nothing). `driver`: the driving face's own "
        "detail, as before issue 28 (the viewer then sees the driver's eyes and brows on the target)",
    )
    g.add_argument(
        "--steady",
        type=float_in(0.0, 1.0),
        default=None,
        metavar="AMOUNT",
        help="hold the swapped face's change from frame to frame to the driving face's own, so a still "
        "face does not shimmer with the model's jitter (blinks, speech and lighting changes pass): 1 = "
        "fully, 0 = off (default from configs/engine.yaml)",
    )
    g.add_argument(
        "--keep-mouth",
        action="store_true",
        default=None,
        help="keep the driver's own teeth and tongue inside an open mouth (feathered): real speech when "
        "the model's teeth are soft",
    )
    g.add_argument(
        "--reference",
        metavar="PHOTO_OR_FACESET[:MODEL]",
        action="append",
        type=reference_spec,
        default=None,
        help="swap only this person (repeatable, one per person): a photo of them or a faceset folder "
        "(`swapstream extract`; recognises more reliably than one photo), optionally with the model that "
        "swaps them (default -m). Other faces are left untouched; a face keeps its verdict while it is "
        "tracked and is re-checked about once a second, and whenever another face slides under it. "
        "Needs the `eval` extra (dlib)",
    )
    g.add_argument("--config", type=Path, default=None, help="engine config YAML (default configs/engine.yaml)")
    if max_frames:
        g.add_argument("--max-frames", type=int_in(0), default=0, help="stop after this many frames (0 = all)")
    add_runtime_arguments(parser)


# PHOTO:MODEL, where MODEL (an .onnx or .dfm file) may start with a Windows drive letter.
_REFERENCE_WITH_MODEL = re.compile(r"^(.+?):((?:[A-Za-z]:)?[^:]+\.(?:onnx|dfm))$", re.IGNORECASE)


def reference_spec(text: str) -> tuple[Path, Path | None]:
    """'alice.jpg' -> (alice.jpg, None); 'alice.jpg:alice.onnx' -> (alice.jpg, alice.onnx). Only a
    part after a ':' that names a model counts as one (a Windows drive's ':' does not)."""
    if not text:
        raise argparse.ArgumentTypeError("empty reference")
    m = _REFERENCE_WITH_MODEL.match(text)
    if m is None or len(m.group(1)) == 1:  # no model, or 'C:/...': a drive letter, not a photo
        return Path(text), None
    return Path(m.group(1)), Path(m.group(2))


def swap_inputs(args: argparse.Namespace) -> tuple[Path, ...]:
    """Every file a swap reads besides its video: the model, the config, each --reference photo,
    faceset and model. No output may ever be written over one of them."""
    refs = [p for spec in (getattr(args, "reference", None) or []) for p in spec if p is not None]
    extra = (getattr(args, "detail_from", None),)
    return tuple(p for p in (args.model, args.config, *refs, *extra) if p is not None)


def load_references(args: argparse.Namespace, model):
    """(references, {target: SwapModel}) of the --reference flags: every photo/faceset embedded
    once, every distinct extra model loaded once (target 0 is -m). ((), {}) without the flag."""
    specs = getattr(args, "reference", None) or []
    if not specs:
        return (), {}
    from swapstream.engine.face.embedding import EmbedderMissing, FaceEmbedder
    from swapstream.engine.face.reference_files import load_reference
    from swapstream.engine.face.tracking import FaceFinder

    try:
        embedder = FaceEmbedder()
    except EmbedderMissing as e:
        raise UserError(f"--reference: {e}") from None
    targets: dict[Path, int] = {}
    others = {}
    finder = FaceFinder()
    try:
        references = []
        for photo, model_path in specs:
            target = 0
            if model_path is not None and model_path.resolve() != Path(model.path).resolve():
                key = model_path.resolve()
                if key not in targets:
                    targets[key] = len(targets) + 1
                    others[targets[key]] = load_model(args, model_path)
                target = targets[key]
            references.append(load_reference(photo, target, embedder, finder))
    finally:
        finder.close()
    return tuple(references), others


def engine_config_from_args(args: argparse.Namespace):
    """The EngineConfig of configs/engine.yaml (or --config) with the command-line overrides applied."""
    from swapstream.engine.config import load_engine_config

    cfg = load_engine_config(args.config)
    pairs = (
        ("color", args.color),
        ("blend", args.blend),
        ("mask", args.mask),
        ("keep_mouth", args.keep_mouth),
        ("detail", args.detail),
        ("steady", args.steady),
    )
    swap = {k: v for k, v in pairs if v is not None}
    if args.occluder is not None:
        if not args.occluder.is_file():
            raise UserError(f"{args.occluder}: no such occlusion model (--occluder)")
        swap["occluder"] = str(args.occluder)
    if args.detail_from is not None:
        swap["detail_from"] = str(args.detail_from)
    detect = {"faces": args.faces} if args.faces else {}
    try:
        return cfg.replace(swap=swap, detect=detect)
    except ValueError as e:
        raise UserError(f"--mask/--occluder: {e}") from None


def load_model(args: argparse.Namespace, path: Path | None = None):
    """The SwapModel named by -m (or `path`), on the providers of --providers (bad flags -> UserError)."""
    from swapstream.engine.runtime.model import load_swap_model
    from swapstream.engine.runtime.providers import runtime_config_from_args

    try:
        runtime_cfg = runtime_config_from_args(args)
    except ValueError as e:
        raise UserError(f"--providers/--threads: {e}") from None
    return load_swap_model(path or args.model, runtime_cfg, face_type=args.face_type)


def stage_table(stats) -> str:
    """'detect 3.1/4.0, align 0.4/0.6, ...' : per-stage p50/p95 in ms."""
    snap = stats.snapshot()
    return ", ".join(f"{name} {v['p50']:.1f}/{v['p95']:.1f}" for name, v in snap.stage_ms.items())
