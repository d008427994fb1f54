"""Steady pacing (target delay): hold each finished frame until a fixed delay after its capture.

With a target delay D every frame leaves the pipeline D after the camera took it, whatever each
frame's processing time was, so a virtual camera runs at an even rate and OBS can delay the
audio by the same fixed amount. Finished frames wait in a FIFO on the sink thread (frames are
finished in capture order, so the head is always due first); a frame that finishes after its due
time leaves at once and counts as late. The achieved delay of every frame is kept, so the page
can show how steady it really is (jitter = standard deviation of the achieved delay).
"""

from __future__ import annotations

import threading
from collections import deque

import numpy as np

from swapstream.common.pipeline_contract import FramePacket

MAX_PENDING = 90  # frames held at most (3 s at 30 fps); beyond it the oldest is dropped
WINDOW = 300  # achieved delays kept for the statistics (10 s at 30 fps)


def target_delay_s(packet: FramePacket) -> float:
    settings = getattr(packet, "settings", None)
    return float(getattr(settings, "target_delay_ms", 0.0) or 0.0) / 1000.0


class Pacer:
    """The FIFO of finished frames waiting for their due time, and the achieved-delay statistics."""

    def __init__(self, max_pending: int = MAX_PENDING, window: int = WINDOW):
        self._pending: deque[FramePacket] = deque()
        self._max = max_pending
        self._lock = threading.Lock()
        self._achieved: deque[float] = deque(maxlen=window)
        self._target: deque[float] = deque(maxlen=window)
        self.late = 0
        self.overflow = 0

    @staticmethod
    def due(packet: FramePacket) -> float:
        return packet.t_capture + target_delay_s(packet)

    def add(self, packet: FramePacket, now: float) -> int:
        """Queue a finished frame; returns how many old frames were dropped to stay bounded."""
        if target_delay_s(packet) > 0 and now > self.due(packet):
            with self._lock:
                self.late += 1
        self._pending.append(packet)
        dropped = 0
        while len(self._pending) > self._max:
            self._pending.popleft()
            dropped += 1
        if dropped:
            with self._lock:
                self.overflow += dropped
        return dropped

    def next_due(self) -> float | None:
        return self.due(self._pending[0]) if self._pending else None

    def pop_due(self, now: float) -> list[FramePacket]:
        """The frames whose time has come, oldest first."""
        out = []
        while self._pending and self.due(self._pending[0]) <= now:
            out.append(self._pending.popleft())
        return out

    def drain(self) -> list[FramePacket]:
        out = list(self._pending)
        self._pending.clear()
        return out

    @property
    def held(self) -> int:
        return len(self._pending)

    def record(self, packet: FramePacket, t_out: float) -> None:
        """A frame left at t_out (perf_counter): keep its achieved delay when a target was set."""
        target = target_delay_s(packet)
        if target > 0:
            with self._lock:
                self._achieved.append(t_out - packet.t_capture)
                self._target.append(target)

    def snapshot(self) -> dict:
        """Achieved delay p50/p99 and jitter (std) in ms over the recent frames that had a target."""
        with self._lock:
            a = np.asarray(self._achieved, np.float64) * 1000.0
            target = self._target[-1] * 1000.0 if self._target else 0.0
            late, overflow = self.late, self.overflow
        if a.size == 0:
            return {"target_ms": 0.0, "p50_ms": None, "p99_ms": None, "jitter_ms": None, "late": late}
        return {
            "target_ms": target,
            "p50_ms": float(np.percentile(a, 50)),
            "p99_ms": float(np.percentile(a, 99)),
            "jitter_ms": float(a.std()),
            "late": late,
            "overflow": overflow,
        }
