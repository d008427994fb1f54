"""One studio session: the running live pipeline, its control board, preview and recorder.

The web app (app.py) only talks to this object: `state()` for the numbers and settings the page
shows, `control(message)` for a change (validated by the board; ControlError when refused), and
the preview hub for frames. Building it from command-line arguments is `build_session`.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
from pathlib import Path

from swapstream.engine.pipeline.controls import CONTROLS, ControlBoard, SwapSettings
from swapstream.studio.preview import PreviewHub
from swapstream.studio.recorder import StudioSink


def _finite(value):
    """NaN/inf -> None, recursively (JSON has no NaN)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite(v) for v in value]
    return value


class StudioSession:
    """pipe: a set-up engine Pipeline built with `controls=board` and the hub's callbacks."""

    def __init__(self, pipe, board: ControlBoard, hub: PreviewHub, sink: StudioSink | None = None, models=None):
        self.pipe, self.board, self.hub, self.sink, self.models = pipe, board, hub, sink, models

    def state(self, after_event: int = 0) -> dict:
        settings = self.board.current
        metrics = self.pipe.stats.recent()
        provider = getattr(settings.model_obj, "provider", "") or metrics["provider"]
        info = self.pipe.info
        return _finite(
            {
                "running": not self.pipe.wait(0),
                "source": dataclasses.asdict(info) if info is not None else None,
                "settings": settings.public(),
                "controls": [spec.as_dict() for spec in CONTROLS.values()],
                "models": self.models.names() if self.models is not None else [],
                "metrics": {**metrics, "provider": provider},
                "pacing": self.pipe.pacer.snapshot() if self.pipe.pacer is not None else None,
                "recording": self.sink.state() if self.sink is not None else None,
                "preview": self.hub.state(),
                "events": self.board.events(after_event)[-20:],
            }
        )

    def control(self, message: object) -> dict:
        """Apply one control message (JSON form); raises ControlError when refused."""
        return self.board.submit(message).public()

    def close(self) -> None:
        self.hub.close()


def build_session(args: argparse.Namespace) -> StudioSession:
    """Source, swap stages, sink, board, preview and pipeline from `swapstream studio`'s flags;
    the pipeline is set up (devices and model opened) but not started."""
    from swapstream.commands.swap_flags import engine_config_from_args, load_model
    from swapstream.engine.pipeline.build import swap_stages
    from swapstream.engine.pipeline.metrics import PipelineStats
    from swapstream.engine.pipeline.runner import Pipeline, PipelinePolicy
    from swapstream.engine.runtime.model import load_swap_model
    from swapstream.engine.runtime.providers import runtime_config_from_args
    from swapstream.studio.models import ModelFolder

    cfg = engine_config_from_args(args)
    source = build_source(args, cfg)
    model = load_model(args)
    runtime_cfg = runtime_config_from_args(args)
    models_dir = args.models if args.models is not None else Path(args.model).resolve().parent
    models = ModelFolder(models_dir, lambda p: load_swap_model(p, runtime_cfg, face_type=args.face_type), model)
    settings = SwapSettings.from_config(
        cfg, model, recording=args.record is not None, target_delay_ms=args.target_delay
    )
    board = ControlBoard(settings, models)
    sink = StudioSink(
        build_vcam(args, cfg),
        args.record,
        args.record_dir,
        dataclasses.replace(cfg.output, preset="ultrafast", copy_audio=False),
        board.note,
    )
    hub = PreviewHub(quality=args.jpeg_quality)
    pipe = Pipeline(
        source,
        swap_stages(model, cfg, offline=False),
        sink,
        PipelinePolicy(live=True, queue_depth=cfg.live.queue_depth),
        stats=PipelineStats(provider=model.provider),
        on_output=hub.on_output,
        controls=board,
        on_capture=hub.on_capture,
    )
    try:
        pipe.setup()
    except BaseException:
        hub.close()
        raise
    return StudioSession(pipe, board, hub, sink, models)


def build_source(args: argparse.Namespace, cfg):
    """A video file loops in real time (unless --once); anything else is a camera, as in `live`."""
    from swapstream.commands.live import build_source as live_source
    from swapstream.studio.sources import LoopingFileSource

    src = args.source
    camera = src.isdigit() or src.startswith("/dev/") or "://" in src
    if not camera and Path(src).is_file():
        return LoopingFileSource(Path(src), loop=not args.once, max_frames=args.max_frames)
    return live_source(args, cfg)  # a camera, or the one-line error for a bad --source


def build_vcam(args: argparse.Namespace, cfg):
    if not args.vcam:
        return None
    from swapstream.engine.stages.sink_live import VirtualCameraSink

    return VirtualCameraSink(pace=cfg.live.vcam_pace, backend=args.vcam_backend, device=args.vcam_device)
