"""The studio's sink: a virtual camera and recordings, each switched on and off live.

Recording follows the `recording` control: it is applied on the sink thread between two frames
(`apply_settings`), so a recording starts and ends on whole frames. Each recording is a new file
(the --record path first, then timestamped names in the recordings folder), written through
VideoFileSink (temporary name, renamed when finalised, synthetic-media label). Stopping the
studio (Ctrl-C, SIGTERM) finalises the recording in progress.

The virtual camera follows the `vcam` control: `set_vcam` (the board's applier, on the caller's
thread) opens the device, so a missing device refuses the change with its message; the sink
thread adopts it before the next frame and closes the one it replaces. The virtual camera and a
recording keep the size they were opened at (consumers such as OBS expect that): after a source
switch or an output-size change their frames are scaled to it. Turn them off and on again to
take the new size.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from pathlib import Path

import cv2

from swapstream.common.pipeline_contract import FramePacket, Sink, SourceInfo

log = logging.getLogger(__name__)


class StudioSink(Sink):
    """inner: the virtual camera sink or None; record_path: the first recording's file (None: a
    timestamped name in record_dir); encoder: engine.stages.sink_file.EncoderConfig;
    note(text, level): where start/stop/failure messages go (the control board's events);
    open_vcam(width, height, fps) -> a set-up virtual camera Sink (None: no virtual camera);
    publish(tmp, final): how a finished recording goes into place (swapstream.credentials signs it);
    watermark: marks each recorded frame (engine.image.watermark)."""

    name = "sink"

    def __init__(
        self,
        inner: Sink | None,
        record_path: Path | None,
        record_dir: Path,
        encoder,
        note=None,
        open_vcam=None,
        publish=None,
        watermark=None,
    ):
        self.inner = inner
        self.publish = publish
        self.watermark = watermark
        self._open_vcam = open_vcam
        self._vcam_size: tuple[int, int] | None = None
        self._vcam_next: list | None = None  # [(sink, size) or None], handed to the sink thread
        self._vcam_on = inner is not None
        self._lock = threading.Lock()
        self._size: tuple[int, int] | None = None  # the last frame's (width, height)
        self._want_rec = False
        self._rec_size: tuple[int, int] | None = None
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
        self._size = (info.width, info.height)
        if self.inner is not None:
            self.inner.setup(info)
            self._vcam_size = self._size

    def set_vcam(self, on: bool, fps: float = 0.0) -> None:
        """Open (on) or close the virtual camera; raises UserError when no device can be opened."""
        from swapstream.engine.pipeline.controls import ControlError

        with self._lock:
            if on == self._vcam_on:
                return
        cam = None
        if on:
            if self._open_vcam is None:
                raise ControlError("no virtual camera in this session")
            width, height = self._size or (self._info.width, self._info.height)
            cam = (self._open_vcam(width, height, fps or self._info.fps or 30.0), (width, height))
        with self._lock:
            stale, self._vcam_next, self._vcam_on = self._vcam_next, [cam], on
        if stale and stale[0] is not None:
            stale[0][0].close(True)

    def _adopt_vcam(self) -> None:
        with self._lock:
            handed, self._vcam_next = self._vcam_next, None
        if handed is None:
            return
        old = self.inner
        self.inner, self._vcam_size = handed[0] if handed[0] is not None else (None, None)
        if old is not None:
            old.close(True)
        self._note("virtual camera on" if self.inner is not None else "virtual camera off")

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
        self._want_rec = settings.recording
        if not settings.recording and self._rec is not None:
            self.stop()

    def start(self) -> None:
        """Start a recording at the current frame size (on the sink thread, before a write)."""
        from swapstream.engine.stages.sink_file import VideoFileSink

        path = self._next_path()
        rec = VideoFileSink(path, self.encoder, publish=self.publish, watermark=self.watermark)
        width, height = self._size or (self._info.width, self._info.height)
        try:
            rec.setup(dataclasses.replace(self._info, width=width, height=height))
        except Exception as e:
            self._want_rec = False
            self.error = f"recording could not start: {e}"
            self._note(self.error, "error")
            return
        self._rec_size = (width, height)
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
        self._adopt_vcam()
        height, width = packet.frame.shape[:2]
        self._size = (width, height)
        if self.inner is not None:
            self.inner.write(_fitted(packet, self._vcam_size))
        if self._want_rec and self._rec is None:
            self.start()
        if self._rec is not None:
            try:
                self._rec.write(_fitted(packet, self._rec_size))
            except Exception as e:  # a full disk must not stop the preview or the virtual camera
                self.error = f"recording stopped: {e}"
                self._note(self.error, "error")
                self._want_rec = False
                self.stop(complete=True)

    def close(self, complete: bool) -> None:
        # An interrupted studio still keeps its recording: it is finalised whenever it can be.
        try:
            self.stop(complete=True)
        finally:
            with self._lock:
                handed, self._vcam_next = self._vcam_next, None
            for cam in (self.inner, handed[0][0] if handed and handed[0] is not None else None):
                if cam is not None:
                    cam.close(complete)
            self.inner = None

    def state(self) -> dict:
        return {
            "active": self._rec is not None,
            "path": str(self.recording_path) if self.recording_path else None,
            "saved": [str(p) for p in self.finished[-5:]],
            "error": self.error,
            "vcam": {"on": self._vcam_on, "size": list(self._vcam_size) if self.inner is not None else None},
            "size": list(self._size) if self._size else None,
        }


def _fitted(packet: FramePacket, size: tuple[int, int] | None) -> FramePacket:
    """The packet, or a shallow copy whose frame is scaled to size (width, height)."""
    height, width = packet.frame.shape[:2]
    if size is None or size == (width, height):
        return packet
    return dataclasses.replace(packet, frame=cv2.resize(packet.frame, size, interpolation=cv2.INTER_AREA))
