"""Swap faces in a video file (or a folder of images) offline: every frame, in order, audio kept.

Output: a video file (H.264 by default; --lossless writes FFV1, use .mkv), or, when OUTPUT has no
file extension, a folder of lossless PNG frames. The file is written under a temporary name and
renamed when complete, and carries a metadata label saying it contains synthetically swapped
faces and a signed C2PA manifest (swapstream/credentials, `swapstream verify`; --watermark on adds
an invisible mark to every frame). Frames without a face are copied unchanged. Phone videos stored
sideways are turned
upright by their rotation flag. A truncated input (fewer frames than its container declares) is
refused with exit 2 unless --allow-partial.

A video converted into a video file goes in segments of about --segment-seconds, each starting on
a keyframe (the face tracker warmed on the frames before it), kept in NAME.parts/ beside OUTPUT
until they are joined: the same pixels whether converted here, resumed, or on Ray workers
(--workers N, --cluster ADDRESS; a folder of videos fans out over them). Frame-folder outputs,
folders of images and videos that cannot be cut (frames without timestamps; truncated, with
--allow-partial) convert in one pipeline and cannot be resumed.

Interrupted (Ctrl-C, SIGTERM, SIGHUP): an existing OUTPUT is never replaced; the frames finished
so far are kept, playable, as NAME.partial.EXT (a folder NAME.partial for frame output) beside
OUTPUT, and the finished segments stay in NAME.parts/: the same command with --resume converts
only the missing ones, as after a crash.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from swapstream.commands.swap_flags import add_swap_arguments, stage_table
from swapstream.common.arg_types import int_in
from swapstream.common.choices import ENCODER_PRESETS
from swapstream.common.errors import UserError
from swapstream.convert_parts.command import add_parts_arguments, wants_parts
from swapstream.credentials.flags import add_credential_arguments, output_marks, warn_unsignable

log = logging.getLogger(__name__)

LOSSLESS_CONTAINERS = (".mkv", ".avi", ".nut")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("input", type=Path, help="video file or folder of images")
    parser.add_argument("-o", "--output", required=True, type=Path, help="output video, or a folder name (no suffix)")
    add_swap_arguments(parser, offline=True)
    g = parser.add_argument_group("encoding")
    g.add_argument(
        "--crf", type=int_in(0, 51), default=None, help="x264/x265 quality 0..51, lower is better (default 18)"
    )
    g.add_argument("--codec", default=None, help="video codec (default libx264; libx265, ffv1, ...)")
    g.add_argument("--preset", choices=ENCODER_PRESETS, default=None, help="x264/x265 speed preset (default veryfast)")
    g.add_argument("--lossless", action="store_true", help="FFV1 lossless video (needs .mkv/.avi)")
    g.add_argument("--no-audio", action="store_true", help="do not copy the input's audio")
    g.add_argument("--batch", type=int_in(1, 256), default=None, help="faces per inference call, 1..256 (default 8)")
    parser.add_argument(
        "--allow-partial",
        action="store_true",
        help="convert the frames a truncated input holds (default: refuse it, exit 2)",
    )
    add_parts_arguments(parser)
    add_credential_arguments(parser)


def build_sink(args: argparse.Namespace, encoder_cfg, sealer=None, watermark=None):
    """The file sink of OUTPUT; sealer (swapstream.credentials) signs what it writes, watermark
    (engine.image.watermark) marks each frame."""
    from swapstream.engine.stages.sink_file import ImageSequenceSink, VideoFileSink

    out: Path = args.output
    if not out.suffix:
        sign_image = sealer and sealer.sign_image
        return ImageSequenceSink(out, partial_on_interrupt=True, sign_image=sign_image, watermark=watermark)
    audio_from = None if args.no_audio or args.input.is_dir() else args.input
    publish = sealer and sealer.publish
    return VideoFileSink(
        out, encoder_cfg, audio_from=audio_from, partial_on_interrupt=True, publish=publish, watermark=watermark
    )


def _engine_config(args: argparse.Namespace):
    """The EngineConfig with convert's encoding and batch flags applied."""
    from swapstream.swap_session.from_args import engine_config_from_args

    cfg = engine_config_from_args(args)
    output = {k: v for k, v in (("crf", args.crf), ("codec", args.codec), ("preset", args.preset)) if v is not None}
    if args.lossless:
        output["codec"] = "ffv1"
    cfg = cfg.replace(output=output, offline={"batch_size": args.batch} if args.batch else {})
    out = args.output
    if cfg.output.codec == "ffv1" and out.suffix and out.suffix.lower() not in LOSSLESS_CONTAINERS:
        raise UserError(f"{out}: FFV1 needs a {'/'.join(LOSSLESS_CONTAINERS)} file")
    return cfg


