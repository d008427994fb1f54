"""The flags of the swapping commands (convert, live, studio, bench), defined once; what they
mean is read in one place below the commands (swapstream/swap_session/from_args.py).

They import nothing heavy at module level, so `swapstream --help` stays fast.
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

from swapstream.common.arg_types import MAX_THREADS, float_in, int_in, threads
from swapstream.common.choices import (
    FACE_SELECTION_HELP,
    FACE_SELECTIONS,
    FACE_TYPES,
    FRAME_DEVICE_HELP,
    FRAME_DEVICES,
    describe,
)


def add_swap_arguments(
    parser: argparse.ArgumentParser, model_required: bool = True, max_frames: bool = True, offline: bool = False
) -> None:
    """Flags shared by convert, live, studio and bench: model, faces, colour, mask, blend, config, runtime.

    bench passes model_required=False (it has a default model) and max_frames=False (it has --frames);
    convert passes offline=True (its inference may take every core: add_runtime_arguments).
    """
    model_help = "swap model (.onnx export or DeepFaceLive .dfm)"
    parser.add_argument("-m", "--model", required=model_required, type=Path, default=None, help=model_help)
    parser.add_argument(
        "--face-type", default=None, choices=FACE_TYPES, help=f"face type of a .dfm model: {describe(FACE_TYPES)}"
    )
    g = parser.add_argument_group("swap (defaults from configs/engine.yaml)")
    g.add_argument(
        "--faces", choices=FACE_SELECTIONS, default=None, help=describe(FACE_SELECTIONS, FACE_SELECTION_HELP)
    )
    g.add_argument(
        "--occluder",
        type=Path,
        default=None,
        help="occlusion model made by `swapstream train-mask` (needed by --mask occlusion): keeps hands, "
        "microphones, cups and hair strands in front of the face instead of painting the face over them",
    )
    add_knob_arguments(g)
    g.add_argument(
        "--detail-from",
        type=Path,
        default=None,
        metavar="FACESET",
        help="the target's faceset (`swapstream extract`, the model's -b) whose own fine detail --detail "
        "adds: lashes, lid creases, brows, nostrils and skin of the target's face nearest in pose and "
        "expression, warped onto the driving face; --mouth takes the target's mouths from it too "
        "(default: MODEL.detail beside the model, written by `swapstream export`; without either "
        "--detail adds nothing). `driver`: the driving face's own "
        "detail, as before issue 28 (the viewer then sees the driver's eyes and brows on the target)",
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
    add_runtime_arguments(parser, offline)


def add_knob_arguments(group) -> None:
    """One flag per swap knob that has one (engine/swap_knobs.py: `--detail` for the knob `detail`),
    default None (= the config's value); swap_session.from_args.engine_config_from_args applies them."""
    from swapstream.engine.swap_knobs import knob_specs

    for spec in knob_specs():
        flag = "--" + spec.key.replace("_", "-")
        if spec.kind == "choice" and spec.choice_help is not None:
            group.add_argument(flag, choices=spec.choices, default=None, help=describe(spec.choices, spec.choice_help))
        elif not spec.flag_help:
            continue  # set in the config file and the studio only
        elif spec.kind == "bool":
            group.add_argument(flag, action="store_true", default=None, help=spec.flag_help)
        else:
            number = float_in(spec.lo, spec.hi)
            group.add_argument(flag, type=number, default=None, metavar="AMOUNT", help=spec.flag_help)


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


def add_runtime_arguments(parser: argparse.ArgumentParser, offline: bool = False) -> None:
    """The inference runtime flags (swap_session.from_args.runtime_config_from_args reads them);
    offline: the command converts offline (engine.runtime.providers.RuntimeConfig.offline)."""
    parser.set_defaults(offline_inference=offline)
    g = parser.add_argument_group("inference runtime")
    g.add_argument(
        "--providers",
        default="auto",
        help="execution providers in order, comma separated: tensorrt,cuda,cpu or auto (default: auto)",
    )
    g.add_argument(
        "--threads",
        type=threads(allow_zero=True),
        default=0,
        help=f"intra-op threads, 0..{MAX_THREADS} (0 = by the CPU and the work: on a host of <= 2 cores, live "
        "gets 1 where the CPU has VNNI/AMX and convert runs each batch as one 1-thread run per core at once; "
        "else ONNX Runtime's default, one per core)",
    )
    g.add_argument(
        "--spin-wait",
        action="store_true",
        help="let idle inference threads busy-wait: faster when inference runs alone, slower in the "
        "engine, whose other stages need the cores (default: off)",
    )
    g.add_argument("--device-id", type=int_in(0, 63), default=0, help="GPU index for CUDA/TensorRT")
    g.add_argument("--trt-fp16", action="store_true", help="TensorRT: build FP16 kernels")
    g.add_argument(
        "--trt-cache",
        type=Path,
        default=None,
        help="TensorRT engine/timing cache directory (default: the user's cache folder, swapstream/tensorrt)",
    )
    g.add_argument(
        "--device",
        choices=FRAME_DEVICES,
        default="auto",
        help="where the swap's per-pixel work (warp, colour, masks, paste) runs: "
        + describe(FRAME_DEVICES, FRAME_DEVICE_HELP),
    )
    g.add_argument(
        "--cuda-graph",
        action="store_true",
        help="CUDA/TensorRT on the GPU frame path: capture inference as a CUDA graph (fixed shape: live)",
    )


def stage_table(stats) -> str:
    """'detect 3.1/4.0, align 0.4/0.6, ...' : per-stage p50/p95 in ms."""
    snap = stats.snapshot()
    return ", ".join(f"{name} {v['p50']:.1f}/{v['p95']:.1f}" for name, v in snap.stage_ms.items())
