"""Rules every reader of a video file shares, so extract, convert, live, bench and eval agree.

- Orientation: phones store portrait video sideways with a display matrix saying how to turn it
  (`VideoFrame.rotation`, degrees counter-clockwise). Frames are turned upright on decode, so
  faces are found upright and written videos play the way the source did (with rotation 0).
- Truncation: a video that decodes fewer frames than its container declares, or fails to decode
  part way, is truncated. That is a UserError saying declared vs decoded frames, unless the user
  passes --allow-partial; then it is a warning and the frames that decoded are used.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator

import numpy as np

from swapstream.common.errors import user_error

log = logging.getLogger("swapstream.video")

# Containers' declared counts may differ from what decodes by a frame or two (edit lists, a
# trailing B-frame): only a larger shortfall counts as truncation.
TRUNCATION_SLACK = 2
PARTIAL_HINT = "pass --allow-partial to use the frames that decode"


def display_rotation(frame) -> int:
    """The frame's display rotation, counter-clockwise, as 0, 90, 180 or 270."""
    degrees = round(float(getattr(frame, "rotation", 0) or 0) / 90.0) * 90
    return degrees % 360


def upright(image: np.ndarray, rotation: int) -> np.ndarray:
    """Turn a decoded (H, W, C) image by ROTATION degrees counter-clockwise (contiguous result)."""
    k = (rotation // 90) % 4
    return np.ascontiguousarray(np.rot90(image, k) if k else image)


class UprightFrames:
    """Wraps a PyAV decode iterator. The first frame is decoded at construction, so the display
    rotation and size are known before the rest; `bgr(frame)` gives a frame upright, BGR uint8."""

    def __init__(self, frames: Iterable):
        self._it = iter(frames)
        self._first = next(self._it, None)
        self.rotation = display_rotation(self._first) if self._first is not None else 0

    @property
    def empty(self) -> bool:
        return self._first is None

    def display_size(self, width: int, height: int) -> tuple[int, int]:
        return (height, width) if self.rotation in (90, 270) else (width, height)

    def bgr(self, frame) -> np.ndarray:
        return upright(np.ascontiguousarray(frame.to_ndarray(format="bgr24")), self.rotation)

    def __iter__(self) -> Iterator:
        first, self._first = self._first, None
        if first is not None:
            yield first
        yield from self._it


def check_complete(path: object, declared: int, decoded: int, allow_partial: bool) -> None:
    """The truncation rule at the end of a video: declared vs decoded frames."""
    if declared and decoded < declared - TRUNCATION_SLACK:
        problem = f"truncated video: decoded {decoded} of the {declared} frames it declares"
        if not allow_partial:
            raise user_error(path, f"{problem} ({PARTIAL_HINT})")
        log.warning("%s: %s; using them (--allow-partial)", path, problem)


def decode_failed(path: object, decoded: int, error: Exception, allow_partial: bool, declared: int = 0) -> None:
    """The truncation rule for a decoding error part way: UserError, or a warning with allow_partial."""
    reason = getattr(error, "strerror", None) or type(error).__name__
    of = f" of the {declared} frames it declares" if declared else " frames"
    problem = f"truncated or corrupt video: decoding failed after {decoded}{of} ({reason})"
    if not allow_partial or decoded == 0:
        raise user_error(path, f"{problem} ({PARTIAL_HINT})" if decoded else problem)
    log.warning("%s: %s; using them (--allow-partial)", path, problem)
