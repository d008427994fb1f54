"""The studio's sources: a video file that plays in real time and starts over at its end
(standing in for a camera), the switching source that lets the page change cameras and files
without a restart, and the catalog of what the page may switch to.

Packets are renumbered across loops and switches (seq keeps increasing) and carry no file pts,
so the landmark smoother sees increasing times and recordings are timed by capture time.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

from swapstream.common.pipeline_contract import FramePacket, Source, SourceInfo
from swapstream.studio.rtc_media import BROWSER_SOURCE


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


class SwitchingSource(Source):
    """The studio's source: another camera or file takes over between two frames, no restart.

    `switch(source, name)` opens the new source on the caller's thread (a camera that cannot be
    opened or a broken file raises there: the change is refused and the stream goes on); the
    capture thread adopts it after the frame it is delivering and closes the old one. Sequence
    numbers keep increasing across switches; pts are dropped (the new source's would start over),
    so timing follows the capture clock. `info` is the current source's SourceInfo.
    """

    def __init__(self, first: Source, name: str):
        self._current = first
        self.current_name = name
        self._next: tuple[Source, SourceInfo, str] | None = None
        self._lock = threading.Lock()
        self.info: SourceInfo | None = None
        self.switches = 0

    def setup(self) -> SourceInfo:
        self.info = self._current.setup()
        return self.info

    def switch(self, source: Source, name: str) -> SourceInfo:
        info = source.setup()
        with self._lock:
            stale, self._next = self._next, (source, info, name)
        if stale is not None:  # offered but never adopted (two switches within one frame)
            stale[0].close()
        return info

    def frames(self, stop: threading.Event) -> Iterator[FramePacket]:
        seq = 0
        while not stop.is_set():
            it = self._current.frames(stop)
            try:
                for packet in it:
                    packet.seq, packet.pts, packet.time_base = seq, None, None
                    seq += 1
                    yield packet
                    if self._next is not None:
                        break
                else:
                    if self._next is None:
                        return  # the source ended (a file played --once)
            finally:
                it.close()
            with self._lock:
                (new, info, name), self._next = self._next, None
            self._current.close()
            self._current, self.info, self.current_name = new, info, name
            self.switches += 1

    def close(self) -> None:
        with self._lock:
            pending, self._next = self._next, None
        if pending is not None:
            pending[0].close()
        self._current.close()


VIDEO_SUFFIXES = (".mp4", ".mov", ".m4v", ".mkv", ".avi", ".webm")
MAX_CAMERA_INDEX = 63


class SourceCatalog:
    """What the page may switch to: cameras (an index, or a /dev/videoN that exists) and the video
    files directly inside `media_dir`, by name only. Any other path, a URL, or a name that
    resolves outside the folder is refused, so the page cannot make the server open another file.

    open_camera(spec) / open_file(path) / open_browser() -> a Source that is not set up yet
    (open_browser: the page's own camera, named BROWSER_SOURCE; None: not offered).
    """

    def __init__(self, media_dir: Path | None, open_camera, open_file, open_browser=None):
        self.root = Path(media_dir).resolve() if media_dir is not None else None
        self._open_camera, self._open_file, self._open_browser = open_camera, open_file, open_browser

    def names(self) -> list[str]:
        cameras = sorted(str(p) for p in Path("/dev").glob("video*") if p.name[5:].isdigit())
        files = []
        if self.root is not None and self.root.is_dir():
            files = sorted(p.name for p in self.root.iterdir() if self._is_video(p))
        return ([BROWSER_SOURCE] if self._open_browser is not None else []) + cameras + files

    def _is_video(self, path: Path) -> bool:
        if path.name.startswith(".") or path.suffix.lower() not in VIDEO_SUFFIXES:
            return False
        try:
            resolved = path.resolve(strict=True)
        except OSError:
            return False
        return resolved.parent == self.root and resolved.is_file()

    def name_of(self, spec: str) -> str:
        """The catalog's name for a --source: a file in the media folder by its name, else as is."""
        path = Path(spec)
        if self.root is not None and not spec.isdigit() and "://" not in spec and self._is_video(path):
            return path.name if path.resolve().parent == self.root else spec
        return spec

    def open(self, name: str) -> Source:
        """A Source for `name`, or ControlError saying what is accepted."""
        from swapstream.engine.pipeline.controls import ControlError

        if name == BROWSER_SOURCE and self._open_browser is not None:
            return self._open_browser()
        if name.isdigit() and int(name) <= MAX_CAMERA_INDEX:
            return self._open_camera(name)
        if name.startswith("/dev/video") and name[10:].isdigit() and Path(name).exists():
            return self._open_camera(name)
        bad = not name or "/" in name or "\\" in name or "\x00" in name
        if bad or self.root is None or not self._is_video(self.root / name):
            listed = ", ".join(self.names()) or "none found"
            raise ControlError(f"source must be a camera index, /dev/videoN or a video in the media folder ({listed})")
        return self._open_file(self.root / name)
