"""Face detection over a whole frame at every face size: the full-range detector on a pyramid of
windows.

MediaPipe's full-range detector sees a 192 px square. Measured on 42 real frames (four clips of
../shared/media), it finds a face reliably once the face is >= 14 px tall in that input (98% at
12 px, 100% from 14 px; around half below 10 px). A 1920x1080 frame shrunk whole to 192 px
therefore only yields faces of >= 140 px. So the frame is also covered by square tiles, each
shrunk to 192 px: tiles of side 192 * min_face / 14 find faces down to `min_face`, larger tiles
(doubling) cover the sizes between that and what the whole frame finds. Neighbouring tiles
overlap by a third of their side, so a face up to that size lies whole inside at least one.
Detections from all windows are merged (the best-scoring box of a face wins).

A scan can be spread over frames (`budget`: tiles per call, besides the whole frame) so that live
video never pays for all tiles at once.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np
from swapstream.engine.face.landmarks import Detection, FaceDetector

DETECTOR_INPUT = 192  # px, side of the full-range detector's input
MIN_FACE_IN_INPUT = 14  # px tall in that input: found reliably (measured, see above)
TILE_OVERLAP = 1 / 3  # of the tile side


@dataclass(frozen=True)
class Window:
    """A rectangle of the frame, in integer pixels."""

    x: int
    y: int
    w: int
    h: int


def _positions(length: int, side: int, overlap: int) -> list[int]:
    """Start offsets of tiles of `side` covering [0, length) with at least `overlap` in common."""
    if side >= length:
        return [0]
    n = math.ceil((length - overlap) / (side - overlap))
    return [round(i * (length - side) / (n - 1)) for i in range(n)] if n > 1 else [0]


def scan_windows(width: int, height: int, min_face_px: float) -> list[Window]:
    """The whole frame first, then tiles from the smallest (finest faces) to the largest."""
    windows = [Window(0, 0, width, height)]
    longest = max(width, height)
    side = max(DETECTOR_INPUT, math.floor(DETECTOR_INPUT * min_face_px / MIN_FACE_IN_INPUT))
    # The whole frame finds faces down to longest * 14 / 192; tiles only where they see smaller ones.
    while side * 1.5 < longest:
        overlap = round(side * TILE_OVERLAP)
        for y in _positions(height, side, overlap):
            for x in _positions(width, side, overlap):
                windows.append(Window(x, y, min(side, width), min(side, height)))
        side *= 2
    return windows


def _iou(a: tuple, b: tuple) -> float:
    ax, ay, aw, ah = a
    bx, by, bw, bh = b
    ix = max(0.0, min(ax + aw, bx + bw) - max(ax, bx))
    iy = max(0.0, min(ay + ah, by + bh) - max(ay, by))
    inter = ix * iy
    return inter / max(aw * ah + bw * bh - inter, 1e-9)


def _inside(point: tuple[float, float], box: tuple) -> bool:
    x, y, w, h = box
    return x <= point[0] <= x + w and y <= point[1] <= y + h


def merge_detections(dets: list[Detection], max_iou: float = 0.3) -> list[Detection]:
    """Best score first; drop a box that overlaps a kept one or has its centre inside it (the same
    face seen by two windows, or cut by a tile edge)."""
    kept: list[Detection] = []
    for d in sorted(dets, key=lambda d: -d.score):
        x, y, w, h = d.box
        centre = (x + w / 2, y + h / 2)
        if all(_iou(d.box, k.box) <= max_iou and not _inside(centre, k.box) for k in kept):
            kept.append(d)
    return kept


class FaceScanner:
    """Full-range detection over the whole frame and its tiles (see the module docstring)."""

    def __init__(self, min_face_px: float = 40.0, min_score: float = 0.5):
        self.min_face_px = min_face_px
        self._detector = FaceDetector("full", min_score)
        self._windows: list[Window] = []
        self._shape: tuple[int, int] | None = None
        self._cursor = 0  # next tile when a scan is spread over frames

    def windows(self, width: int, height: int) -> list[Window]:
        if self._shape != (width, height):
            self._shape, self._cursor = (width, height), 0
            self._windows = scan_windows(width, height, self.min_face_px)
        return self._windows

    def _detect_window(self, frame_bgr: np.ndarray, win: Window) -> list[Detection]:
        part = frame_bgr[win.y : win.y + win.h, win.x : win.x + win.w]
        scale = max(win.w, win.h) / DETECTOR_INPUT
        if scale > 1:
            size = (max(1, round(win.w / scale)), max(1, round(win.h / scale)))
            part = cv2.resize(part, size, interpolation=cv2.INTER_AREA)
            scale = win.w / size[0]
        else:
            scale = 1.0
        rgb = cv2.cvtColor(part, cv2.COLOR_BGR2RGB)
        return self._detector.detect_rgb(rgb, origin=(float(win.x), float(win.y)), scale=scale)

    def scan(self, frame_bgr: np.ndarray, budget: int | None = None) -> list[Detection]:
        """Merged detections of the whole frame plus `budget` tiles (None: every tile)."""
        h, w = frame_bgr.shape[:2]
        windows = self.windows(w, h)
        tiles = windows[1:]
        if budget is None or budget >= len(tiles):
            chosen = tiles
        else:
            chosen = [tiles[(self._cursor + i) % len(tiles)] for i in range(budget)]
            self._cursor = (self._cursor + budget) % len(tiles)
        found: list[Detection] = []
        for win in [windows[0], *chosen]:
            found.extend(self._detect_window(frame_bgr, win))
        return merge_detections(found)

    def close(self) -> None:
        self._detector.close()
