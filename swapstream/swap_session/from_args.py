"""What the swap flags (commands/swap_flags.py) say, as the engine's typed objects: the
EngineConfig and RuntimeConfig, the model, the reference people, the live source, and every file
a swap reads. Bad values become one-line UserErrors naming the flag."""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

from swapstream.common.errors import UserError, user_error


def runtime_config_from_args(args: argparse.Namespace):
    """The engine.runtime.providers.RuntimeConfig of --providers, --threads, --spin-wait,
    --device-id, --trt-fp16, --trt-cache (default: the user's cache folder), --device and
    --cuda-graph; offline when the command converts offline (commands/swap_flags.py
    add_runtime_arguments; bench decides by its --mode)."""
    from swapstream.engine.runtime.providers import RuntimeConfig, user_trt_cache

    try:
        return RuntimeConfig(
            providers=tuple(p for p in args.providers.split(",") if p.strip()),
            intra_op_threads=args.threads,
            offline=getattr(args, "offline_inference", False),
            spin_wait=args.spin_wait,
            device_id=args.device_id,
            trt_fp16=args.trt_fp16,
            trt_cache_dir=args.trt_cache if args.trt_cache is not None else user_trt_cache(),
            frame_device=args.device,
            cuda_graph=args.cuda_graph,
        )
    except ValueError as e:
        raise UserError(f"--providers/--threads: {e}") from None


def engine_config_from_args(args: argparse.Namespace):
    """The EngineConfig of configs/engine.yaml (or --config) with the command-line overrides applied."""
    from swapstream.engine.engine_config import load_engine_config
    from swapstream.engine.swap_knobs import knob_specs

    cfg = load_engine_config(args.config)
    knobs = {spec.key: getattr(args, spec.key, None) for spec in knob_specs()}  # None: no such flag, or not given
    swap = {k: v for k, v in knobs.items() if v is not None}
    if args.occluder is not None:
        if not args.occluder.is_file():
            raise UserError(f"{args.occluder}: no such occlusion model (--occluder)")
        swap["occluder"] = str(args.occluder)
    if getattr(args, "detail_from", None) is not None:
        swap["detail_from"] = str(args.detail_from)
    detect = {"faces": args.faces} if args.faces else {}
    marks = getattr(args, "watermark", None)  # the content-credential flags (swapstream/credentials/flags.py)
    output = {"watermark": marks == "on"} if marks else {}
    try:
        return cfg.replace(swap=swap, detect=detect, output=output)
    except ValueError as e:  # a combination the flags cannot refuse one by one (mask occlusion, no occluder)
        raise UserError(str(e)) from None


def load_model(args: argparse.Namespace, path: Path | None = None):
    """The SwapModel named by -m (or `path`), on the providers of --providers (bad flags -> UserError)."""
    from swapstream.engine.runtime.swap_model import load_swap_model

    return load_swap_model(path or args.model, runtime_config_from_args(args), face_type=args.face_type)


def load_references(args: argparse.Namespace, model):
    """(references, {target: SwapModel}) of the --reference flags: every photo/faceset embedded
    once, every distinct extra model loaded once (target 0 is -m). ((), {}) without the flag."""
    specs = getattr(args, "reference", None) or []
    if not specs:
        return (), {}
    from swapstream.engine.face.embedding import EmbedderMissing, FaceEmbedder
    from swapstream.engine.face.reference_files import load_reference
    from swapstream.engine.face.tracking import FaceFinder, FinderConfig

    try:
        embedder = FaceEmbedder()
    except EmbedderMissing as e:
        raise UserError(f"--reference: {e}") from None
    targets: dict[Path, int] = {}
    others = {}
    finder = FaceFinder(FinderConfig(max_faces=1))  # the largest face of each photo
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


def swap_inputs(args: argparse.Namespace) -> tuple[Path, ...]:
    """Every file a swap reads besides its video: the model, the config, each --reference photo,
    faceset and model, the --detail-from faceset. No output may ever be written over one of them."""
    refs = [p for spec in (getattr(args, "reference", None) or []) for p in spec if p is not None]
    extra = (getattr(args, "detail_from", None),)
    return tuple(p for p in (args.model, args.config, *refs, *extra) if p is not None)


def is_camera(source: str) -> bool:
    """A camera index (0), a device path (/dev/video0) or a stream URL (rtsp://...), not a file."""
    return source.isdigit() or source.startswith("/dev/") or "://" in source


def camera_config_from_args(args: argparse.Namespace, cfg):
    """cfg.live.camera with --width, --height and --fps applied."""
    asked = {k: v for k, v in (("width", args.width), ("height", args.height), ("fps", args.fps)) if v}
    return dataclasses.replace(cfg.live.camera, **asked)


def live_source(args: argparse.Namespace, cfg):
    """--source as live plays it: a camera, or a file played in real time as far as it goes."""
    from swapstream.engine.stages.camera import CameraSource, parse_device
    from swapstream.engine.stages.capture import VideoFileSource

    path = Path(args.source)
    if is_camera(args.source):
        return CameraSource(parse_device(args.source), camera_config_from_args(args, cfg))
    if not path.exists():
        raise user_error(path, "no such file (--source: a video file, a camera index such as 0, or /dev/videoN)")
    if not path.is_file():
        raise user_error(path, "not a regular file (--source: a video file, a camera index such as 0, or /dev/videoN)")
    return VideoFileSource(path, realtime=True, max_frames=args.max_frames, allow_partial=True)
