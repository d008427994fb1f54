"""A video file that plays in real time and starts over at its end, standing in for a camera.

Packets are renumbered across loops (seq keeps increasing) and carry no file pts, so the
landmark smoother sees increasing times and recordings are timed by capture time.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

from swapstream.common.pipeline_contract import FramePacket, Source, SourceInfo


class LoopingFileSource(Source):
    """loop=False plays the file once (then the studio ends); max_frames > 0 stops after that many."""

    def __init__(self, path: Path, loop: bool = True, max_frames: int = 0):
        self.path = Path(path)
        self.loop = loop
        self.max_frames = max_frames
        self._current = None

    def _open(self):
        from swapstream.engine.stages.capture import VideoFileSource

        src = VideoFileSource(self.path, realtime=True)
        info = src.setup()
        return src, info

    def setup(self) -> SourceInfo:
        self._current, info = self._open()
        return SourceInfo(info.name, info.width, info.height, info.fps, 0, None, None, realtime=True)

    def frames(self, stop: threading.Event) -> Iterator[FramePacket]:
        seq = 0
        while not stop.is_set():
            if self._current is None:
                self._current, _ = self._open()
            got = 0
            for packet in self._current.frames(stop):
                packet.seq, packet.pts, packet.time_base = seq, None, None
                yield packet
                seq += 1
                got += 1
                if self.max_frames and seq >= self.max_frames:
                    return
            self._current.close()
            self._current = None
            if not self.loop or got == 0:
                return

    def close(self) -> None:
        if self._current is not None:
            self._current.close()
            self._current = None