def segmented(args: argparse.Namespace) -> bool:
    """A video file into a video file, or any --resume/--workers/--cluster: in segments."""
    return wants_parts(args) or (args.input.is_file() and bool(args.output.suffix))


def run(args: argparse.Namespace) -> int:
    if not args.input.exists():
        raise UserError(f"{args.input}: no such file or folder")
    if segmented(args):  # in segments, resumable (swapstream/convert_parts)
        from swapstream.convert_parts.command import run_parts
        from swapstream.engine.stages.segment_source import NotSegmentable

        try:
            return run_parts(args, _engine_config(args))
        except NotSegmentable as e:
            if wants_parts(args):
                raise
            log.warning("%s: %s; converting it in one pipeline (it cannot be resumed)", args.input, e.problem)
    return run_one_pipeline(args)


def run_one_pipeline(args: argparse.Namespace) -> int:
    """The whole input through one pipeline: frame folders, image folders, videos that cannot be cut."""
    from tqdm import tqdm

    from swapstream.common.output_paths import check_output_file, check_output_folder
    from swapstream.convert_parts.jobs import check_no_parts
    from swapstream.engine.pipeline.metrics import PipelineStats
    from swapstream.engine.stages.capture import open_file_source
    from swapstream.swap_session.from_args import swap_inputs
    from swapstream.swap_session.pipelines import SwapSession

    inputs = (args.input, *swap_inputs(args))
    if args.output.suffix:
        check_output_file(args.output, inputs)  # before the slow model load
        check_no_parts(args.output)
    else:
        check_output_folder(args.output, inputs)
    cfg = _engine_config(args)
    session = SwapSession.from_args(args, cfg)
    sealer, watermark = output_marks(args, cfg, args.input, session.model)
    if sealer is not None:
        warn_unsignable(args.output)
    sink = build_sink(args, cfg.output, sealer, watermark)
    stats = PipelineStats(provider=session.model.provider)
    source = open_file_source(args.input, max_frames=args.max_frames, allow_partial=args.allow_partial)
    pipe = session.pipeline(source, sink, live=False, stats=stats)
    info = pipe.setup()
    bar = tqdm(total=info.frame_count or None, unit="frame", desc="convert", dynamic_ncols=True, file=sys.stderr)

    def tick(s: PipelineStats) -> None:
        bar.update(s.frames - bar.n)

    try:
        pipe.run(tick, tick_s=0.25)
    except KeyboardInterrupt:  # pipe.run finalised the output before re-raising
        raise KeyboardInterrupt(_interrupted_note(args.output, sink.kept, stats)) from None
    finally:
        tick(stats)
        bar.close()
    _summary(sink.kept or args.output, stats)
    return 0


def _interrupted_note(output: Path, kept: Path | None, stats) -> str:
    """What an interrupted convert leaves: the exit message says it in one line."""
    untouched = f"; {output} was not touched" if output.exists() else ""
    if kept is None:
        return f"no frame was finished, nothing written{untouched}"
    frames = stats.snapshot().frames
    return f"kept the {frames} finished frames in {kept}{untouched}"


def _summary(written: Path, stats) -> None:
    s = stats.snapshot()
    print(
        f"wrote {written}: {s.frames} frames, {s.faces_swapped} faces swapped, "
        f"{s.frames_without_face} frames without a face, {s.fps:.1f} fps mean on {s.provider} "
        f"(stage ms p50/p95: {stage_table(stats)}). The output is labelled as containing synthetic faces.",
        file=sys.stderr,
    )
