"""The target's own faces at the nearest pose and expression, brought onto another face's shape.

A faceset is aligned to the same template as the engine's crops, so a target face whose yaw,
pitch, eye and mouth opening match a driving face's already lies almost where the swap lies in
the crop; `landmark_warp` moves it the rest of the way, smoothly, so its lids, brows and nostrils
sit on the driver's. Both `swapstream eval` (whose fine structure does a swap show?) and the
blend's target detail (engine.image.target_detail) use these, so they agree on what "the
target's face here" is.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence

import cv2
import numpy as np
from swapstream.engine.quality.expression import eye_openness, mouth_openness

# Units of the match: a difference of one unit in any feature counts the same.
POSE_UNIT_DEG = 6.0
EYE_UNIT = 0.03  # eye openness (lid gap / outer eye-corner distance): open ~0.10, shut ~0.02
MOUTH_UNIT = 0.05  # mouth openness: closed ~0, wide ~0.5
WARP_GRID = 32  # cells a side of the displacement field
WARP_SIGMA_CELLS = 1.2  # its smoothing, in cells


def match_features(landmarks: np.ndarray, yaw: float, pitch: float) -> np.ndarray:
    """float64 (4,): yaw, pitch, eye and mouth opening of one face in match units. landmarks:
    (478, 2|3) in any pixel unit; yaw, pitch in degrees (engine.face.pose)."""
    return np.array(
        [
            yaw / POSE_UNIT_DEG,
            pitch / POSE_UNIT_DEG,
            eye_openness(landmarks) / EYE_UNIT,
            mouth_openness(landmarks) / MOUTH_UNIT,
        ]
    )


def faceset_features(records: Sequence) -> np.ndarray:
    """float64 (N, 4): match_features of every FaceRecord (crop landmarks, stored yaw/pitch)."""
    return np.array([match_features(r.landmarks, r.yaw, r.pitch) for r in records]).reshape(-1, 4)


def nearest(features: np.ndarray, query: np.ndarray, k: int = 1) -> np.ndarray:
    """int (min(k, N),): rows of features (N, 4) nearest query (4,), nearest first."""
    d = np.linalg.norm(features - query[None, :], axis=1)
    k = min(k, len(d))
    idx = np.argpartition(d, k - 1)[:k]
    return idx[np.argsort(d[idx], kind="stable")]


class StickyChoice:
    """Per tracked face, the row nearest a query, kept while its distance stays within
    `hysteresis` x the nearest's + `slack`, so a choice (the detail bank's face, the mouth's) does
    not hop between neighbours frame to frame. Remembers the `tracks` most recent tracks; an
    untracked face (track < 0) gets the nearest and is not remembered."""

    def __init__(self, hysteresis: float = 1.3, slack: float = 0.25, tracks: int = 16):
        self.hysteresis, self.slack, self.tracks = hysteresis, slack, tracks
        self._kept: OrderedDict[int, int] = OrderedDict()

    def pick(self, track: int, distances: np.ndarray) -> int:
        """The row for this track's face, given every row's distance (N,) from it."""
        best = int(np.argmin(distances))
        if track < 0:
            return best
        kept = self._kept.get(track)
        if kept is not None and distances[kept] <= self.hysteresis * distances[best] + self.slack:
            best = kept
        self._kept[track] = best
        self._kept.move_to_end(track)
        if len(self._kept) > self.tracks:
            self._kept.popitem(last=False)
        return best


def spread_subset(features: np.ndarray, count: int) -> np.ndarray:
    """int (min(count, N),): rows chosen farthest-point first (from the most frontal, neutral
    face), so a few faces cover every pose and expression the faceset holds."""
    n = len(features)
    if n <= count:
        return np.arange(n)
    chosen = [int(np.argmin(np.linalg.norm(features, axis=1)))]
    dist = np.linalg.norm(features - features[chosen[0]], axis=1)
    while len(chosen) < count:
        nxt = int(np.argmax(dist))
        chosen.append(nxt)
        dist = np.minimum(dist, np.linalg.norm(features - features[nxt], axis=1))
    return np.sort(np.array(chosen))


def landmark_maps(
    src_points: np.ndarray, dst_points: np.ndarray, size: int, box: tuple[int, int, int, int] | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """(map_x, map_y), float32 (size, size) each, for cv2.remap: where each pixel of a (size, size)
    image reads so that src_points (N, 2) land on dst_points (N, 2). landmark_warp's field. With
    box (x0, y0, x1, y1), only the maps over it, (y1 - y0, x1 - x0): the same values, since the
    field is enlarged from the cells around the box alone when size is a multiple of WARP_GRID
    (the bilinear weights repeat every cell; the cell beyond each side keeps the edge exact)."""
    src = np.asarray(src_points, np.float64)[:, :2]
    dst = np.asarray(dst_points, np.float64)[:, :2]
    shift = (src - dst).astype(np.float32)  # where to read, relative to where to write
    cell = size / WARP_GRID
    gx = np.clip(np.floor(dst[:, 0] / cell).astype(int), 0, WARP_GRID - 1)
    gy = np.clip(np.floor(dst[:, 1] / cell).astype(int), 0, WARP_GRID - 1)
    cells, n = gy * WARP_GRID + gx, WARP_GRID * WARP_GRID
    sums = [np.bincount(cells, shift[:, i], n) for i in (0, 1)]  # np.add.at, 7x faster
    num = np.stack(sums, axis=-1).astype(np.float32).reshape(WARP_GRID, WARP_GRID, 2)
    den = np.bincount(cells, None, n).astype(np.float32).reshape(WARP_GRID, WARP_GRID)
    num = cv2.GaussianBlur(num, (0, 0), WARP_SIGMA_CELLS, borderType=cv2.BORDER_REPLICATE)
    den = cv2.GaussianBlur(den, (0, 0), WARP_SIGMA_CELLS, borderType=cv2.BORDER_REPLICATE)
    floor = np.float32(0.05)  # below this weight the field fades to the mean displacement
    field = (num + floor * shift.mean(0)) / (den + floor)[..., None]
    x0, y0, x1, y1 = box or (0, 0, size, size)
    step = size // WARP_GRID
    if box is None or size % WARP_GRID:
        field = cv2.resize(field, (size, size), interpolation=cv2.INTER_LINEAR)[y0:y1, x0:x1]
    else:
        cx0, cy0 = max(x0 // step - 1, 0), max(y0 // step - 1, 0)
        cx1, cy1 = min(-(-x1 // step) + 1, WARP_GRID), min(-(-y1 // step) + 1, WARP_GRID)
        part = cv2.resize(
            field[cy0:cy1, cx0:cx1], ((cx1 - cx0) * step, (cy1 - cy0) * step), interpolation=cv2.INTER_LINEAR
        )
        field = part[y0 - cy0 * step : y1 - cy0 * step, x0 - cx0 * step : x1 - cx0 * step]
    xs, ys = np.arange(x0, x1, dtype=np.float32), np.arange(y0, y1, dtype=np.float32)
    return field[..., 0] + xs[None, :], field[..., 1] + ys[:, None]


def landmark_warp(image: np.ndarray, src_points: np.ndarray, dst_points: np.ndarray) -> np.ndarray:
    """image (R, R[, C]) resampled (bicubic, edge replicated) so that src_points (N, 2) in it land
    on dst_points (N, 2): a smooth displacement field, the landmarks' displacements spread over a
    WARP_GRID grid by normalised Gaussian convolution (a bend of a few pixels between
    neighbouring landmarks, no tearing), the mean displacement where no landmark lies near."""
    map_x, map_y = landmark_maps(src_points, dst_points, image.shape[0])
    return cv2.remap(image, map_x, map_y, interpolation=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REPLICATE)
