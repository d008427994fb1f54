"""Sources: video files (PyAV, decoded on the capture thread) and folders of images.

Cameras live in engine/stages/camera.py. All sources yield BGR uint8 (H, W, 3) C-contiguous
frames in FramePackets stamped with seq and t_capture.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np

from swapstream.common.errors import user_error
from swapstream.common.pipeline_contract import FramePacket, Source, SourceInfo
from swapstream.common.video_frames import UprightFrames, check_complete, decode_failed

log = logging.getLogger(__name__)

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")


class VideoFileSource(Source):
    """Decodes a video file with PyAV, in order, every frame, turned upright by its display rotation.

    realtime=True paces frames at their presentation times (a file standing in for a camera
    in `swapstream live`); otherwise frames come as fast as they decode.
    max_frames > 0 stops after that many frames. A truncated file (fewer frames than declared, or
    a decoding error part way) fails with a UserError unless allow_partial (then a warning):
    the rule of swapstream.common.video_frames, shared with extract.
    """

    def __init__(self, path: str | Path, realtime: bool = False, max_frames: int = 0, allow_partial: bool = False):
        self.path = Path(path)
        self.realtime = realtime
        self.max_frames = max_frames
        self.allow_partial = allow_partial
        self._container = None
        self._stream = None
        self._frames: UprightFrames | None = None
        self._declared = 0

    def setup(self) -> SourceInfo:
        import av

        if not self.path.is_file():
            problem = "not a regular file (a FIFO or device)" if self.path.exists() else "no such file"
            raise user_error(self.path, problem)
        try:
            self._container = av.open(str(self.path))
        except (av.error.FFmpegError, OSError) as e:
            raise user_error(self.path, f"cannot be read as a video ({e})") from None
        if not self._container.streams.video:
            self.close()
            raise user_error(self.path, "has no video stream")
        stream = self._stream = self._container.streams.video[0]
        stream.thread_type = "AUTO"  # frame + slice threads inside FFmpeg's decoder
        fps = float(stream.average_rate or stream.guessed_rate or 0)
        self._declared = int(stream.frames or 0)
        count = self._declared or (round(float(stream.duration * stream.time_base) * fps) if stream.duration else 0)
        if self.max_frames:
            count = min(count, self.max_frames) if count else self.max_frames
        if not stream.codec_context.width:
            self.close()
            raise user_error(self.path, "video stream has no frame size")
        try:  # the first frame tells the display rotation, hence the size frames will have
            self._frames = UprightFrames(self._container.decode(stream))
        except av.error.FFmpegError as e:
            self.close()
            raise user_error(self.path, f"cannot decode its first frame ({e})") from None
        if self._frames.empty:
            self.close()
            raise user_error(self.path, "video holds no decodable frames")
        width, height = self._frames.display_size(stream.codec_context.width, stream.codec_context.height)
        return SourceInfo(
            name=str(self.path),
            width=width,
            height=height,
            fps=fps,
            frame_count=count,
            time_base=stream.time_base,
            path=str(self.path),
            realtime=self.realtime,
        )

    def frames(self, stop: threading.Event) -> Iterator[FramePacket]:
        import av

        stream = self._stream
        tb: Fraction = stream.time_base
        fps = float(stream.average_rate or 30)
        seq = 0
        t_first = None
        pts_first = None
        try:
            t0 = time.perf_counter()
            for frame in self._frames:
                if stop.is_set():
                    return
                image = self._frames.bgr(frame)
                # Some containers leave pts unset on a few frames: derive it from the rate.
                pts = frame.pts if frame.pts is not None else round(seq / fps / tb)
                decode_s = time.perf_counter() - t0  # the stage's cost, without the pacing wait
                if self.realtime:
                    if t_first is None:
                        t_first, pts_first = time.perf_counter(), pts
                    due = t_first + float((pts - pts_first) * tb)
                    if stop.wait(max(0.0, due - time.perf_counter())):
                        return
                now = time.perf_counter()
                yield FramePacket(seq, now, image, pts=pts, time_base=tb, timings={"capture": decode_s})
                seq += 1
                if self.max_frames and seq >= self.max_frames:
                    return
                t0 = time.perf_counter()
        except av.error.FFmpegError as e:
            decode_failed(self.path, seq, e, self.allow_partial, self._declared)
            return
        check_complete(self.path, self._declared, seq, self.allow_partial)

    def close(self) -> None:
        if self._container is not None:
            self._container.close()
            self._container = None


class ImageFolderSource(Source):
    """Every image in a folder, sorted by name, as frames (no timestamps; fps is nominal)."""

    def __init__(self, path: str | Path, fps: float = 25.0, max_frames: int = 0):
        self.path = Path(path)
        self.fps = fps
        self.max_frames = max_frames
        self._files: list[Path] = []

    def setup(self) -> SourceInfo:
        if not self.path.is_dir():
            raise user_error(self.path, "not a folder")
        self._files = sorted(p for p in self.path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        if self.max_frames:
            self._files = self._files[: self.max_frames]
        if not self._files:
            raise user_error(self.path, f"no images ({', '.join(IMAGE_SUFFIXES)}) in this folder")
        first = self._read(self._files[0])
        return SourceInfo(
            name=str(self.path),
            width=first.shape[1],
            height=first.shape[0],
            fps=self.fps,
            frame_count=len(self._files),
            time_base=Fraction(1, 1000),
            path=str(self.path),
        )

    @staticmethod
    def _read(path: Path) -> np.ndarray:
        image = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if image is None:
            raise user_error(path, "cannot be read as an image")
        return image

    def frames(self, stop: threading.Event) -> Iterator[FramePacket]:
        for seq, path in enumerate(self._files):
            if stop.is_set():
                return
            t0 = time.perf_counter()
            image = self._read(path)
            now = time.perf_counter()
            pts = round(seq * 1000 / self.fps)
            yield FramePacket(seq, now, image, pts=pts, time_base=Fraction(1, 1000), timings={"capture": now - t0})


def open_file_source(
    path: str | Path, realtime: bool = False, max_frames: int = 0, allow_partial: bool = False
) -> Source:
    """A folder of images or a video file, chosen by what `path` is."""
    p = Path(path)
    if p.is_dir():
        return ImageFolderSource(p, max_frames=max_frames)
    return VideoFileSource(p, realtime=realtime, max_frames=max_frames, allow_partial=allow_partial)
