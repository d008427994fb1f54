"""Measure the real engine: per-stage latency, throughput, glass-to-glass latency and drops.

  swapstream bench [-m MODEL] [--source FILE] [--mode live|convert] [--frames N] [--size WxH]
                   [--json OUT] [--plot OUT.png]

The same pipeline `swapstream live` / `convert` assemble (swap_session.pipelines.SwapSession) runs
on a video file, after a short warm-up that is not counted:
- live: the file is played at its own frame rate into the live policy (newest frame only, stale
  frames dropped and counted); glass-to-glass latency = sink time - capture time.
- convert: every frame, as fast as possible, batched inference, encoded to a temporary file.
In the same run, the same components are also timed unpaced as a pipeline (one thread per
stage) and as a plain sequential loop; the ratio of the two is what the threads buy.

Without -m: swapstream/assets/<preset>_<precision>.onnx when a fresh one ships (trained weights;
today the demo model, `--preset demo`), else random weights of the preset's architecture exported
once and cached (speed only). Without --source: a 640x480 driving clip rendered from
scikit-image's astronaut portrait, cached too (swapstream/bench/inputs.py). The runs:
swapstream/bench/runs.py; the table, JSON and plot: swapstream/bench/report.py.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import tempfile
from pathlib import Path

from swapstream.common.arg_types import int_in
from swapstream.common.choices import ENGINE_MODES, MODEL_PRECISIONS
from swapstream.common.errors import UserError

DEFAULT_CLIP_FRAMES = 300
WARMUP_FRAMES = 15
# fp16 models are for GPUs (on a CPU, onnxruntime runs them slower than fp32): not a default-model choice.
DEFAULT_MODEL_PRECISIONS = tuple(p for p in MODEL_PRECISIONS if p != "fp16")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from swapstream.commands.swap_flags import add_swap_arguments

    parser.add_argument("--source", type=Path, default=None, help="video file (default: a rendered 640x480 clip)")
    parser.add_argument("--mode", choices=ENGINE_MODES, default="live", help="engine policy (default live)")
    parser.add_argument(
        "--frames", type=int_in(2, 1_000_000), default=DEFAULT_CLIP_FRAMES, help="frames measured per run (>= 2)"
    )
    warmup_help = f"frames run first and not counted (default {WARMUP_FRAMES})"
    parser.add_argument("--warmup", type=int_in(0, 1_000_000), default=WARMUP_FRAMES, help=warmup_help)
    parser.add_argument("--size", default=None, metavar="WxH", help="rescale the source frames, e.g. 1280x720")
    parser.add_argument("--json", type=Path, default=None, metavar="OUT", help="write the results as JSON")
    parser.add_argument("--plot", type=Path, default=None, metavar="OUT.png", help="write per-stage and latency plots")
    g = parser.add_argument_group("default model (without -m)")
    g.add_argument("--preset", default="live", help="architecture of the default model (default live)")
    g.add_argument("--precision", choices=DEFAULT_MODEL_PRECISIONS, default="int8", help="its precision (default int8)")
    g.add_argument("--cache-dir", type=Path, default=None, help="default model/clip cache (~/.cache/swapstream)")
    add_swap_arguments(parser, model_required=False, max_frames=False)


def parse_size(text: str | None) -> tuple[int, int] | None:
    """'1280x720' -> (1280, 720); None stays None; anything else is a UserError."""
    if text is None:
        return None
    w, sep, h = text.lower().partition("x")
    if not (sep and w.isdigit() and h.isdigit()) or not (16 <= int(w) <= 7680 and 16 <= int(h) <= 4320):
        raise UserError(f"--size {text}: expected WIDTHxHEIGHT, e.g. 1280x720")
    return int(w), int(h)


def run(args: argparse.Namespace) -> int:
    from swapstream.bench.inputs import DEFAULT_CLIP_SIZE, cache_root, default_clip, default_model, resized_clip
    from swapstream.bench.report import format_table, write_json, write_plot
    from swapstream.bench.runs import measure
    from swapstream.common.output_paths import check_output_files
    from swapstream.engine.runtime.swap_model import load_swap_model
    from swapstream.swap_session.from_args import (
        engine_config_from_args,
        load_references,
        runtime_config_from_args,
        swap_inputs,
    )
    from swapstream.swap_session.pipelines import SwapSession

    # Before the measurement, never onto the source, model or config, nor onto each other.
    outputs = (("--json", args.json), ("--plot", args.plot))
    check_output_files(outputs, (args.source, *swap_inputs(args)), make_parents=True)
    size = parse_size(args.size)
    cache = cache_root(args.cache_dir)
    runtime_cfg = dataclasses.replace(runtime_config_from_args(args), offline=args.mode == "convert")
    cfg = engine_config_from_args(args)
    measured_frames = args.frames + args.warmup
    if args.source is None:
        source_path = default_clip(cache, measured_frames)
    else:
        if not args.source.is_file():
            raise UserError(f"{args.source}: {'not a regular file' if args.source.exists() else 'no such file'}")
        source_path = args.source
    if size is not None and not (args.source is None and size == DEFAULT_CLIP_SIZE):
        source_path = resized_clip(source_path, size, measured_frames, cache)
    weights_note = None
    model_path = args.model
    if model_path is None:
        model_path, weights_note = default_model(args.preset, args.precision, cache)
    model = load_swap_model(model_path, runtime_cfg, face_type=args.face_type)
    session = SwapSession(cfg, model, *load_references(args, model))
    with tempfile.TemporaryDirectory(prefix="swapstream-bench-") as tmp:
        result = measure(
            session, source_path, args.mode, args.frames, args.warmup, runtime_cfg, Path(tmp), weights_note
        )
    result["source"]["default"] = args.source is None
    result["source"]["original"] = str(args.source) if args.source else "astronaut driving clip (rendered)"
    print(format_table(result))
    if args.json is not None:
        write_json(result, args.json)
        print(f"wrote {args.json}", file=sys.stderr)
    if args.plot is not None:
        write_plot(result, args.plot)
        print(f"wrote {args.plot}", file=sys.stderr)
    return 0
