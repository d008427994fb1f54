"""The three contracts of the engine loop: Source -> Stage ... -> Sink.

Every part has `setup()` (open devices, load models: called on the main thread before any
worker starts, so a bad input fails fast with a UserError), its work method, and `close()`.
The pipeline gives each part its own thread; a part never touches a queue itself.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction

from engine.pipeline.packets import FramePacket


@dataclass(frozen=True)
class SourceInfo:
    """What a source knows before the first frame.

    width, height: frame size in pixels; fps: nominal rate (0 if unknown);
    frame_count: expected number of frames (0 if unknown or endless);
    time_base: the pts unit of file sources; path: the file (None for cameras);
    realtime: True when frames arrive at their own pace (camera) rather than as fast as decoded.
    """

    name: str
    width: int
    height: int
    fps: float
    frame_count: int = 0
    time_base: Fraction | None = None
    path: str | None = None
    realtime: bool = False


class Source:
    """Produces FramePackets, stamping seq (0, 1, ...) and t_capture (time.perf_counter)."""

    name = "capture"

    def setup(self) -> SourceInfo:
        raise NotImplementedError

    def frames(self, stop: threading.Event) -> Iterator[FramePacket]:
        """Yield packets until the source ends or `stop` is set. Runs on the capture thread."""
        raise NotImplementedError

    def close(self) -> None:
        """Release the device or file. Safe to call twice."""


class Stage:
    """Transforms packets. `batch_size` > 1 lets the pipeline hand over several packets at once."""

    name = "stage"
    batch_size = 1

    def setup(self) -> None:
        """Prepare before the first packet (load, warm up)."""

    def process(self, packet: FramePacket) -> FramePacket:
        raise NotImplementedError

    def process_batch(self, packets: list[FramePacket]) -> list[FramePacket]:
        """Several packets in order; the default processes them one by one."""
        return [self.process(p) for p in packets]

    def close(self) -> None:
        """Release resources. Safe to call twice."""


class Sink:
    """Consumes finished packets in order."""

    name = "sink"

    def setup(self, info: SourceInfo) -> None:
        """Open the output for frames described by `info`."""

    def write(self, packet: FramePacket) -> None:
        raise NotImplementedError

    def close(self, complete: bool) -> None:
        """Finish the output. complete=False (a failure) discards a file output instead of
        leaving a half-written file under the final name. Safe to call twice."""
