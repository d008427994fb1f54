"""Turn the command line's INPUT... into a list of video and image sources, and read them.

Videos are decoded with PyAV (frames BGR uint8, contiguous); images with OpenCV. Every failure
is a UserError naming the file and the problem.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from swapstream.common.errors import user_error
from swapstream.common.video_frames import UprightFrames, check_complete, decode_failed

VIDEO_EXTS = {".mp4", ".mov", ".mkv", ".avi", ".webm", ".m4v", ".mpg", ".mpeg", ".wmv", ".flv"}
IMAGE_EXTS = {".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff"}


@dataclass(frozen=True)
class Source:
    path: Path
    kind: str  # 'video' | 'image'
    source_id: str  # stable across runs and renames: name stem + hash of size and head bytes


def source_id(path: Path) -> str:
    h = hashlib.sha1(str(path.stat().st_size).encode())
    with open(path, "rb") as f:
        h.update(f.read(1 << 16))
    stem = "".join(c if c.isalnum() or c in "-_" else "_" for c in path.stem)[:24]
    return f"{stem}-{h.hexdigest()[:8]}"


def collect_sources(inputs: list[str | Path]) -> list[Source]:
    """Expand files and folders (non-recursive, sorted) into sources; reject what cannot be read."""
    paths: list[Path] = []
    for raw in inputs:
        p = Path(raw)
        if not p.exists():
            raise user_error(p, "no such file or folder")
        if p.is_dir():
            found = sorted(q for q in p.iterdir() if q.suffix.lower() in VIDEO_EXTS | IMAGE_EXTS)
            if not found:
                raise user_error(p, "folder holds no images or videos")
            paths.extend(found)
        else:
            paths.append(p)
    sources = []
    for p in paths:
        if not p.is_file():  # a FIFO, socket or device: reading it could block or never end
            raise user_error(p, "not a regular file (a FIFO, socket or device): give a video or image file")
        if p.stat().st_size == 0:
            raise user_error(p, "empty file")
        kind = "image" if p.suffix.lower() in IMAGE_EXTS else "video"
        sources.append(Source(p, kind, source_id(p)))
    return sources


def video_frame_count(path: Path, allow_partial: bool = False) -> int:
    """The frames a video holds, from one pass over its packets (no decoding: seconds for an hour
    of video). A video holding fewer frames than it declares, or that cannot be read to its end,
    is refused here, before any work (the rule of swapstream.common.video_frames), unless
    allow_partial; then its decodable frames are counted as they decode (iter_video warns)."""
    import av

    try:
        container = av.open(str(path))
    except av.error.FFmpegError as e:
        raise user_error(
            path, f"cannot open as a video, truncated or corrupt? ({e.strerror or type(e).__name__})"
        ) from None
    with container:
        if not container.streams.video:
            raise user_error(path, "no video stream")
        stream = container.streams.video[0]
        declared = int(stream.frames or 0)
        packets = 0
        try:
            for packet in container.demux(stream):
                packets += packet.size > 0
        except av.error.FFmpegError as e:
            if allow_partial:
                return packets or declared
            decode_failed(path, packets, e, allow_partial, declared)
    if not allow_partial:
        check_complete(path, declared, packets, allow_partial)
    return packets


def iter_video(path: Path, allow_partial: bool = False) -> Iterator[tuple[int, float, np.ndarray]]:
    """Yield (frame index, time in seconds, BGR uint8 (H, W, 3)) for every frame of a video file,
    turned upright by its display rotation.

    A truncated video (fewer frames decoded than declared, or a decoding error part way) raises
    UserError saying so, unless allow_partial (then the frames that decoded are used, with a
    warning): the rule of swapstream.common.video_frames, shared with convert.
    """
    import av

    index = declared = 0
    try:
        with av.open(str(path)) as c:
            if not c.streams.video:
                raise user_error(path, "no video stream")
            stream = c.streams.video[0]
            stream.thread_type = "AUTO"
            declared = int(stream.frames or 0)
            frames = UprightFrames(c.decode(stream))
            for frame in frames:
                t = float(frame.time) if frame.time is not None else index / float(stream.average_rate or 30)
                yield index, t, frames.bgr(frame)
                index += 1
    except av.error.FFmpegError as e:
        decode_failed(path, index, e, allow_partial, declared)
        return
    if index == 0:
        raise user_error(path, "video holds no decodable frames")
    check_complete(path, declared, index, allow_partial)


def read_image(path: Path) -> np.ndarray:
    """BGR uint8 (H, W, 3); grey and alpha images are converted."""
    data = np.fromfile(str(path), np.uint8)
    img = cv2.imdecode(data, cv2.IMREAD_COLOR) if data.size else None
    if img is None:
        raise user_error(path, "not an image (could not decode it)")
    return img
