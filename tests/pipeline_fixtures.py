"""Synthetic pipeline parts for tests: a counting source and a recording sink (no model, no MediaPipe)."""

from __future__ import annotations

import time

import numpy as np

from swapstream.common.pipeline_contract import FramePacket, Sink, Source, SourceInfo


class CountingSource(Source):
    """n frames whose first pixel holds seq % 256; period_s > 0 emulates a camera rate."""

    def __init__(self, n: int, period_s: float = 0.0, size: int = 8):
        self.n, self.period_s, self.size = n, period_s, size

    def setup(self) -> SourceInfo:
        return SourceInfo("counting", self.size, self.size, 30.0, self.n)

    def frames(self, stop):
        for seq in range(self.n):
            if self.period_s and stop.wait(self.period_s):
                return
            frame = np.zeros((self.size, self.size, 3), np.uint8)
            frame[0, 0, 0] = seq % 256
            yield FramePacket(seq, time.perf_counter(), frame)


class RecordingSink(Sink):
    def __init__(self):
        self.seqs: list[int] = []
        self.pixels: list[int] = []
        self.closed_with: bool | None = None

    def write(self, packet):
        self.seqs.append(packet.seq)
        self.pixels.append(int(packet.frame[0, 0, 0]))

    def close(self, complete):
        self.closed_with = complete
