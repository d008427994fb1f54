"""Reading test outputs back: decoded frames and audio duration (PyAV)."""

from __future__ import annotations

from collections.abc import Callable
from fractions import Fraction
from pathlib import Path

import av
import numpy as np


def decode(path: Path) -> list[np.ndarray]:
    with av.open(str(path)) as c:
        return [np.ascontiguousarray(f.to_ndarray(format="bgr24")) for f in c.decode(video=0)]


def audio_seconds(path: Path) -> float:
    with av.open(str(path)) as c:
        s = c.streams.audio[0]
        end = max(p.pts + p.duration for p in c.demux(s) if p.pts is not None)
        return float(end * s.time_base)


def cut_with_audio(
    src: Path,
    dst_path: Path,
    frames: int,
    first: int = 0,
    options: dict[str, str] | None = None,
    edit: Callable[[int, np.ndarray], np.ndarray] | None = None,
) -> Path:
    """FRAMES frames of SRC from FIRST re-encoded as H.264 at 30 fps (libx264 OPTIONS), plus SRC's
    audio for the same duration. edit(i, bgr) may replace frame i (counted from FIRST)."""
    with av.open(str(src)) as inp, av.open(str(dst_path), "w") as dst:
        vin, ain = inp.streams.video[0], inp.streams.audio[0]
        v = dst.add_stream("libx264", rate=30)
        v.width, v.height, v.pix_fmt = vin.width, vin.height, "yuv420p"
        v.options = options or {}
        a = dst.add_stream_from_template(ain)
        for i, frame in enumerate(inp.decode(vin)):
            if i == first + frames:
                break
            if i < first:
                continue
            img = frame.to_ndarray(format="bgr24")
            if edit is not None:
                img = edit(i - first, img)
            f = av.VideoFrame.from_ndarray(img, format="bgr24")
            f.pts, f.time_base = i - first, Fraction(1, 30)
            for p in v.encode(f):
                dst.mux(p)
        for p in v.encode(None):
            dst.mux(p)
        inp.seek(0)
        for p in inp.demux(ain):
            if p.pts is not None and p.pts * ain.time_base < Fraction(frames, 30):
                p.stream = a
                dst.mux(p)
    return dst_path
