"""Demo inputs made from public-domain portraits that ship inside dependencies.

A: skimage's astronaut.png (NASA portrait of Eileen Collins). B: matplotlib's grace_hopper.jpg
(US Navy portrait of Grace Hopper). A "driving clip" is a photo moved the way a head moves in
front of a webcam: slow rotations, zoom, drift and changes of light, each a sum of sinusoids.
"""

from __future__ import annotations

import math
from pathlib import Path

import cv2
import numpy as np

from swapstream.common.choices import SYNTHETIC_LABEL


def astronaut_bgr() -> np.ndarray:
    """uint8 (512, 512, 3) BGR."""
    import skimage.data

    return cv2.cvtColor(skimage.data.astronaut(), cv2.COLOR_RGB2BGR)


def grace_hopper_bgr() -> np.ndarray:
    """uint8 (600, 512, 3) BGR."""
    from matplotlib import cbook

    return cv2.imread(str(cbook.get_sample_data("grace_hopper.jpg", asfileobj=False)))


def _wave(rng: np.random.Generator, t: np.ndarray, amplitude: float) -> np.ndarray:
    """A smooth random signal: three sinusoids of 0.1-0.6 Hz with random phases."""
    out = np.zeros_like(t)
    for _ in range(3):
        out += np.sin(2 * math.pi * rng.uniform(0.1, 0.6) * t + rng.uniform(0, 2 * math.pi))
    return amplitude * out / 3.0


def motion_frames(photo: np.ndarray, n: int, fps: float = 30.0, size: int = 512, seed: int = 0, mirror: bool = False):
    """Yield n BGR uint8 (size, size, 3) frames of the photo under head-like motion and light."""
    rng = np.random.default_rng(seed)
    t = np.arange(n) / fps
    angle, zoom = _wave(rng, t, 9.0), 1.0 + _wave(rng, t, 0.06)
    dx, dy = _wave(rng, t, 18.0), _wave(rng, t, 12.0)
    gain, tint = 1.0 + _wave(rng, t, 0.12), _wave(rng, t, 8.0)
    h, w = photo.shape[:2]
    base = size / max(h, w)
    for i in range(n):
        m = cv2.getRotationMatrix2D((w / 2, h / 2), float(angle[i]), base * float(zoom[i]))
        m[:, 2] += (size / 2 - w / 2 + dx[i], size / 2 - h / 2 + dy[i])
        frame = cv2.warpAffine(photo, m, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
        if mirror and (i // 15) % 2:
            frame = np.ascontiguousarray(frame[:, ::-1])
        lit = frame.astype(np.float32) * gain[i] + np.array([tint[i], 0.0, -tint[i]], np.float32)
        yield np.clip(lit, 0, 255).astype(np.uint8)


def write_video(frames, path: Path, fps: int = 30, crf: int = 18, label: str | None = None, publish=None) -> int:
    """Write BGR frames as H.264 (yuv420p) with PyAV; returns the number of frames written.

    label: container metadata comment, e.g. SYNTHETIC_LABEL for a video holding swapped faces;
    publish(tmp, path): moves the finished file into place (swapstream.credentials signs it).
    """
    import av

    count = 0
    tmp = path.with_name(f".{path.stem}.tmp{path.suffix}")
    with av.open(str(tmp), "w") as out:
        if label:
            out.metadata["comment"] = label
            out.metadata["description"] = label
        stream = out.add_stream("libx264", rate=fps)
        stream.pix_fmt = "yuv420p"
        stream.options = {"crf": str(crf)}
        for frame in frames:
            if count == 0:
                stream.height, stream.width = frame.shape[:2]
            for packet in stream.encode(av.VideoFrame.from_ndarray(frame, format="bgr24")):
                out.mux(packet)
            count += 1
        for packet in stream.encode(None):
            out.mux(packet)
    (publish or Path.replace)(tmp, path)
    return count


def read_video(path: Path) -> list[np.ndarray]:
    """All frames of a (short) video as BGR uint8 arrays."""
    import av

    with av.open(str(path)) as c:
        return [np.ascontiguousarray(f.to_ndarray(format="bgr24")) for f in c.decode(video=0)]


def side_by_side(left: Path, right: Path, out: Path, publish=None) -> int:
    """Write the two videos next to each other, labelled (and signed by publish); returns the frame count."""
    a, b = read_video(left), read_video(right)
    frames = []
    for fa, fb in zip(a, b):
        pair = np.hstack([fa, cv2.resize(fb, (fa.shape[1], fa.shape[0]))])
        for x, label in ((10, "driving (A)"), (fa.shape[1] + 10, "swapped (A -> B)")):
            cv2.putText(pair, label, (x, 28), cv2.FONT_HERSHEY_SIMPLEX, 0.8, (255, 255, 255), 2, cv2.LINE_AA)
        frames.append(pair)
    return write_video(frames, out, label=SYNTHETIC_LABEL, publish=publish)
