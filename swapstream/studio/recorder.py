"""The studio's sink: an optional virtual camera, plus recordings started and stopped live.

Recording follows the `recording` control: it is applied on the sink thread between two frames
(`apply_settings`), so a recording starts and ends on whole frames. Each recording is a new file
(the --record path first, then timestamped names in the recordings folder), written through
VideoFileSink (temporary name, renamed when finalised, synthetic-media label). Stopping the
studio (Ctrl-C, SIGTERM) finalises the recording in progress.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from pathlib import Path

from swapstream.common.pipeline_contract import FramePacket, Sink, SourceInfo

log = logging.getLogger(__name__)


class StudioSink(Sink):
    """inner: the virtual camera sink or None; record_path: the first recording's file (None: a
    timestamped name in record_dir); encoder: engine.stages.sink_file.EncoderConfig;
    note(text, level): where start/stop/failure messages go (the control board's events)."""

    name = "sink"

    def __init__(self, inner: Sink | None, record_path: Path | None, record_dir: Path, encoder, note=None):
        self.inner = inner
        self.record_path = record_path
        self.record_dir = Path(record_dir)
        self.encoder = encoder
        self._note = note or (lambda text, level="info": None)
        self._info: SourceInfo | None = None
        self._rec = None
        self.recording_path: Path | None = None
        self.finished: list[Path] = []
        self.error = ""

    def setup(self, info: SourceInfo) -> None:
        # Recordings are timed by capture time (a looping file's pts restart at each loop).
        self._info = dataclasses.replace(info, time_base=None, path=None)
        if self.inner is not None:
            self.inner.setup(info)

    def _next_path(self) -> Path:
        if self.record_path is not None and not self.finished and self._rec is None:
            return self.record_path
        stem = time.strftime("studio-%Y%m%d-%H%M%S")
        path = self.record_dir / f"{stem}.mp4"
        n = 2
        while path.exists() or path in self.finished:
            path = self.record_dir / f"{stem}-{n}.mp4"
            n += 1
        return path

    def apply_settings(self, settings) -> None:
        if settings.recording and self._rec is None:
            self.start()
        elif not settings.recording and self._rec is not None:
            self.stop()

    def start(self) -> None:
        from swapstream.engine.stages.sink_file import VideoFileSink

        path = self._next_path()
        rec = VideoFileSink(path, self.encoder)
        try:
            rec.setup(self._info)
        except Exception as e:
            self.error = f"recording could not start: {e}"
            self._note(self.error, "error")
            return
        self._rec, self.recording_path, self.error = rec, path, ""
        self._note(f"recording to {path}")

    def stop(self, complete: bool = True) -> None:
        rec, self._rec = self._rec, None
        if rec is None:
            return
        try:
            rec.close(complete=complete)
        except Exception as e:
            self.error = f"recording {self.recording_path} failed: {e}"
            self._note(self.error, "error")
        else:
            if complete:
                self.finished.append(self.recording_path)
                self._note(f"recording saved: {self.recording_path} ({rec.frames_written} frames)")
        self.recording_path = None

    def write(self, packet: FramePacket) -> None:
        if self.inner is not None:
            self.inner.write(packet)
        if self._rec is not None:
            try:
                self._rec.write(packet)
            except Exception as e:  # a full disk must not stop the preview or the virtual camera
                self.error = f"recording stopped: {e}"
                self._note(self.error, "error")
                self.stop(complete=True)

    def close(self, complete: bool) -> None:
        # An interrupted studio still keeps its recording: it is finalised whenever it can be.
        try:
            self.stop(complete=True)
        finally:
            if self.inner is not None:
                self.inner.close(complete)

    def state(self) -> dict:
        return {
            "active": self._rec is not None,
            "path": str(self.recording_path) if self.recording_path else None,
            "saved": [str(p) for p in self.finished[-5:]],
            "error": self.error,
        }
