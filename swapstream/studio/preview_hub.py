"""Preview frames for the page: JPEG-encoded on their own thread, newest frame only.

The pipeline only hands over references (`on_output` on the sink thread, `on_capture` on the
capture thread, which copies the untouched frame only while someone watches the original), so
the preview can never slow or back-pressure the swap: when encoding or a viewer is slower than
the camera, older frames are simply skipped. Nothing is encoded while nobody is watching.
The original of a frame is paired with the same frame's swapped output (by sequence number), so
"swap off" shows two equal pictures. The encoder thread runs at a lower scheduling priority
(nice +10, where the OS allows it per thread) so that when the CPU is short it is the preview that
waits, not the swap; frames are scaled for the page with INTER_LINEAR (1 ms for 1280x720 -> 960
wide here, against 3 ms for INTER_AREA: a preview does not need the better filter).
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections import OrderedDict, deque
from contextlib import contextmanager

import cv2
import numpy as np

STREAMS = ("swapped", "original")
KEEP_ORIGINALS = 16  # frames in flight between capture and output, at most
PREVIEW_NICE = 10  # the encoder yields the CPU to the swap


class PreviewHub:
    """quality: JPEG quality; max_width: frames wider than this are scaled down for the page."""

    def __init__(self, quality: int = 80, max_width: int = 960):
        self.quality = quality
        self.max_width = max_width
        self._cond = threading.Condition()
        self._viewers = dict.fromkeys(STREAMS, 0)
        self._originals: OrderedDict[int, np.ndarray] = OrderedDict()
        self._frame: tuple[int, np.ndarray, np.ndarray | None] | None = None
        self._jpeg: dict[str, tuple[int, bytes]] = {}
        self._encode_s: deque[float] = deque(maxlen=100)
        self.encoded = 0
        self.closed = False
        self._listeners: list = []  # more consumers of each output frame (the WebRTC tracks)
        self._thread = threading.Thread(target=self._loop, name="studio-preview", daemon=True)
        self._thread.start()

    # -- called by pipeline threads: references only, never a wait ----------------------------
    def on_capture(self, packet) -> None:
        if self._viewers["original"]:
            frame = packet.frame.copy()  # blend draws into packet.frame later
            with self._cond:
                self._originals[packet.seq] = frame
                while len(self._originals) > KEEP_ORIGINALS:
                    self._originals.popitem(last=False)

    def add_listener(self, on_output) -> None:
        """on_output(packet) is also called with every output frame; it must not wait."""
        self._listeners.append(on_output)

    def on_output(self, packet) -> None:
        for listener in self._listeners:
            listener(packet)
        if not any(self._viewers.values()):
            return
        with self._cond:
            original = self._originals.pop(packet.seq, None)
            for seq in [s for s in self._originals if s < packet.seq]:
                del self._originals[seq]
            self._frame = (packet.seq, packet.frame, original)
            self._cond.notify_all()

    # -- the encoder thread ------------------------------------------------------------------
    def _loop(self) -> None:
        with contextlib.suppress(AttributeError, OSError):  # Linux: a thread's own nice value
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), PREVIEW_NICE)
        while True:
            with self._cond:
                while self._frame is None and not self.closed:
                    self._cond.wait(0.5)
                if self.closed:
                    return
                (seq, frame, original), self._frame = self._frame, None
            t0 = time.perf_counter()
            out = {"swapped": self._encode(frame)}
            if original is not None:
                out["original"] = self._encode(original)
            self._encode_s.append(time.perf_counter() - t0)
            with self._cond:
                for name, data in out.items():
                    if data is not None:
                        self._jpeg[name] = (seq, data)
                self.encoded += 1
                self._cond.notify_all()

    def _encode(self, frame: np.ndarray) -> bytes | None:
        h, w = frame.shape[:2]
        if w > self.max_width:
            frame = cv2.resize(frame, (self.max_width, round(h * self.max_width / w)), interpolation=cv2.INTER_LINEAR)
        ok, buf = cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, self.quality])
        return buf.tobytes() if ok else None

    # -- called by the web server -------------------------------------------------------------
    @contextmanager
    def viewer(self, stream: str):
        """Counts a viewer of `stream` while the block runs (encoding happens only for viewers)."""
        with self._cond:
            self._viewers[stream] += 1
        try:
            yield
        finally:
            with self._cond:
                self._viewers[stream] -= 1

    def wait_jpeg(self, stream: str, after_seq: int, timeout: float) -> tuple[int, bytes] | None:
        """The newest JPEG of `stream` newer than after_seq, waiting up to timeout; None if none."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while not self.closed:
                got = self._jpeg.get(stream)
                if got is not None and got[0] > after_seq:
                    return got
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                self._cond.wait(left)
        return None

    def state(self) -> dict:
        enc = list(self._encode_s)
        return {
            "viewers": dict(self._viewers),
            "encoded": self.encoded,
            "encode_ms": float(np.median(enc) * 1000) if enc else None,
        }

    def close(self) -> None:
        with self._cond:
            self.closed = True
            self._cond.notify_all()
        self._thread.join(2.0)
