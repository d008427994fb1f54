"""Measure the real engine: per-stage latency, throughput, glass-to-glass latency and drops.

  swapstream bench [-m MODEL] [--source FILE] [--mode live|convert] [--frames N] [--size WxH]
                   [--json OUT] [--plot OUT.png]

The same stages `swapstream live` / `convert` assemble (engine.pipeline.build.swap_stages) run
on a video file, after a short warm-up that is not counted:
- live: the file is played at its own frame rate into the live policy (newest frame only, stale
  frames dropped and counted); glass-to-glass latency = sink time - capture time.
- convert: every frame, as fast as possible, batched inference, encoded to a temporary file.
In the same run, the same components are also timed unpaced as a pipeline (one thread per
stage) and as a plain sequential loop; the ratio of the two is what the threads buy.

Without -m: swapstream/assets/demo_<preset>_<precision>.onnx when it ships (trained weights),
else a freshly initialised model of the preset's architecture exported once and cached
(weights untrained: speed only). Without --source: a 640x480 driving clip rendered from
scikit-image's astronaut portrait, cached too. The cache is ~/.cache/swapstream/bench.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import sys
import tempfile
from pathlib import Path

from swapstream.common.choices import ENGINE_MODES
from swapstream.common.errors import UserError

ASSETS_DIR = Path(__file__).resolve().parent / "assets"
DEFAULT_CLIP_FRAMES = 300
DEFAULT_CLIP_SIZE = (640, 480)
WARMUP_FRAMES = 15
CACHE_VERSION = 1  # bump when the cached default model or clip would be built differently
UNTRAINED_NOTE = "untrained (random init) - speed only"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from swapstream.commands.swap_flags import add_swap_arguments

    parser.add_argument("--source", type=Path, default=None, help="video file (default: a rendered 640x480 clip)")
    parser.add_argument("--mode", choices=ENGINE_MODES, default="live", help="engine policy (default live)")
    parser.add_argument("--frames", type=int, default=DEFAULT_CLIP_FRAMES, help="frames measured per run")
    parser.add_argument(
        "--warmup", type=int, default=WARMUP_FRAMES, help=f"frames run first and not counted (default {WARMUP_FRAMES})"
    )
    parser.add_argument("--size", default=None, metavar="WxH", help="rescale the source frames, e.g. 1280x720")
    parser.add_argument("--json", type=Path, default=None, metavar="OUT", help="write the results as JSON")
    parser.add_argument("--plot", type=Path, default=None, metavar="OUT.png", help="write per-stage and latency plots")
    g = parser.add_argument_group("default model (without -m)")
    g.add_argument("--preset", default="live", help="architecture of the default model (default live)")
    g.add_argument("--precision", choices=("int8", "fp32"), default="int8", help="its precision (default int8)")
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


def cache_root(explicit: Path | None) -> Path:
    """--cache-dir, else $XDG_CACHE_HOME/swapstream, else ~/.cache/swapstream; plus /bench."""
    if explicit is not None:
        return explicit / "bench"
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "swapstream" / "bench"


def _short_hash(*parts: object) -> str:
    return hashlib.sha256("|".join(str(p) for p in parts).encode()).hexdigest()[:12]


# -- default model ----------------------------------------------------------------------------------
def default_model(preset: str, precision: str, cache: Path) -> tuple[Path, str | None]:
    """(model path, weights note): the shipped demo model when present, else a cached untrained export.

    The note is None for the shipped model (its metadata says how it was trained).
    """
    shipped = ASSETS_DIR / f"demo_{preset}_{precision}.onnx"
    if shipped.is_file():
        return shipped, None
    from swapstream.engine.face.align import CONTRACT_VERSION, TEMPLATE_ID
    from swapstream.trainer.config import load_preset

    model_cfg, _ = load_preset(preset)
    key = _short_hash(CACHE_VERSION, CONTRACT_VERSION, TEMPLATE_ID, sorted(model_cfg.to_dict().items()), precision)
    path = cache / f"untrained_{Path(preset).stem}_{precision}_{key}.onnx"
    if not path.is_file():
        try:
            import torch  # noqa: F401  (the exporter needs it; say so before any work)
        except ModuleNotFoundError:
            raise UserError(
                "bench without -m builds its default model with PyTorch, which is not installed: "
                "pass -m MODEL.onnx, or pip install -e '.[train]'"
            ) from None
        print(f"bench: exporting an untrained {preset} model ({precision}) to {path} (once)", file=sys.stderr)
        export_untrained(model_cfg, Path(preset).stem, precision, path)
    return path, UNTRAINED_NOTE


def export_untrained(model_cfg, preset: str, precision: str, path: Path) -> None:
    """Export a freshly initialised (seed 0) model with the export package's own functions.

    INT8 uses the exporter's fastest recipe calibrated on the public-domain faces; the SSIM
    verification against fp32 is skipped because random weights have no quality to keep.
    """
    import torch

    from swapstream.common.atomic_files import atomic_write_bytes
    from swapstream.export.exporter import (
        ExportOptions,
        LoadedRun,
        build_contract,
        weights_sha256,
        with_metadata,
    )
    from swapstream.export.graph import SwapGraph, export_graph
    from swapstream.trainer.model import build_model

    torch.manual_seed(0)
    model = build_model(model_cfg).eval()
    run = LoadedRun(
        run_dir=path.parent,
        model=model,
        model_config=model_cfg,
        preset=preset,
        iterations=0,
        losses={},
        facesets={},
        weights_sha256=weights_sha256(model.state_dict()),
    )
    data = export_graph(SwapGraph(model.swap_module("a2b"), "uint8"), model_cfg.resolution)
    if precision == "int8":
        from swapstream.export.faces import public_domain_faces
        from swapstream.export.quantize import CANDIDATES, quantize_int8

        calibration = public_domain_faces(model_cfg.face_type, model_cfg.resolution, count=16)
        data = quantize_int8(data, calibration, CANDIDATES[0])
    atomic_write_bytes(path, with_metadata(data, build_contract(run, ExportOptions(precision=precision))))


# -- default and resized sources -----------------------------------------------------------------------
def _letterbox(frame, size: tuple[int, int]):
    """Scale a BGR frame to fit inside size=(W, H) without distortion, edges replicated to fill."""
    import cv2

    w, h = size
    fh, fw = frame.shape[:2]
    scale = min(w / fw, h / fh)
    nw, nh = max(1, round(fw * scale)), max(1, round(fh * scale))
    interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC
    resized = cv2.resize(frame, (nw, nh), interpolation=interp)
    left, top = (w - nw) // 2, (h - nh) // 2
    return cv2.copyMakeBorder(resized, top, h - nh - top, left, w - nw - left, cv2.BORDER_REPLICATE)


def default_clip(cache: Path, frames: int) -> Path:
    """A cached 640x480 30 fps H.264 clip of the astronaut portrait moving like a head."""
    from swapstream.demo_media import astronaut_bgr, motion_frames, write_video

    path = cache / f"astronaut_{DEFAULT_CLIP_SIZE[0]}x{DEFAULT_CLIP_SIZE[1]}_{frames}f_v{CACHE_VERSION}.mp4"
    if not path.is_file():
        cache.mkdir(parents=True, exist_ok=True)
        frames_iter = (_letterbox(f, DEFAULT_CLIP_SIZE) for f in motion_frames(astronaut_bgr(), frames, size=480))
        write_video(frames_iter, path, fps=30)
    return path


def resized_clip(source: Path, size: tuple[int, int], frames: int, cache: Path) -> Path:
    """The first `frames` frames of `source` letterboxed to size, re-encoded once and cached."""
    import av
    import numpy as np

    from swapstream.demo_media import write_video

    st = source.stat()
    key = _short_hash(CACHE_VERSION, source.resolve(), st.st_size, st.st_mtime_ns, size, frames)
    path = cache / f"{source.stem}_{size[0]}x{size[1]}_{frames}f_{key}.mp4"
    if path.is_file():
        return path
    cache.mkdir(parents=True, exist_ok=True)
    try:
        container = av.open(str(source))
    except (av.error.FFmpegError, OSError) as e:
        raise UserError(f"{source}: cannot be read as a video ({e})") from None
    with container:
        if not container.streams.video:
            raise UserError(f"{source}: has no video stream")
        stream = container.streams.video[0]
        fps = round(float(stream.average_rate or 30))

        def frames_iter():
            for i, frame in enumerate(container.decode(stream)):
                if i >= frames:
                    return
                yield _letterbox(np.ascontiguousarray(frame.to_ndarray(format="bgr24")), size)

        written = write_video(frames_iter(), path, fps=fps)
    if written == 0:
        path.unlink(missing_ok=True)
        raise UserError(f"{source}: no frames decoded")
    return path


# -- measurement ------------------------------------------------------------------------------------------
def _sink(mode: str, out_dir: Path, name: str, cfg):
    """live: frames are discarded (what `swapstream live` does with no output); convert: encoded."""
    from swapstream.engine.stages.sink_file import VideoFileSink
    from swapstream.engine.stages.sink_live import NullSink

    return NullSink() if mode == "live" else VideoFileSink(out_dir / f"{name}.mp4", cfg.output)


class _CaptureTimedSink:
    """Wraps a sink for run_sequential, which times every stage but not the capture: the source
    stamps packet.timings['capture'], and this records it so both runs show the same rows."""

    def __init__(self, sink, stats):
        self.sink, self.stats, self.name = sink, stats, sink.name

    def setup(self, info) -> None:
        self.sink.setup(info)

    def write(self, packet) -> None:
        if "capture" in packet.timings:
            self.stats.record_stage("capture", packet.timings["capture"])
        self.sink.write(packet)

    def close(self, complete: bool) -> None:
        self.sink.close(complete)


def _run_summary(stats) -> dict:
    """PipelineStats -> JSON-ready dict with the glass-to-glass samples (ms) added."""
    import numpy as np

    out = stats.as_dict()
    out["source_frames"] = out["frames"] + out["dropped"]
    samples = np.asarray(stats.latency_samples(), np.float64) * 1000.0
    out["latency_ms"]["mean"] = float(samples.mean()) if samples.size else float("nan")
    out["latency_ms"]["max"] = float(samples.max()) if samples.size else float("nan")
    out["latency_samples_ms"] = [round(float(v), 3) for v in samples]
    return out


def model_info(model, weights_note: str | None) -> dict:
    """What the model is and whether its weights mean anything (from its validated contract)."""
    from swapstream.engine.runtime.providers import EXECUTION_PROVIDERS

    c = model.contract
    if weights_note is None:
        if c.format == "dfm":
            weights_note = "trained (DeepFaceLive .dfm)"
        elif c.iterations > 0:
            weights_note = f"trained ({c.iterations} iterations)"
        else:
            weights_note = "untrained (0 iterations recorded) - speed only"
    return {
        "path": str(model.path),
        "format": c.format,
        "arch": c.arch,
        "preset": c.preset,
        "precision": c.precision,
        "face_type": c.face_type,
        "resolution": c.resolution,
        "weights": weights_note,
        "provider": EXECUTION_PROVIDERS.get(model.provider, model.provider),
    }


def measure(model, cfg, clip: Path, mode: str, frames: int, warmup: int, runtime_cfg, out_dir: Path, weights_note):
    """Warm up, then time the same components three ways; returns the bench result dict.

    1. sequential: engine.pipeline.runner.run_sequential, one thread, unpaced;
    2. pipelined: one thread per stage, unpaced, blocking queues (the throughput twin of 1);
    3. live mode only: the file paced at its own rate into the live policy (the headline run:
       stale frames dropped, glass-to-glass latency as a user would feel it).
    In convert mode run 2 is the headline run (it is exactly what `swapstream convert` does).
    """
    from swapstream.bench_report import machine_info
    from swapstream.engine.pipeline.build import swap_stages
    from swapstream.engine.pipeline.metrics import PipelineStats
    from swapstream.engine.pipeline.runner import Pipeline, PipelinePolicy, run_sequential
    from swapstream.engine.stages.capture import VideoFileSource

    offline = mode == "convert"
    depth = cfg.offline.queue_depth if offline else cfg.live.queue_depth

    def stages():
        # Fresh stages per run: trackers start cold on frame 0 each time; the model is shared.
        return swap_stages(model, cfg, offline=offline)

    def stats():
        return PipelineStats(provider=model.provider)

    def sequential_run(n: int, name: str):
        s = stats()
        sink = _CaptureTimedSink(_sink(mode, out_dir, name, cfg), s)
        return run_sequential(VideoFileSource(clip, max_frames=n), stages(), sink, s)

    if warmup:
        print(f"bench: warm-up, {warmup} frames", file=sys.stderr)
        sequential_run(warmup, "warmup")
    print(f"bench: sequential loop, {frames} frames", file=sys.stderr)
    sequential = sequential_run(frames, "sequential")
    print(f"bench: pipelined, unpaced, {frames} frames", file=sys.stderr)
    sink = _sink(mode, out_dir, "pipelined", cfg)
    source = VideoFileSource(clip, max_frames=frames)
    pipe = Pipeline(source, stages(), sink, PipelinePolicy(live=False, queue_depth=depth), stats=stats())
    pipelined = pipe.run()
    info = pipe.info
    headline = pipelined
    if not offline:
        print(f"bench: live, paced at {info.fps:.1f} fps, {frames} frames", file=sys.stderr)
        live = Pipeline(
            VideoFileSource(clip, realtime=True, max_frames=frames),
            stages(),
            _sink(mode, out_dir, "live", cfg),
            PipelinePolicy(live=True, queue_depth=cfg.live.queue_depth),
            stats=stats(),
        )
        headline = live.run()
    seq_fps, pipe_fps = sequential.snapshot().fps, pipelined.snapshot().fps
    return {
        "format": "swapstream-bench",
        "version": 1,
        "mode": mode,
        "source": {"path": str(clip), "width": info.width, "height": info.height, "fps": info.fps},
        "model": model_info(model, weights_note),
        "machine": machine_info(runtime_cfg, model),
        "warmup_frames": warmup,
        "run": _run_summary(headline),
        "throughput": {
            "sequential_fps": seq_fps,
            "pipelined_fps": pipe_fps,
            "speedup": pipe_fps / seq_fps if seq_fps > 0 else float("nan"),
            "sequential": _run_summary(sequential),
            "pipelined": _run_summary(pipelined),
        },
    }


def run(args: argparse.Namespace) -> int:
    from swapstream.bench_report import format_table, write_json, write_plot
    from swapstream.commands.swap_flags import engine_config_from_args
    from swapstream.engine.runtime.model import load_swap_model
    from swapstream.engine.runtime.providers import runtime_config_from_args

    if args.frames < 2:
        raise UserError(f"--frames {args.frames}: need at least 2 frames")
    if args.warmup < 0:
        raise UserError(f"--warmup {args.warmup}: must be >= 0")
    size = parse_size(args.size)
    cache = cache_root(args.cache_dir)
    try:
        runtime_cfg = runtime_config_from_args(args)
    except ValueError as e:
        raise UserError(f"--providers/--threads: {e}") from None
    cfg = engine_config_from_args(args)
    measured_frames = args.frames + args.warmup
    if args.source is None:
        source_path = default_clip(cache, measured_frames)
    else:
        if not args.source.is_file():
            raise UserError(f"{args.source}: no such file")
        source_path = args.source
    if size is not None and not (args.source is None and size == DEFAULT_CLIP_SIZE):
        source_path = resized_clip(source_path, size, measured_frames, cache)
    weights_note = None
    model_path = args.model
    if model_path is None:
        model_path, weights_note = default_model(args.preset, args.precision, cache)
    model = load_swap_model(model_path, runtime_cfg, face_type=args.face_type)
    with tempfile.TemporaryDirectory(prefix="swapstream-bench-") as tmp:
        result = measure(
            model, cfg, source_path, args.mode, args.frames, args.warmup, runtime_cfg, Path(tmp), weights_note
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
