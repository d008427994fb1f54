"""One studio session: the running live pipeline, its control board, preview and recorder.

The web app (app.py) only talks to this object: `state()` for the numbers and settings the page
shows, `control(message)` for a change (validated by the board; ControlError when refused), and
the preview hub for frames. Building it from command-line arguments is `build_session`; the
source, virtual camera and output size controls are applied through the board's appliers
(`board_appliers`), and the quality governor runs beside the pipeline (`start`/`close`).
"""

from __future__ import annotations

import argparse
import dataclasses
import math
from pathlib import Path

from swapstream.common.pipeline_contract import SourceInfo
from swapstream.engine.pipeline.controls import CONTROLS, ControlBoard, SwapSettings
from swapstream.studio.preview_hub import PreviewHub
from swapstream.studio.recorder import StudioSink
from swapstream.studio.rtc_media import BROWSER_SOURCE, BrowserCameraSource, BrowserInbox
from swapstream.studio.sources import SwitchingSource


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
    """pipe: a set-up engine Pipeline built with `controls=board` and the hub's callbacks;
    source: its SwitchingSource and catalog: the SourceCatalog (None: no switching);
    governor: a GovernorLoop (None: no governor); inbox: a BrowserInbox (None: no browser camera)."""

    def __init__(
        self,
        pipe,
        board: ControlBoard,
        hub: PreviewHub,
        sink: StudioSink | None = None,
        models=None,
        *,
        source=None,
        catalog=None,
        governor=None,
        inbox=None,
    ):
        self.pipe, self.board, self.hub, self.sink, self.models = pipe, board, hub, sink, models
        self.source, self.catalog, self.governor = source, catalog, governor
        self.inbox = inbox  # the page's camera frames (rtc_media.BrowserInbox; None: no browser source)

    def start(self) -> None:
        self.pipe.start()
        if self.governor is not None:
            self.governor.start()

    def _info(self):
        return self.source.info if self.source is not None else self.pipe.info

    def state(self, after_event: int = 0) -> dict:
        settings = self.board.current
        metrics = self.pipe.stats.recent()
        provider = getattr(settings.model_obj, "provider", "") or metrics["provider"]
        info = self._info()
        return _finite(
            {
                "running": not self.pipe.wait(0),
                "source": dataclasses.asdict(info) if info is not None else None,
                "settings": settings.public(),
                "controls": [spec.as_dict() for spec in CONTROLS.values()],
                "models": self.models.names() if self.models is not None else [],
                "sources": self.catalog.names() if self.catalog is not None else [],
                "governor": self.governor.snapshot() if self.governor is not None else None,
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
        if self.governor is not None:
            self.governor.stop()
        self.hub.close()


def board_appliers(source, catalog, sink: StudioSink | None) -> dict:
    """What the board calls (on the caller's thread) before publishing these controls: `source`
    opens the new source (a refusal raises) for the capture thread to take over between two
    frames; `vcam` opens or closes the virtual camera; `output_size` is applied at capture."""

    def switch_source(name: str) -> None:
        source.switch(catalog.open(name), name)

    def set_vcam(on: bool) -> None:
        sink.set_vcam(on, fps=source.info.fps if source.info is not None else 0.0)

    appliers = {"output_size": lambda size: None, "source": switch_source}
    if sink is not None:
        appliers["vcam"] = set_vcam
    return appliers


def build_session(args: argparse.Namespace) -> StudioSession:
    """Source, swap stages, sink, board, preview and pipeline from `swapstream studio`'s flags;
    the pipeline is set up (devices and model opened) but not started."""
    from swapstream.credentials.flags import output_marks
    from swapstream.engine.pipeline.governor import Governor
    from swapstream.engine.pipeline.governor_loop import GovernorLoop
    from swapstream.engine.runtime.swap_model import load_swap_model
    from swapstream.studio.models import ModelFolder
    from swapstream.swap_session.from_args import engine_config_from_args, runtime_config_from_args
    from swapstream.swap_session.pipelines import SwapSession

    cfg = engine_config_from_args(args)
    inbox = BrowserInbox()
    catalog = build_catalog(args, cfg, inbox)
    source = SwitchingSource(build_source(args, cfg, inbox), catalog.name_of(args.source))
    session = SwapSession.from_args(args, cfg)
    model = session.model
    # Recordings are signed with the model the studio started with; the source may switch: no ingredient.
    sealer, watermark = output_marks(args, cfg, None, model)
    runtime_cfg = runtime_config_from_args(args)
    models_dir = args.models if args.models is not None else Path(args.model).resolve().parent
    models = ModelFolder(models_dir, lambda p: load_swap_model(p, runtime_cfg, face_type=args.face_type), model)
    settings = dataclasses.replace(
        SwapSettings.from_config(cfg, model, recording=args.record is not None, target_delay_ms=args.target_delay),
        source=source.current_name,
        vcam=args.vcam,
        governor=args.target_fps is not None,
        target_fps=args.target_fps or 0.0,
    )
    sink = StudioSink(
        build_vcam(args) if args.vcam else None,
        args.record,
        args.record_dir,
        dataclasses.replace(cfg.output, preset="ultrafast", copy_audio=False),
        lambda text, level="info": board.note(text, level),
        open_vcam=lambda width, height, fps: build_vcam(args, SourceInfo("vcam", width, height, fps)),
        publish=sealer and sealer.publish,
        watermark=watermark,
    )
    board = ControlBoard(settings, models, board_appliers(source, catalog, sink))
    hub = PreviewHub(quality=args.jpeg_quality)
    pipe = session.pipeline(source, sink, live=True, on_output=hub.on_output, controls=board, on_capture=hub.on_capture)
    try:
        pipe.setup()
    except BaseException:
        hub.close()
        raise
    governor = GovernorLoop(Governor(), board, pipe.stats, lambda: source.info)
    return StudioSession(pipe, board, hub, sink, models, source=source, catalog=catalog, governor=governor, inbox=inbox)


def build_source(args: argparse.Namespace, cfg, inbox: BrowserInbox):
    """A video file loops in real time (unless --once); `browser` is the page's camera; anything
    else is a camera, as in `live`."""
    from swapstream.studio.sources import LoopingFileSource
    from swapstream.swap_session.from_args import is_camera, live_source

    src = args.source
    if src == BROWSER_SOURCE:
        return BrowserCameraSource(inbox, args.width or 640, args.height or 480, args.fps or 30.0)
    if not is_camera(src) and Path(src).is_file():
        return LoopingFileSource(Path(src), loop=not args.once, max_frames=args.max_frames)
    return live_source(args, cfg)  # a camera, or the one-line error for a bad --source


def build_catalog(args: argparse.Namespace, cfg, inbox: BrowserInbox):
    """What the page may switch to: the page's own camera, cameras, and the videos in --media
    (default: the folder of a --source file)."""
    from swapstream.engine.stages.camera import CameraSource, parse_device
    from swapstream.studio.sources import LoopingFileSource, SourceCatalog
    from swapstream.swap_session.from_args import camera_config_from_args, is_camera

    media = args.media
    if media is None and not is_camera(args.source) and args.source != BROWSER_SOURCE:
        media = Path(args.source).resolve().parent
    camera_cfg = camera_config_from_args(args, cfg)
    return SourceCatalog(
        media,
        lambda spec: CameraSource(parse_device(spec), camera_cfg),
        lambda path: LoopingFileSource(path, loop=not args.once),
        open_browser=lambda: BrowserCameraSource(inbox, args.width or 640, args.height or 480, args.fps or 30.0),
    )


def build_vcam(args: argparse.Namespace, info: SourceInfo | None = None):
    """A virtual camera sink, set up for `info` when given. Not self-paced: in the studio frames
    already leave at the source's rate, or at their target delay (a second clock would only add
    latency, and its waits would look like work to the governor)."""
    from swapstream.engine.stages.sink_live import VirtualCameraSink

    cam = VirtualCameraSink(pace=False, backend=args.vcam_backend, device=args.vcam_device)
    if info is not None:
        cam.setup(info)
    return cam
