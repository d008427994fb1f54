"""The sending page's microphone over WebRTC, back to every peer delayed by the target delay, so
that lips and voice stay together in the output page (the video leaves `target delay` after its
capture; the audio leaves the same time after its arrival).

`AudioDelay` keeps the decoded microphone frames (av.AudioFrame, s16, 20 ms each) with their
arrival time, at most KEEP_FRAMES of them (2 s): a consumer that falls further behind skips to the
oldest one kept. Each peer's `DelayedAudioTrack` hands a frame to aiortc's Opus encoder once it is
due, with its own continuous sample clock. Everything runs on the web server's event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from collections.abc import Callable
from fractions import Fraction

import numpy as np
from aiortc import MediaStreamTrack
from aiortc.mediastreams import MediaStreamError

from swapstream.studio.rtc_media import WAIT_S

KEEP_FRAMES = 100  # 2 s of 20 ms frames


class AudioDelay:
    """delay_ms() -> the current target delay (the board's setting)."""

    def __init__(self, delay_ms: Callable[[], float]):
        self.delay_ms = delay_ms
        self._frames: deque[tuple[int, float, object]] = deque(maxlen=KEEP_FRAMES)  # (seq, arrival, frame)
        self._seq = 0
        self._changed = asyncio.Event()
        self.achieved_ms: deque[float] = deque(maxlen=50)  # the last second
        self.closed = False

    def put(self, frame) -> None:
        self._frames.append((self._seq, time.perf_counter(), frame))
        self._seq += 1
        self._changed.set()
        self._changed = asyncio.Event()

    def _first_after(self, seq: int):
        for item in self._frames:
            if item[0] > seq:
                return item
        return None

    async def next(self, after_seq: int):
        """(seq, frame) of the first frame after after_seq, once it is due; None once closed."""
        while not self.closed:
            item = self._first_after(after_seq)
            if item is None:
                changed = self._changed
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(changed.wait(), WAIT_S)
                continue
            seq, arrived, frame = item
            wait = arrived + self.delay_ms() / 1000.0 - time.perf_counter()
            if wait > 0:
                await asyncio.sleep(min(wait, WAIT_S))
                continue  # the delay may have changed meanwhile
            self.achieved_ms.append((time.perf_counter() - arrived) * 1000.0)
            return seq, frame
        return None

    def close(self) -> None:
        self.closed = True
        self._changed.set()

    def state(self) -> dict:
        ms = np.asarray(self.achieved_ms, np.float64)
        return {
            "frames": self._seq,
            "delay_p50_ms": float(np.median(ms)) if ms.size else None,
            "target_ms": float(self.delay_ms()),
        }


class DelayedAudioTrack(MediaStreamTrack):
    """One peer's copy of the microphone, delayed; pts count this track's own samples."""

    kind = "audio"

    def __init__(self, delay: AudioDelay):
        super().__init__()
        self.delay = delay
        self._seq = -1
        self._samples = 0

    async def recv(self):
        got = await self.delay.next(self._seq) if self.readyState == "live" else None
        if got is None:
            raise MediaStreamError
        self._seq, frame = got
        # The frame is shared by every peer: its pts is set here and read by the encoder right
        # after this returns, with no await in between.
        frame.pts, frame.time_base = self._samples, Fraction(1, frame.sample_rate)
        self._samples += frame.samples
        return frame
