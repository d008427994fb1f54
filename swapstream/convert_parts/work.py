"""One segment through the normal engine pipeline, into its own file: the unit of work that runs
in this process or as a Ray task.

A part is written as PART.writing.EXT (by VideoFileSink, itself via a temporary name) and renamed
to PART.EXT only when it holds every planned frame, so a file under a part's name is always a
finished part, whatever killed the process that wrote it. The model is loaded once per process
and kept for the next segment; everything else (the stages, the face tracker) starts afresh per
segment, so a segment's pixels do not depend on which process converted it or after what.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

# Tests only: a worker whose part path equals SWAPSTREAM_TEST_KILL_PART dies (os._exit) half way
# through it, once: the first time, it creates SWAPSTREAM_TEST_KILL_MARKER, so the retry finishes.
KILL_PART_ENV = "SWAPSTREAM_TEST_KILL_PART"
KILL_MARKER_ENV = "SWAPSTREAM_TEST_KILL_MARKER"


@dataclass(frozen=True)
class SegmentTask:
    """Everything a worker needs, picklable. pts: the warm-up frames' then the segment's own
    presentation times (display order); first_frame: display index of the segment's first frame;
    engine: an engine.config.EngineConfig; runtime: an engine.runtime.providers.RuntimeConfig;
    references / other_models: --reference's people and their models other than `model`
    ((target, path) each)."""

    index: int
    input: str
    part: str
    pts: tuple[int, ...]
    warmup: int
    seek_pts: int | None
    first_frame: int
    engine: object
    model: str
    runtime: object
    face_type: str | None
    references: tuple = ()
    other_models: tuple[tuple[int, str], ...] = ()
    model_sha256: str = ""  # the watermark's model id

    @property
    def frames(self) -> int:
        return len(self.pts) - self.warmup


class SegmentInterrupted(KeyboardInterrupt):
    """Ctrl-C inside a segment (in this process): its `frames` finished frames are in `kept` (None:
    none), a playable PART.interrupted.EXT that is not a part; the interrupted convert joins it
    into NAME.partial.EXT after the finished segments before it, then removes it."""

    def __init__(self, task: SegmentTask, kept: Path | None, frames: int):
        super().__init__(f"segment {task.index} interrupted after {frames} frames")
        self.task, self.kept, self.frames = task, kept, frames


_models: dict[tuple, object] = {}


def cached_models(paths: tuple[str, ...], runtime, face_type: str | None) -> list:
    """The SwapModels for paths (with runtime, face_type), each loaded once per process; models
    of an earlier run that these do not name are dropped."""
    from swapstream.engine.runtime.swap_model import load_swap_model

    keys = [(path, runtime, face_type) for path in paths]
    for key in [k for k in _models if k not in keys]:
        del _models[key]
    for key in keys:
        if key not in _models:
            _models[key] = load_swap_model(key[0], runtime, face_type=face_type)
    return [_models[k] for k in keys]


def keep_model(path: str, runtime, face_type: str | None, model) -> None:
    """Hand cached_models a model this process already loaded (the driver's, in-process)."""
    _models.clear()
    _models[(path, runtime, face_type)] = model


def _fault_hook(task: SegmentTask, frames_before_exit: int):
    """Tests only: the on_output callback that kills this process part way (see KILL_PART_ENV)."""
    marker = os.environ.get(KILL_MARKER_ENV)
    if os.environ.get(KILL_PART_ENV) != task.part or not marker or os.path.exists(marker):
        return None
    written = [0]

    def maybe_die(_packet) -> None:
        written[0] += 1
        if written[0] >= frames_before_exit:
            Path(marker).write_text(f"killed pid {os.getpid()} on {task.part}\n")
            os._exit(137)

    return maybe_die


def run_segment(task: SegmentTask, tick=None) -> dict:
    """Convert one segment into task.part; returns its counts and the part's SHA-256. tick(stats)
    is called about every 0.25 s from this thread (progress). Ctrl-C raises SegmentInterrupted and
    leaves no file under the part's name."""
    from swapstream.convert_parts.manifest import file_sha256
    from swapstream.engine.image.watermark import watermark_for
    from swapstream.engine.stages.faces import DetectStage
    from swapstream.engine.stages.segment_source import SegmentSource
    from swapstream.engine.stages.sink_file import VideoFileSink
    from swapstream.swap_session.pipelines import SwapSession

    paths = (task.model, *(path for _, path in task.other_models))
    model, *others = cached_models(paths, task.runtime, task.face_type)
    cfg = task.engine
    others = dict(zip((t for t, _ in task.other_models), others, strict=True))
    session = SwapSession(cfg, model, task.references, others)
    stages = session.stages(offline=True)
    detect = next(s for s in stages if isinstance(s, DetectStage))
    part = Path(task.part)
    writing = part.with_name(f"{part.stem}.writing{part.suffix}")
    mark = watermark_for(cfg.output.watermark, task.model_sha256)
    sink = VideoFileSink(writing, cfg.output, audio_from=None, partial_on_interrupt=True, watermark=mark)
    source = SegmentSource(task.input, task.pts, task.warmup, task.seek_pts, detect.process, task.first_frame)
    fault = _fault_hook(task, max(1, task.frames // 2))
    pipe = session.pipeline(source, sink, live=False, stages=stages, on_output=fault)
    try:
        pipe.run(tick, tick_s=0.25)
    except KeyboardInterrupt:
        kept = None  # a part is whole or absent: what the segment finished goes under another name
        if sink.kept is not None:
            kept = part.with_name(f"{part.stem}.interrupted{part.suffix}")
            os.replace(sink.kept, kept)
        raise SegmentInterrupted(task, kept, sink.frames_written if kept else 0) from None
    if sink.frames_written != task.frames:
        writing.unlink(missing_ok=True)
        raise RuntimeError(f"{part}: wrote {sink.frames_written} of the segment's {task.frames} frames")
    sha256 = file_sha256(writing)  # recorded in the manifest: a resume keeps the part only if it still matches
    os.replace(writing, part)
    s = pipe.stats.snapshot()
    return {
        "sha256": sha256,
        "frames": s.frames,
        "faces_swapped": s.faces_swapped,
        "frames_without_face": s.frames_without_face,
        "seconds": s.elapsed_s,
        "provider": model.provider,
        "pid": os.getpid(),
    }
