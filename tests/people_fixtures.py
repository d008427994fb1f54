"""Two people in one video, composited from two clips side by side (for --reference).

A clip is a person of tests/photo_fixtures.py ("astronaut", "hopper": rendered, no media needed) or
a clip of ../shared/media ("d18.mp4", ...: benchmarks/reference_people.py uses those). Person A
is the left clip, B the right one. Variants: `swap_at` (from that frame on they change
places, a hard cut: the face tracks stay where they were while the people under them change) and
`away` (A's half shows an empty grey wall for those frames, then A comes back).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
from conftest import media
from photo_fixtures import PEOPLE, face_frames

WALL = 128  # grey of the empty half while A is away


@dataclass(frozen=True)
class TwoPeople:
    """frames: uint8 (H, 2W, 3) BGR; a_side[i]: where A is in frame i ('left', 'right', None: away)."""

    frames: list[np.ndarray]
    a_side: list[str | None]


def _clip(name: str, start: int, n: int, side: int) -> list[np.ndarray]:
    if name in PEOPLE:
        return face_frames(name, n, side=side, first=start)
    cap = cv2.VideoCapture(str(media(name)))
    cap.set(cv2.CAP_PROP_POS_FRAMES, start)
    out = []
    while len(out) < n:
        ok, frame = cap.read()
        assert ok, f"{name} ended before {start + n} frames"
        out.append(cv2.resize(frame, (side, side), interpolation=cv2.INTER_AREA))
    cap.release()
    return out


def two_people(
    a: str, b: str, n: int, side: int = 240, start: int = 0, swap_at: int | None = None, away=None
) -> TwoPeople:
    """n frames of clips a | b (each resized to side x side) with the variants described above."""
    fa, fb = _clip(a, start, n, side), _clip(b, start, n, side)
    frames, where = [], []
    for i in range(n):
        left, right, a_side = fa[i], fb[i], "left"
        if swap_at is not None and i >= swap_at:
            left, right, a_side = fb[i], fa[i], "right"
        if away is not None and away[0] <= i < away[1]:
            wall = np.full_like(fa[i], WALL)
            left, right = (wall, right) if a_side == "left" else (left, wall)
            a_side = None
        frames.append(np.ascontiguousarray(np.hstack([left, right])))
        where.append(a_side)
    return TwoPeople(frames, where)


def photo(name: str, index: int, side: int = 240) -> np.ndarray:
    """One frame of a clip (outside the composited frames, so the reference is not a test frame)."""
    return _clip(name, index, 1, side)[0]


def side_of(landmarks: np.ndarray, width: int) -> str:
    return "left" if float(landmarks[:, 0].mean()) < width / 2 else "right"
