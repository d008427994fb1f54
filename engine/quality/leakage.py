"""Whose fine structure does the swapped face show, the driver's or the target's? And how sharp
is it by itself?

Per measured frame, the driving and the swapped frame are aligned with the driving face's
landmarks into a crop of the target faceset's own size and face type (the swap lies on the
driver's geometry). In that crop the fine structure is the grey image's high-pass band (minus a
Gaussian blur of sigma BAND_SIGMA x the crop side: at 256 px, detail under about 4 px, what a
64 px model grid cannot hold). The target's own faces at the nearest pose and expression
(engine.face.neighbours: yaw, pitch, eye and mouth opening) are warped onto the driver's
landmarks and give the target's band in the same place.

Per part (eyes, brows, nose, mouth, skin; engine.face.regions) the swapped band is correlated
with the driver's and with the target's (the best of the NEIGHBOURS nearest faces, since one
face of the faceset never matches a frame exactly): the frame counts as nearer-to-target when
r_target > r_driver. A swap that pastes the driver's lashes and brows reads nearer-to-driver
there however sharp it is; a blurred swap correlates with neither.

Own sharpness: the swapped band's energy left after removing, part by part, its projection onto
the driver's band (what the driver's pixels explain), over the target's own band energy at the
same scale, summed over frames. The driver's detail cannot raise it; a copy of the driver reads 0, the
target's own faces about 1, a blurred face near 0.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

import cv2
import numpy as np
from swapstream.engine.face.align import alignment_matrix, transform_points, warp_face
from swapstream.engine.face.neighbours import faceset_features, landmark_warp, match_features, nearest
from swapstream.engine.face.regions import FACE_PARTS, part_masks

from swapstream.common.faceset import Faceset

BAND_SIGMA = 1.0 / 128  # of the crop side
NEIGHBOURS = 3
IDENTITY_PARTS = ("eyes", "brows", "nose")  # the parts that carry a person's look; the target
_CACHE_FACES = 96  # target faces kept decoded (grey float32)


def band(grey: np.ndarray, sigma: float) -> np.ndarray:
    """float32 (H, W): grey minus its Gaussian blur (reflected border)."""
    return grey - cv2.GaussianBlur(grey, (0, 0), sigma, borderType=cv2.BORDER_REFLECT)


def _grey(bgr: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY).astype(np.float32)


def _pearson(a: np.ndarray, b: np.ndarray) -> float:
    a, b = a - a.mean(), b - b.mean()
    den = float(np.sqrt(np.dot(a, a) * np.dot(b, b)))
    return float(np.dot(a, b) / den) if den > 1e-9 else 0.0


@dataclass(frozen=True)
class FrameLeakage:
    """One frame: per part r(swapped, driver) and r(swapped, target); band energies (grey
    levels^2 per pixel) over the parts together: the swap's, the swap's after removing what the
    driver's band explains, the target's."""

    r_driver: dict[str, float]
    r_target: dict[str, float]
    energy_swapped: float
    energy_own: float
    energy_target: float


class LeakageMeter:
    """Measures frames against one target faceset (read lazily, a bounded cache of faces)."""

    def __init__(self, faceset: Faceset, neighbours: int = NEIGHBOURS):
        self.faceset = faceset
        self.size = faceset.size
        self.sigma = BAND_SIGMA * faceset.size
        self.neighbours = neighbours
        self.features = faceset_features(faceset.faces)
        self._cache: OrderedDict[int, np.ndarray] = OrderedDict()

    def _target_grey(self, i: int) -> np.ndarray:
        if i in self._cache:
            self._cache.move_to_end(i)
            return self._cache[i]
        grey = _grey(self.faceset.image(i))
        if grey.shape[0] != self.size:
            grey = cv2.resize(grey, (self.size, self.size), interpolation=cv2.INTER_AREA)
        self._cache[i] = grey
        if len(self._cache) > _CACHE_FACES:
            self._cache.popitem(last=False)
        return grey

    def target_bands(self, crop_points: np.ndarray, yaw: float, pitch: float) -> list[np.ndarray]:
        """The band of each of the nearest target faces warped onto crop_points ((478, 2) crop px)."""
        out = []
        for i in nearest(self.features, match_features(crop_points, yaw, pitch), self.neighbours):
            warped = landmark_warp(self._target_grey(int(i)), self.faceset.faces[i].landmarks, crop_points)
            out.append(band(warped, self.sigma))
        return out

    def measure(
        self, driving: np.ndarray, swapped: np.ndarray, landmarks: np.ndarray, yaw: float, pitch: float
    ) -> FrameLeakage:
        """driving, swapped: BGR uint8 frames (H, W, 3); landmarks: the driving face's (478, 2|3)
        frame pixels; yaw, pitch: its pose in degrees."""
        m = alignment_matrix(landmarks, self.faceset.face_type, self.size)
        pts = transform_points(landmarks, m)
        d = band(_grey(warp_face(driving, m, self.size)), self.sigma)
        s = band(_grey(warp_face(swapped, m, self.size)), self.sigma)
        targets = self.target_bands(pts, yaw, pitch)
        masks = part_masks(pts, self.size)
        r_driver, r_target = {}, {}
        own = swapped_energy = target_energy = 0.0
        for part in FACE_PARTS:
            sel = masks[part]
            if not sel.any():
                r_driver[part] = r_target[part] = float("nan")
                continue
            sv, dv = s[sel], d[sel]
            r_driver[part] = _pearson(sv, dv)
            r_target[part] = max(_pearson(sv, t[sel]) for t in targets)
            # Per part, since the driver's band may be laid on with a weight that differs by part.
            beta = max(float(np.dot(sv, dv)) / max(float(np.dot(dv, dv)), 1e-9), 0.0)
            own += float(np.sum(np.square(sv - beta * dv)))
            swapped_energy += float(np.dot(sv, sv))
            target_energy += float(np.mean([np.sum(np.square(t[sel])) for t in targets]))
        n = max(sum(int(mask.sum()) for mask in masks.values()), 1)
        return FrameLeakage(r_driver, r_target, swapped_energy / n, own / n, target_energy / n)


@dataclass(frozen=True)
class PartLeakage:
    """One part over the frames measured: share of frames whose swapped band is nearer the
    target's than the driver's (r_target > r_driver), and the mean correlations."""

    share_nearer_target: float
    r_driver: float
    r_target: float


@dataclass(frozen=True)
class LeakageResult:
    """own_sharpness = sum of own energy / sum of target energy; energy_vs_target the same with
    the swap's whole band (the driver's detail counts there). None: no frame measured."""

    frames_compared: int
    parts: dict[str, PartLeakage]
    own_sharpness: float | None
    energy_vs_target: float | None
    crop_size: int
    band_sigma_px: float
    neighbours: int


def summarize_leakage(frames: list[FrameLeakage], crop_size: int, sigma: float, neighbours: int) -> LeakageResult:
    parts = {}
    for part in FACE_PARTS:
        rd = np.array([f.r_driver[part] for f in frames], np.float64)
        rt = np.array([f.r_target[part] for f in frames], np.float64)
        ok = np.isfinite(rd) & np.isfinite(rt)
        if ok.any():
            parts[part] = PartLeakage(float(np.mean(rt[ok] > rd[ok])), float(rd[ok].mean()), float(rt[ok].mean()))
    target = sum(f.energy_target for f in frames)
    return LeakageResult(
        frames_compared=len(frames),
        parts=parts,
        own_sharpness=sum(f.energy_own for f in frames) / target if target > 1e-9 else None,
        energy_vs_target=sum(f.energy_swapped for f in frames) / target if target > 1e-9 else None,
        crop_size=crop_size,
        band_sigma_px=sigma,
        neighbours=neighbours,
    )
