"""Frames between WebRTC and the pipeline: the browser's camera as a Source, the swapped stream as
a WebRTC track. Live pacing both ways: a one-frame slot, the newest frame wins, nothing queues.

In: the page's camera track is read on the web server's event loop as fast as aiortc decodes it
(its decoder queue must not grow) and each frame replaces the one in the `BrowserInbox`; the
capture thread takes the newest (`BrowserCameraSource.frames`) and converts it to BGR there (not
on the event loop); its capture time is its arrival here, decoded.

Out: `OutputBoard.on_output` (the sink thread) hands the swapped frame's reference to the event
loop; every `SwappedVideoTrack` (one per peer, at most MAX_PEERS) sends the newest frame it has
not sent yet. A peer whose encoder is slower than the swap skips frames; it never holds one.
The studio's share of the round trip (frame captured or decoded -> handed to the encoder) is
measured per frame, for the page's round-trip figures.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections import deque
from collections.abc import Iterator
from fractions import Fraction

import numpy as np

from swapstream.common.pipeline_contract import FramePacket, Source, SourceInfo

VIDEO_CLOCK = Fraction(1, 90000)  # RTP video clock
WAIT_S = 0.5  # every wait wakes this often to check its stop flag
BROWSER_SOURCE = "browser"  # the source name of the page's camera (--source browser, the source control)


class BrowserInbox:
    """The newest decoded frame of the sending page's camera (an av.VideoFrame, yuv420p from the
    VP8/H.264 decoder, any size), not yet taken by the capture thread."""

    def __init__(self):
        self._cond = threading.Condition()
        self._frame = None
        self._arrived = 0.0
        self.received = 0
        self.replaced = 0  # frames the capture thread never took (newest wins)
        self.connected = False
        self._tracks = 0

    def put(self, frame) -> None:
        """Called on the event loop for every decoded frame of the sender's track."""
        with self._cond:
            if self._frame is not None:
                self.replaced += 1
            self._frame, self._arrived = frame, time.perf_counter()
            self.received += 1
            self._cond.notify_all()

    def set_connected(self, on: bool) -> None:
        """A camera track starts (on) or ends; during a take-over the new one starts before the
        old one has ended, so tracks are counted."""
        with self._cond:
            self._tracks += 1 if on else -1
            self.connected = self._tracks > 0
            if not self.connected:
                self._frame = None
            self._cond.notify_all()

    def take(self, timeout: float):
        """(av.VideoFrame, arrival perf_counter) of the newest frame not taken yet, or None."""
        with self._cond:
            if self._frame is None:
                self._cond.wait(timeout)
            if self._frame is None:
                return None
            got, self._frame = (self._frame, self._arrived), None
            return got

    def state(self) -> dict:
        return {"connected": self.connected, "received": self.received, "replaced": self.replaced}


class BrowserCameraSource(Source):
    """The page's camera as a pipeline Source. Until a page sends (and while none does) it yields
    nothing and waits; SourceInfo is the size asked for (frames may come at another size: every
    stage works per frame, and the recorder and virtual camera scale to their own size).
    Packets carry uint8 (H, W, 3) BGR frames, C-contiguous, t_capture = arrival (decoded)."""

    def __init__(self, inbox: BrowserInbox, width: int = 640, height: int = 480, fps: float = 30.0):
        self.inbox = inbox
        self.width, self.height, self.fps = width, height, fps

    def setup(self) -> SourceInfo:
        return SourceInfo(BROWSER_SOURCE, self.width, self.height, self.fps, 0, None, None, realtime=True)

    def frames(self, stop: threading.Event) -> Iterator[FramePacket]:
        seq = 0
        while not stop.is_set():
            got = self.inbox.take(WAIT_S)
            if got is None:
                continue
            frame, arrived = got
            bgr = np.ascontiguousarray(frame.to_ndarray(format="bgr24"))
            yield FramePacket(seq=seq, t_capture=arrived, frame=bgr)
            seq += 1

    def close(self) -> None:
        pass  # the inbox belongs to the studio; a later switch back reads it again


class OutputBoard:
    """The newest swapped frame for the WebRTC tracks, handed from the sink thread to the loop.

    record_stage(name, seconds): where each frame's encode time also goes (the pipeline's stats:
    the page's per-stage chart, and the governor, which counts it as work on the shared cores,
    so a VP8 encode too slow for the target rate lowers the output size like a slow stage would)."""

    ENCODE_STAGE = "webrtc_encode"

    def __init__(self, loop: asyncio.AbstractEventLoop, record_stage=None):
        self.loop = loop
        self.record_stage = record_stage
        self.version = 0
        self.frame: tuple[np.ndarray, float] | None = None
        self._changed = asyncio.Event()
        self.server_ms: deque[float] = deque(maxlen=300)  # browser frame decoded -> its swap sent
        self.encode_ms: deque[float] = deque(maxlen=300)  # one frame encoded and sent by aiortc
        self.closed = False

    def on_output(self, packet: FramePacket) -> None:
        """Sink thread: a reference to the finished frame (never modified after output)."""
        if self.closed:
            return
        with contextlib.suppress(RuntimeError):  # the loop is closing
            self.loop.call_soon_threadsafe(self._publish, packet.frame, packet.t_capture)

    def _publish(self, frame: np.ndarray, t_capture: float) -> None:
        self.frame = (frame, t_capture)
        self.version += 1
        self._changed.set()
        self._changed = asyncio.Event()

    async def wait_newer(self, version: int):
        """(version, (frame, t_capture)) newer than `version`; None once closed."""
        while not self.closed:
            if self.version > version and self.frame is not None:
                return self.version, self.frame
            changed = self._changed
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(changed.wait(), WAIT_S)
        return None

    def close(self) -> None:
        self.closed = True
        self._changed.set()

    def encoded(self, seconds: float) -> None:
        self.encode_ms.append(seconds * 1000.0)
        if self.record_stage is not None:
            self.record_stage(self.ENCODE_STAGE, seconds)

    def server_percentiles(self) -> dict:
        ms = np.asarray(self.server_ms, dtype=np.float64)
        if not ms.size:
            return {"p50": None, "p95": None, "p99": None}
        p50, p95, p99 = np.percentile(ms, [50, 95, 99])
        return {"p50": float(p50), "p95": float(p95), "p99": float(p99)}
