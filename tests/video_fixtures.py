"""Reading test outputs back: decoded frames and audio duration (PyAV)."""

from __future__ import annotations

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
