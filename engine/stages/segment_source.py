"""A video cut into segments that convert independently: the frame index, the plan, the source.

`scan_video` reads a video's packets (no decoding) and lists every frame in display order by its
presentation time, with the keyframes; `plan_segments` cuts that list into segments of about a
target length, each starting on a keyframe; `SegmentSource` decodes one segment as the frames of a
normal file source.

A segment's frames are identified by their presentation times, so a segment decodes the same
frames whichever process decodes it and from whichever keyframe it seeks to. Before its first
frame, the source decodes `warmup` frames that belong to the previous segment and hands them to a
`warm` callback (the detect stage), never downstream: the face tracker and the One-Euro landmark
smoother then start the segment already following the face, so there is no jump at the join.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

from swapstream.common.errors import UserError, user_error
from swapstream.common.pipeline_contract import FramePacket, Source, SourceInfo
from swapstream.common.video_frames import UprightFrames

WARMUP_FRAMES = 12  # about 0.4 s at 30 fps: the One-Euro filter settles in ~0.16 s at 1 Hz cutoff


class NotSegmentable(UserError):
    """A video that cannot be cut into segments by its timestamps (frames without them, repeated
    ones, truncated): a plain convert then runs it in one pipeline, --resume/--workers refuse it."""

    def __init__(self, path: str | Path, problem: str):
        super().__init__(f"{path}: {problem}: convert it without --resume/--workers (in one pipeline, not resumable)")
        self.problem = problem


@dataclass(frozen=True)
class VideoIndex:
    """Every frame of a video's first video stream, in display order, from its packets.

    pts: presentation times (stream time base) in display order; keyframes: display indices of
    the frames a decoder can start from; declared: the frame count the container states (0 if none).
    """

    path: str
    pts: tuple[int, ...]
    keyframes: tuple[int, ...]
    time_base: Fraction
    fps: float
    declared: int

    def seek_pts(self, index: int) -> int | None:
        """The pts of the last keyframe at or before display index `index` (None: decode from the start)."""
        before = [k for k in self.keyframes if k <= index]
        return self.pts[before[-1]] if before and before[-1] > 0 else None


def scan_video(path: str | Path) -> VideoIndex:
    """The frame index of a video file, from a pass over its packets (seconds for an hour of video)."""
    import av

    path = Path(path)
    try:
        container = av.open(str(path))
    except (av.error.FFmpegError, OSError) as e:
        raise user_error(path, f"cannot be read as a video ({e})") from None
    with container:
        if not container.streams.video:
            raise user_error(path, "has no video stream")
        stream = container.streams.video[0]
        packets: list[tuple[int, bool]] = []
        try:
            for packet in container.demux(stream):
                if packet.size == 0 and packet.pts is None:
                    continue  # the demuxer's final flush packet
                if packet.pts is None:
                    raise NotSegmentable(path, "has frames without timestamps")
                packets.append((packet.pts, packet.is_keyframe))
        except av.error.FFmpegError as e:
            raise user_error(path, f"cannot be read to its end ({e})") from None
        packets.sort()
        pts = tuple(p for p, _ in packets)
        if len(set(pts)) != len(pts):
            raise NotSegmentable(path, "has frames with repeated timestamps")
        if not pts:
            raise user_error(path, "video holds no frames")
        return VideoIndex(
            path=str(path),
            pts=pts,
            keyframes=tuple(i for i, (_, key) in enumerate(packets) if key),
            time_base=stream.time_base,
            fps=float(stream.average_rate or stream.guessed_rate or 30),
            declared=int(stream.frames or 0),
        )


def plan_segments(keyframes: Sequence[int], frames: int, target: int) -> list[tuple[int, int]]:
    """[start, end) display indices covering `frames` frames in segments of about `target` frames.

    Every segment starts on a keyframe, so no frame is decoded for a segment it does not belong to
    but the warm-up. Each cut goes to the keyframe nearest to `target` frames after the previous
    cut among those that make a segment of 0.5 to 2.5 targets (camera and x264 defaults put one
    every 1-10 s); without one, to the first keyframe after that (a longer segment), and without
    any, the rest is one segment. No segment but the only one is under half a target.
    """
    target = max(1, target)
    lo, hi = target // 2, target * 5 // 2
    keys = sorted(k for k in keyframes if 0 < k <= frames - lo)
    bounds = [0]
    while frames - bounds[-1] > target * 3 // 2:
        start, want = bounds[-1], bounds[-1] + target
        near = [k for k in keys if start + lo <= k <= start + hi]
        later = [k for k in keys if k > start + hi]
        if near:
            bounds.append(min(near, key=lambda k: (abs(k - want), k)))
        elif later:
            bounds.append(later[0])
        else:
            break
    bounds.append(frames)
    return list(itertools.pairwise(bounds))


class SegmentSource(Source):
    """Decodes the frames whose presentation times are `pts` (display order), upright.

    The first `warmup` of them are decoded and passed to `warm(packet)` on the capture thread
    before any frame goes downstream; the rest are yielded with seq = first_seq, first_seq + 1, ...
    seek_pts: a keyframe at or before pts[0] to start decoding from (None: the start of the file).
    """

    def __init__(
        self,
        path: str | Path,
        pts: Sequence[int],
        warmup: int = 0,
        seek_pts: int | None = None,
        warm: Callable[[FramePacket], object] | None = None,
        first_seq: int = 0,
    ):
        if not 0 <= warmup < len(pts):
            raise ValueError(f"warmup must be 0..{len(pts) - 1}, got {warmup}")
        self.path = Path(path)
        self.pts = list(pts)
        self.warmup = warmup
        self.seek_pts = seek_pts
        self.warm = warm
        self.first_seq = first_seq
        self._container = None
        self._frames: UprightFrames | None = None
        self._first_pts: int | None = None

    def _open(self, seek_pts: int | None):
        import av

        self.close()
        try:
            self._container = av.open(str(self.path))
        except (av.error.FFmpegError, OSError) as e:
            raise user_error(self.path, f"cannot be read as a video ({e})") from None
        stream = self._container.streams.video[0]
        stream.thread_type = "AUTO"
        if seek_pts is not None:
            self._container.seek(seek_pts, stream=stream, backward=True, any_frame=False)
        wanted = (f for f in self._decode(stream) if f.pts is not None and f.pts >= self.pts[0])
        first = next(wanted, None)
        self._first_pts = None if first is None else first.pts
        self._frames = UprightFrames(itertools.chain([first], wanted) if first is not None else ())
        return stream

    def _decode(self, stream) -> Iterator:
        import av

        try:
            yield from self._container.decode(stream)
        except av.error.FFmpegError as e:
            raise user_error(self.path, f"decoding failed near frame pts {self.pts[0]} ({e}): corrupt there") from None

    def setup(self) -> SourceInfo:
        stream = self._open(self.seek_pts)
        if self.seek_pts is not None and self._first_pts != self.pts[0]:
            stream = self._open(None)  # an open GOP lost its leading frames after the seek
        if self._first_pts != self.pts[0]:
            self.close()
            raise user_error(self.path, f"frame at pts {self.pts[0]} does not decode")
        width, height = self._frames.display_size(stream.codec_context.width, stream.codec_context.height)
        return SourceInfo(
            name=str(self.path),
            width=width,
            height=height,
            fps=float(stream.average_rate or stream.guessed_rate or 30),
            frame_count=len(self.pts) - self.warmup,
            time_base=stream.time_base,
            path=str(self.path),
        )

    def frames(self, stop: threading.Event) -> Iterator[FramePacket]:
        tb = self._container.streams.video[0].time_base
        index = 0
        t0 = time.perf_counter()
        for frame in self._frames:
            if stop.is_set():
                return
            if frame.pts != self.pts[index]:
                raise user_error(self.path, f"expected the frame at pts {self.pts[index]}, decoded pts {frame.pts}")
            packet = FramePacket(
                self.first_seq + index - self.warmup,
                time.perf_counter(),
                self._frames.bgr(frame),
                pts=frame.pts,
                time_base=tb,
                timings={"capture": time.perf_counter() - t0},
            )
            index += 1
            if index <= self.warmup:
                if self.warm is not None:
                    self.warm(packet)
            else:
                yield packet
            if index == len(self.pts):
                return
            t0 = time.perf_counter()
        if index < len(self.pts):
            raise user_error(self.path, f"ended after {index} of the segment's {len(self.pts)} frames")

    def close(self) -> None:
        if self._container is not None:
            self._container.close()
            self._container = None
