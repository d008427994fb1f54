"""The pipeline contract: the one packet that travels through the engine, the control marker
that ends a stream, and the three parts of the loop (Source -> Stage ... -> Sink).

A FramePacket is created by the source (which stamps `seq` and `t_capture`) and filled in by the
stages downstream. The pipeline hands a packet to one stage at a time, so stages never write a
packet concurrently; a field may be refined by a later stage (the colour stage replaces
`swapped`, the blend stage narrows `mask` by the occlusion and hull masks).

Every part has `setup()` (open devices, load models: called on the main thread before any
worker starts, so a bad input fails fast with a UserError), its work method, and `close()`.
The pipeline gives each part its own thread; a part never touches a queue itself.
"""

from __future__ import annotations

import enum
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from fractions import Fraction

import numpy as np

# packet.timings keys '<stage> (device)' hold a stage's GPU seconds on the device frame path.
DEVICE_TIMING = "(device)"


class Control(enum.Enum):
    """Markers sent through the queues instead of a packet."""

    END = "end"  # the source is exhausted: flush and finish


@dataclass
class FaceSlot:
    """One face of one frame, as it moves through align -> infer -> color -> blend.

    landmarks: float32 (478, 3) frame pixels (x, y, relative z).
    matrix:    float64 (2, 3) frame -> crop similarity (engine.face.align.alignment_matrix).
    crop:      uint8 (R, R, 3) BGR aligned crop of the original frame (R = the model's output resolution;
               the infer stage resizes it to the model's input resolution when that differs).
    hull:      uint8 (R, R) 0/255 landmark hull mask in crop pixels.
    swapped:   uint8 (R, R, 3) BGR face from the model (then colour-corrected in place of it).
    mask:      float32 (R, R) in [0, 1]: the mask that blending uses.
    target:    which swap model swaps this face (0: the main one; others with --reference FILE:MODEL).
    track:     the face finder's track number (the same face in consecutive frames; -1: untracked).
    """

    landmarks: np.ndarray
    target: int = 0
    track: int = -1
    matrix: np.ndarray | None = None
    crop: np.ndarray | None = None
    hull: np.ndarray | None = None
    swapped: np.ndarray | None = None
    mask: np.ndarray | None = None


@dataclass
class FramePacket:
    """One frame and everything the stages learned about it.

    seq:       0, 1, 2, ... in capture order (gaps in live mode are dropped frames).
    t_capture: time.perf_counter() when the frame was captured (glass-to-glass latency origin).
    frame:     uint8 (H, W, 3) BGR, C-contiguous; blend modifies it in place.
    pts, time_base: presentation time of the frame in a file source (None for cameras); the
               file sink re-uses them so output timing matches the input exactly.
    faces:     one FaceSlot per face that will be swapped (empty: the frame passes untouched).
    timings:   stage name -> seconds spent on this packet.
    settings:  the live control settings current when the frame was captured (an
               engine.pipeline.controls.SwapSettings, or None without live controls); every
               stage processes the packet under these, so a change lands between frames.
    device:    on the device frame path, the frame's GPU buffers and stream (an
               engine.gpu.buffers.DeviceFrame) from the align stage to the blend stage, which
               copies the finished frame back into `frame`; None on the CPU path.
    """

    seq: int
    t_capture: float
    frame: np.ndarray
    pts: int | None = None
    time_base: Fraction | None = None
    faces: list[FaceSlot] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    settings: object | None = None
    device: object | None = None

    @property
    def seconds(self) -> float | None:
        """Presentation time in seconds, when known."""
        if self.pts is None or self.time_base is None:
            return None
        return float(self.pts * self.time_base)


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

    def interrupted(self) -> None:
        """Called before close(complete=True) when the run was interrupted (Ctrl-C, SIGTERM):
        a file sink may then keep what it wrote as a partial output, not as the final one."""

    def close(self, complete: bool) -> None:
        """Finish the output. complete=False (a failure) discards a file output instead of
        leaving a half-written file under the final name. Safe to call twice."""
