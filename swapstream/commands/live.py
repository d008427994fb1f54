"""Swap faces live from a camera (or a file played in real time) into a virtual camera, a preview
window and/or a recording.

Only the newest camera frame is processed (older ones are dropped and counted), so latency stays
bounded when the machine is slower than the camera. A status line each second shows fps,
glass-to-glass latency p50/p95, drops and the execution provider. Ctrl-C (or SIGTERM, or
SIGHUP when the terminal closes) stops and finalizes the recording under its --record name;
--record never overwrites an existing file (the source, the model, the config or a video).
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from pathlib import Path

from swapstream.commands.swap_flags import add_swap_arguments
from swapstream.common.arg_types import float_in, int_in, positive_float
from swapstream.credentials.flags import add_credential_arguments, output_marks, warn_unsignable


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--source", default="0", help="camera index, device path (/dev/videoN) or a video file")
    parser.add_argument("--vcam", action="store_true", help="send the swapped stream to a virtual camera")
    parser.add_argument("--vcam-device", default=None, help="virtual camera device (default: the first one)")
    parser.add_argument("--vcam-backend", default=None, help="pyvirtualcam backend (default: the platform's)")
    parser.add_argument("--preview", action="store_true", help="show a preview window (needs OpenCV with a GUI)")
    parser.add_argument(
        "--record",
        type=Path,
        default=None,
        help="also record the swapped stream to this new file (never an existing one)",
    )
    parser.add_argument("--width", type=int_in(16, 7680), default=None, help="camera width to ask for (default 640)")
    parser.add_argument("--height", type=int_in(16, 4320), default=None, help="camera height to ask for (default 480)")
    parser.add_argument("--fps", type=positive_float(240), default=None, help="camera rate to ask for (default 30)")
    parser.add_argument(
        "--duration", type=float_in(0), default=0, help="stop after this many seconds (0 = until Ctrl-C)"
    )
    add_swap_arguments(parser)
    add_credential_arguments(parser)


def check_record_path(args: argparse.Namespace) -> None:
    """--record must be writable, never one of the inputs (a source file, the model, the config),
    and never an existing file: a live session always ends interrupted, and an interrupted run
    never replaces a file (convert keeps its NAME.partial.EXT beside it)."""
    from swapstream.common.errors import user_error
    from swapstream.engine.stages.sink_file import check_output_path
    from swapstream.swap_session.from_args import is_camera, swap_inputs

    source = None if is_camera(args.source) else Path(args.source)
    check_output_path(args.record, tuple(p for p in (source, *swap_inputs(args)) if p is not None))
    if args.record.exists():
        raise user_error(args.record, "exists, and a recording never replaces a file (--record): choose a new name")


def build_sink(args: argparse.Namespace, cfg, sealer=None, watermark=None):
    """The live outputs; sealer (swapstream.credentials) signs the --record file when it is
    finalised, watermark (engine.image.watermark) marks its frames."""
    from swapstream.engine.stages.sink_file import VideoFileSink
    from swapstream.engine.stages.sink_live import NullSink, PreviewSink, TeeSink, VirtualCameraSink

    sinks = []
    if args.vcam:
        sinks.append(VirtualCameraSink(pace=cfg.live.vcam_pace, backend=args.vcam_backend, device=args.vcam_device))
    if args.preview:
        sinks.append(PreviewSink())
    if args.record is not None:
        check_record_path(args)
        # Live recordings favour encoding speed: the encoder shares the CPU with the swap.
        encoder = dataclasses.replace(cfg.output, preset="ultrafast", copy_audio=False)
        sinks.append(VideoFileSink(args.record, encoder, publish=sealer and sealer.publish, watermark=watermark))
    if not sinks:
        return NullSink()
    return sinks[0] if len(sinks) == 1 else TeeSink(sinks)


def sink_kept(sink) -> Path | None:
    """Where the --record file ended up (None: nothing recorded)."""
    for part in getattr(sink, "sinks", [sink]):
        if getattr(part, "kept", None) is not None:
            return part.kept
    return None


def status_line(stats) -> str:
    s = stats.snapshot()
    lat = s.latency_ms
    return (
        f"{s.recent_fps:5.1f} fps | latency p50 {lat['p50']:5.1f} ms p95 {lat['p95']:5.1f} ms | "
        f"drops {s.dropped} | faces {s.faces_swapped} | {s.provider}"
    )


def run(args: argparse.Namespace) -> int:
    from swapstream.commands.control_keys import KeyReader
    from swapstream.engine.pipeline.controls import ControlBoard, SwapSettings
    from swapstream.swap_session.from_args import engine_config_from_args, is_camera, live_source
    from swapstream.swap_session.pipelines import SwapSession

    cfg = engine_config_from_args(args)
    source = live_source(args, cfg)
    if args.record is not None:
        check_record_path(args)  # before the slow model load
    session = SwapSession.from_args(args, cfg)
    sealer = watermark = None
    if args.record is not None:
        source_file = None if is_camera(args.source) else Path(args.source)
        sealer, watermark = output_marks(args, cfg, source_file, session.model)
        if sealer is not None:
            warn_unsignable(args.record)
    sink = build_sink(args, cfg, sealer, watermark)
    board = ControlBoard(SwapSettings.from_config(cfg, session.model))  # the studio's control path; keys below
    pipe = session.pipeline(source, sink, live=True, controls=board)
    stats = pipe.stats
    info = pipe.setup()
    provider = session.model.provider
    print(f"live: {info.name} {info.width}x{info.height} @ {info.fps:.0f} fps on {provider}", file=sys.stderr)
    if not (args.vcam or args.preview or args.record):
        print("live: no output chosen (--vcam, --preview, --record): measuring only", file=sys.stderr)
    t_end = time.monotonic() + args.duration if args.duration else None

    def tick(s) -> None:
        print(status_line(s), file=sys.stderr, flush=True)
        if t_end is not None and time.monotonic() >= t_end:
            pipe.stop()

    keys = KeyReader(board) if KeyReader.usable() else None
    try:
        if keys is not None:
            keys.start()
        pipe.run(tick, tick_s=1.0)
    except KeyboardInterrupt:  # the usual way to end a live session: the recording is finalised
        if args.record is not None:
            kept = sink_kept(sink)
            raise KeyboardInterrupt(f"the recording {kept} was finalised" if kept else "nothing recorded") from None
        raise
    finally:
        if keys is not None:
            keys.stop()
        if not pipe.failed:
            s = stats.snapshot()
            print(
                f"live: {s.frames} frames in {s.elapsed_s:.1f} s ({s.fps:.1f} fps), {s.dropped} dropped, "
                f"latency p50 {s.latency_ms['p50']:.1f} ms p95 {s.latency_ms['p95']:.1f} ms "
                f"p99 {s.latency_ms['p99']:.1f} ms",
                file=sys.stderr,
            )
    return 0
