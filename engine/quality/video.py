"""Two videos read side by side, frame i of one paired with frame i of the other."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np

from swapstream.common.errors import user_error
from swapstream.common.video_frames import UprightFrames


class _VideoFile:
    """One video opened with PyAV, decoding BGR uint8 (H, W, 3) frames in order."""

    def __init__(self, path: Path):
        import av  # lazy: keeps `swapstream --help` fast

        if not path.is_file():
            raise user_error(path, "not a regular file (a FIFO or device)" if path.exists() else "no such file")
        try:
            self._container = av.open(str(path))
        except av.error.FFmpegError as e:
            raise user_error(path, f"not a readable video ({e})") from None
        if not self._container.streams.video:
            self._container.close()
            raise user_error(path, "no video stream")
        self.path = path
        self._stream = self._container.streams.video[0]
        self._stream.thread_type = "AUTO"
        try:  # the first frame tells the display rotation: frames are compared upright
            self._frames = UprightFrames(self._container.decode(self._stream))
        except av.error.FFmpegError as e:
            self._container.close()
            raise user_error(path, f"cannot decode ({e})") from None
        self.size = self._frames.display_size(self._stream.codec_context.width, self._stream.codec_context.height)
        # Container metadata; 0 when the container does not say (e.g. Matroska).
        self.declared_frames = int(self._stream.frames or 0)
        rate = self._stream.average_rate
        self.fps = float(rate) if rate else 30.0

    def frames(self) -> Iterator[np.ndarray]:
        import av

        try:
            for frame in self._frames:
                yield self._frames.bgr(frame)  # contiguous: OpenCV and MediaPipe need it
        except av.error.FFmpegError as e:
            raise user_error(self.path, f"cannot decode ({e})") from None

    def close(self) -> None:
        self._container.close()


class PairedVideos:
    """The driving video and the swapped video, checked to match in size and frame count.

    Iterating yields (index, driving_bgr, swapped_bgr); a video that ends before the other
    raises UserError naming the shorter file, since pairing frames by index is then wrong.
    """

    def __init__(self, driving: Path, swapped: Path):
        self.driving = _VideoFile(driving)
        try:
            self.swapped = _VideoFile(swapped)
        except BaseException:
            self.driving.close()
            raise
        d, s = self.driving, self.swapped
        if d.size != s.size:
            self.close()
            raise user_error(
                s.path, f"frame size {s.size[0]}x{s.size[1]} differs from the driving video's {d.size[0]}x{d.size[1]}"
            )
        if d.declared_frames and s.declared_frames and d.declared_frames != s.declared_frames:
            self.close()
            raise user_error(
                s.path, f"{s.declared_frames} frames but the driving video {d.path} has {d.declared_frames}"
            )
        self.fps = d.fps
        self.total = max(d.declared_frames, s.declared_frames) or None

    def __iter__(self) -> Iterator[tuple[int, np.ndarray, np.ndarray]]:
        drv, swp = self.driving.frames(), self.swapped.frames()
        index = 0
        while True:
            a = next(drv, None)
            b = next(swp, None)
            if a is None and b is None:
                return
            if a is None or b is None:
                short, other = (self.driving, self.swapped) if a is None else (self.swapped, self.driving)
                raise user_error(short.path, f"ends after {index} frames but {other.path} has more")
            yield index, a, b
            index += 1

    def close(self) -> None:
        self.driving.close()
        self.swapped.close()

    def __enter__(self) -> PairedVideos:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
