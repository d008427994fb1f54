"""Device buffers that live across frames: nothing on the device path allocates per frame.

`Arena` hands out views of grow-only flat device arrays, one per named use: a face's ROI
changes size from frame to frame, so each buffer is allocated once for the largest size met so
far (doubling) and then reused. `FramePool` holds the frames in flight: a pinned host frame
(the asynchronous copies need page-locked memory), its device twin, a CUDA stream and the
per-face device buffers, allocated once per frame size and handed back after the download.
"""

from __future__ import annotations

import math
import queue
from dataclasses import dataclass, field

import numpy as np
from numba import cuda

# How long a stage waits for a free device frame before it calls the device stuck: frames are
# handed back by the blend stage downstream, which never waits on the stages before it.
POOL_WAIT_S = 30.0


class Arena:
    """Named scratch buffers on the device: view(name, shape, dtype) of one flat array per name."""

    def __init__(self):
        self._flat: dict[str, object] = {}

    def view(self, name: str, shape: tuple[int, ...], dtype) -> object:
        """A C-contiguous device array of `shape`; its contents are whatever was there before."""
        need = max(1, math.prod(shape))
        flat = self._flat.get(name)
        if flat is None or flat.size < need or flat.dtype != np.dtype(dtype):
            size = need if flat is None else max(need, 2 * flat.size)
            flat = self._flat[name] = cuda.device_array(size, dtype)
        return flat[:need].reshape(shape)


@dataclass
class DeviceFace:
    """One face slot's device buffers (R = crop side): the aligned crop, hull, swapped face, mask."""

    crop: object  # uint8 (R, R, 3)
    hull: object  # uint8 (R, R)
    swapped: object  # uint8 (R, R, 3)
    mask: object  # float32 (R, R)

    @classmethod
    def allocate(cls, size: int) -> DeviceFace:
        return cls(
            cuda.device_array((size, size, 3), np.uint8),
            cuda.device_array((size, size), np.uint8),
            cuda.device_array((size, size, 3), np.uint8),
            cuda.device_array((size, size), np.float32),
        )


@dataclass
class DeviceFrame:
    """A frame on the device path: pinned host frame, device frame, the stream that orders all of
    its work, per-face buffers, and CUDA events marking where each stage's device work ended."""

    host: np.ndarray  # pinned uint8 (H, W, 3)
    frame: object  # device uint8 (H, W, 3)
    stream: object
    faces: list[DeviceFace] = field(default_factory=list)
    marks: list[tuple[str, object]] = field(default_factory=list)
    arena: Arena = field(default_factory=Arena)
    _events: list = field(default_factory=list)

    def face(self, i: int, size: int) -> DeviceFace:
        """Buffers of face i at crop side `size` (allocated the first time this frame meets them)."""
        while len(self.faces) <= i:
            self.faces.append(DeviceFace.allocate(size))
        if self.faces[i].crop.shape[0] != size:
            self.faces[i] = DeviceFace.allocate(size)
        return self.faces[i]

    def mark(self, stage: str) -> None:
        """Record an event on the stream after `stage`'s work (device ms per stage, read at the end)."""
        i = len(self.marks)
        while len(self._events) <= i:
            self._events.append(cuda.event())  # timing events (the default)
        self._events[i].record(self.stream)
        self.marks.append((stage, self._events[i]))

    def device_ms(self) -> dict[str, float]:
        """stage -> device milliseconds between the previous mark and its own (after a synchronize)."""
        out = {}
        for (_, before), (name, after) in zip(self.marks, self.marks[1:], strict=False):
            out[name] = out.get(name, 0.0) + before.elapsed_time(after)
        return out


class FramePool:
    """At most `size` frames of one frame size on the device at a time (bounded like every queue)."""

    def __init__(self, size: int):
        self.size = size
        self._free: queue.Queue[DeviceFrame] = queue.Queue(maxsize=size)
        self._shape: tuple[int, ...] | None = None
        self._made = 0

    def acquire(self, shape: tuple[int, ...]) -> DeviceFrame:
        """A free frame of `shape` (H, W, 3), made on first need; waits for one to be released."""
        if shape != self._shape:  # a new frame size (a live output-size change): start afresh
            self._shape, self._made = shape, 0
            self._free = queue.Queue(maxsize=self.size)
        if self._made < self.size and self._free.empty():
            self._made += 1
            return DeviceFrame(cuda.pinned_array(shape, np.uint8), cuda.device_array(shape, np.uint8), cuda.stream())
        try:
            frame = self._free.get(timeout=POOL_WAIT_S)
        except queue.Empty:
            why = f"no device frame was released within {POOL_WAIT_S:.0f} s: the device is stuck"
            raise RuntimeError(why) from None
        frame.marks.clear()
        return frame

    def release(self, frame: DeviceFrame) -> None:
        if frame.frame.shape == self._shape and not self._free.full():
            self._free.put_nowait(frame)
