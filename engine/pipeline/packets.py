"""The one packet that travels through the engine, and the control marker that ends a stream.

A FramePacket is created by the capture stage (which stamps `seq` and `t_capture`) and filled in
by the stages downstream; each stage owns the fields it writes, so no two threads ever write the
same field of the same packet.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from fractions import Fraction

import numpy as np


class Control(enum.Enum):
    """Markers sent through the queues instead of a packet."""

    END = "end"  # the source is exhausted: flush and finish


@dataclass
class FaceSlot:
    """One face of one frame, as it moves through align -> infer -> color -> blend.

    landmarks: float32 (478, 3) frame pixels (x, y, relative z).
    matrix:    float64 (2, 3) frame -> crop similarity (engine.face.align.alignment_matrix).
    crop:      uint8 (R, R, 3) BGR aligned crop of the original frame (R = model resolution).
    hull:      uint8 (R, R) 0/255 landmark hull mask in crop pixels.
    swapped:   uint8 (R, R, 3) BGR face from the model (then colour-corrected in place of it).
    mask:      float32 (R, R) in [0, 1]: the mask that blending uses.
    """

    landmarks: np.ndarray
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
    """

    seq: int
    t_capture: float
    frame: np.ndarray
    pts: int | None = None
    time_base: Fraction | None = None
    faces: list[FaceSlot] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def seconds(self) -> float | None:
        """Presentation time in seconds, when known."""
        if self.pts is None or self.time_base is None:
            return None
        return float(self.pts * self.time_base)
