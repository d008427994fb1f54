"""What the target's own mouth and eyes (engine.image.target_mouth, target_eyes) share: the target's
faces they are taken from, the feathered region a part is laid over, and the laying itself: a
bank face bent onto the driver's landmarks over the region's box, its colour scaled to the
render's skin in a ring around the part, blended in by a weight.

Crops are uint8 BGR (S, S, 3); landmarks (478, 2|3) crop pixels at S.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from swapstream.engine.face.neighbours import faceset_features, landmark_maps, match_features, spread_subset

from swapstream.common.faceset import Faceset

TARGET_FACES = 256  # faces of the target's the parts are chosen from (spread over its poses and expressions)
SKIN_ALPHA = 230  # the colour ring is read where the blend mask is at least this (0.9 of opaque), not the feather
MIN_RING_PIXELS = 16
Box = tuple[int, int, int, int]  # (x0, y0, x1, y1), half-open pixels


@dataclass(frozen=True)
class TargetFaces:
    """images: uint8 (N, S, S, 3) BGR crops; landmarks: float32 (N, 478, 2) crop px; features:
    float64 (N, 4) match features (engine.face.neighbours)."""

    images: np.ndarray
    landmarks: np.ndarray
    features: np.ndarray


def target_faces(images, landmarks, poses) -> TargetFaces:
    """TargetFaces of crops (sequence of (S, S, 3)), their landmarks (sequence of (478, 2+)) and
    poses (sequence of (yaw, pitch) degrees)."""
    points = np.stack([np.asarray(p, np.float32)[:, :2] for p in landmarks])
    features = np.array([match_features(p, *pose) for p, pose in zip(points, poses)]).reshape(-1, 4)
    return TargetFaces(np.stack(images), points, features)


def load_target_faces(path: Path, count: int = TARGET_FACES) -> TargetFaces:
    """Up to `count` faces of the faceset at `path`, spread over its poses and expressions."""
    fs = Faceset.open(path)
    features = faceset_features(fs.faces)
    keep = spread_subset(features, count)
    images = np.stack([fs.image(int(i)) for i in keep])
    landmarks = np.stack([fs.faces[int(i)].landmarks[:, :2] for i in keep]).astype(np.float32)
    return TargetFaces(images, landmarks, features[keep])


def part_region(
    outline: np.ndarray, width: float, grow: float, ring_grow: tuple[float, float], size: int, convex: bool = False
) -> tuple[np.ndarray | None, np.ndarray, Box]:
    """(weight, ring, box) of a part drawn as the polygon outline ((K, 2) crop px) in a (size, size)
    crop: weight float32 over box, 1 within `grow` px of the polygon (inside it too) and easing to
    0 at twice that; ring, bool over box, the pixels between ring_grow[0] and ring_grow[1] x width
    from it. From one distance transform of the box (a dilation by a kernel that wide took 8 ms).
    weight None when the part is under 2 px wide or outside the crop. convex: the outline is a
    convex hull, drawn with OpenCV's convex fill (its edge pixels differ from the general fill's)."""
    outline = np.asarray(outline, np.float32)
    reach = max(2 * grow, ring_grow[1] * width) + 1
    x0, y0 = (max(int(v), 0) for v in np.floor(outline.min(axis=0) - reach))
    x1, y1 = (min(int(v), size) for v in np.ceil(outline.max(axis=0) + reach))
    if width < 2 or x1 <= x0 or y1 <= y0:
        return None, np.zeros((0, 0), bool), (0, 0, 0, 0)
    outside = np.full((y1 - y0, x1 - x0), 255, np.uint8)
    corners = np.round((outline - (x0, y0)) * 16).astype(np.int32)
    if convex:
        cv2.fillConvexPoly(outside, corners, 0, shift=4)
    else:
        cv2.fillPoly(outside, [corners], 0, shift=4)
    dist = cv2.distanceTransform(outside, cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
    t = np.clip((2 * grow - dist) / grow, 0.0, 1.0)
    weight = t * t * (3 - 2 * t)  # smoothstep: no crease at either end of the feather
    ring = (dist >= ring_grow[0] * width) & (dist <= ring_grow[1] * width)
    return weight, ring, (x0, y0, x1, y1)


@dataclass
class Laying:
    """One part of one bank face bent onto the driver's landmarks, ready to lay: mine and theirs
    float32 (h, w, 3) BGR over box, theirs already colour-matched to mine; region its weight."""

    box: Box
    region: np.ndarray
    mine: np.ndarray
    theirs: np.ndarray

    def lay(self, crop: np.ndarray, weight: float) -> None:
        """crop over box = mine + weight x region x (theirs - mine), rounded and saturated."""
        x0, y0, x1, y1 = self.box
        w = (weight * self.region)[..., None]
        crop[y0:y1, x0:x1] = np.clip(self.mine + w * (self.theirs - self.mine) + 0.5, 0, 255).astype(np.uint8)


def bent_part(
    faces: TargetFaces, i: int, crop: np.ndarray, points: np.ndarray, alpha: np.ndarray, region_ring_box
) -> tuple[Laying, np.ndarray] | None:
    """(Laying, theirs before the colour match) of bank face i bent onto points ((478, 2) crop px)
    over the box of region_ring_box (part_region's), its colour scaled per channel so its skin
    ring's median is the render's (crop's); alpha: uint8 (S, S) the blend mask x 255. None when
    the part has no region or too little opaque skin around it to match."""
    region, ring, box = region_ring_box
    if region is None:
        return None
    x0, y0, x1, y1 = box
    ring &= alpha[y0:y1, x0:x1] >= SKIN_ALPHA
    if np.count_nonzero(ring) < MIN_RING_PIXELS:
        return None
    map_x, map_y = landmark_maps(faces.landmarks[i], points, crop.shape[0], box)
    flags = {"interpolation": cv2.INTER_CUBIC, "borderMode": cv2.BORDER_REPLICATE}
    raw = cv2.remap(faces.images[i], map_x, map_y, **flags).astype(np.float32)
    mine = crop[y0:y1, x0:x1].astype(np.float32)
    gain = np.median(mine[ring], axis=0) / np.maximum(np.median(raw[ring], axis=0), 1.0)
    return Laying(box, region, mine, raw * gain), raw
