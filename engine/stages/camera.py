"""Webcam capture through OpenCV: format negotiation, and reopening when the camera stops.

A camera is given by index ("0") or device path ("/dev/video2"). We ask for MJPG at the wanted
size and rate (most USB webcams only reach 720p30 compressed), then report what the driver
actually granted. When reads fail (cable pulled, another app grabbed the device, a driver
hiccup), the camera is reopened with exponential backoff before giving up with a clear error.
"""

from __future__ import annotations

import logging
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import cv2

from swapstream.common.errors import user_error
from swapstream.common.pipeline_contract import FramePacket, Source, SourceInfo

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CameraConfig:
    """width/height/fps: what to ask the driver for (0 = driver default); fourcc: pixel format
    requested ('' to not ask); reopen_attempts and backoff_s: how hard to retry a camera that
    stopped delivering (waits backoff_s, 2*backoff_s, 4*backoff_s, ...)."""

    width: int = 640
    height: int = 480
    fps: float = 30.0
    fourcc: str = "MJPG"
    reopen_attempts: int = 4
    backoff_s: float = 0.5


def parse_device(spec: str) -> int | str:
    """'0' -> 0 (an index); anything else is a device path or URL, kept as a string."""
    return int(spec) if spec.isdigit() else spec


def _open_capture(device: int | str) -> cv2.VideoCapture:
    if sys.platform.startswith("linux"):
        return cv2.VideoCapture(device, cv2.CAP_V4L2)
    return cv2.VideoCapture(device)


class CameraSource(Source):
    """Frames from a live camera. `open_capture` exists so tests can stand in a fake device."""

    def __init__(
        self,
        device: int | str,
        cfg: CameraConfig,
        open_capture: Callable[[int | str], cv2.VideoCapture] = _open_capture,
    ):
        self.device = device
        self.cfg = cfg
        self._open_capture = open_capture
        self._cap: cv2.VideoCapture | None = None
        self.reopens = 0

    def _label(self) -> str:
        return f"camera {self.device}"

    def _open(self) -> cv2.VideoCapture | None:
        cap = self._open_capture(self.device)
        if not cap.isOpened():
            cap.release()
            return None
        c = self.cfg
        if c.fourcc:
            cap.set(cv2.CAP_PROP_FOURCC, cv2.VideoWriter_fourcc(*c.fourcc))
        if c.width and c.height:
            cap.set(cv2.CAP_PROP_FRAME_WIDTH, c.width)
            cap.set(cv2.CAP_PROP_FRAME_HEIGHT, c.height)
        if c.fps:
            cap.set(cv2.CAP_PROP_FPS, c.fps)
        # One buffered frame at most: an older frame waiting in the driver is pure latency.
        cap.set(cv2.CAP_PROP_BUFFERSIZE, 1)
        return cap

    def setup(self) -> SourceInfo:
        self._cap = self._open()
        if self._cap is None:
            raise user_error(self._label(), "cannot be opened (check the index/path and that no other app uses it)")
        ok, frame = self._cap.read()
        if not ok or frame is None:
            self.close()
            raise user_error(self._label(), "opened but delivers no frames")
        h, w = frame.shape[:2]
        fps = self._cap.get(cv2.CAP_PROP_FPS) or self.cfg.fps
        if (w, h) != (self.cfg.width, self.cfg.height):
            log.info("%s: asked for %dx%d, driver gives %dx%d", self._label(), self.cfg.width, self.cfg.height, w, h)
        log.info("%s: %dx%d at %.1f fps", self._label(), w, h, fps)
        return SourceInfo(name=self._label(), width=w, height=h, fps=float(fps), realtime=True)

    def _reopen(self, stop: threading.Event) -> bool:
        """Try to get the camera back; False if every attempt failed (or stop was requested)."""
        if self._cap is not None:
            self._cap.release()
            self._cap = None
        for attempt in range(self.cfg.reopen_attempts):
            delay = self.cfg.backoff_s * (2**attempt)
            log.warning("%s stopped delivering frames; reopening in %.1f s", self._label(), delay)
            if stop.wait(delay):
                return False
            cap = self._open()
            if cap is not None:
                ok, _ = cap.read()
                if ok:
                    self._cap = cap
                    self.reopens += 1
                    return True
                cap.release()
        return False

    def frames(self, stop: threading.Event) -> Iterator[FramePacket]:
        seq = 0
        while not stop.is_set():
            t0 = time.perf_counter()
            ok, frame = self._cap.read() if self._cap is not None else (False, None)
            if not ok or frame is None:
                if self._reopen(stop):
                    continue
                if stop.is_set():
                    return
                raise user_error(
                    self._label(), f"stopped delivering frames and {self.cfg.reopen_attempts} reopen attempts failed"
                )
            now = time.perf_counter()
            yield FramePacket(seq, now, frame, timings={"capture": now - t0})
            seq += 1

    def close(self) -> None:
        if self._cap is not None:
            self._cap.release()
            self._cap = None
