"""Sharpness of swapped videos inside the part of the face that every face type renders (issue #12).

Usage: python benchmarks/sharpness_features.py DRIVING SWAPPED [SWAPPED ...] [--every 4]

`swapstream eval`'s sharpness ratio covers the whole inner face, forehead included. A model of a
tighter face type (full, mid) leaves part of that region to the driving frame, whose own pixels
score a ratio of 1 there, so its figure is not only the model's. This measures the same
high-frequency energy ratio (engine/quality/sharpness.py) inside the convex hull of the eye and
lip contours (eyes, nose, mouth and the cheeks between them), which every face type renders, on
the driving frame's FaceMesh landmarks. The videos must be frame-aligned (convert keeps frames).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import cv2
import numpy as np
from swapstream.engine.face.landmarks import FaceMesh
from swapstream.engine.quality.sharpness import high_frequency_energy, inner_face_region, summarize_sharpness
from swapstream.trainer.data import LEFT_EYE, LIPS, RIGHT_EYE

FEATURES = LEFT_EYE + RIGHT_EYE + LIPS


def features_region(landmarks: np.ndarray, frame_shape: tuple[int, ...]) -> np.ndarray:
    """bool (H, W): hull of the eye and lip contours, within eval's inner face region."""
    region = np.zeros(frame_shape[:2], np.uint8)
    pts = np.round(np.asarray(landmarks)[list(FEATURES), :2]).astype(np.int32)
    cv2.fillConvexPoly(region, cv2.convexHull(pts), 1)
    return (region > 0) & inner_face_region(landmarks, frame_shape)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("driving")
    p.add_argument("swapped", nargs="+")
    p.add_argument("--every", type=int, default=4)
    args = p.parse_args()
    caps = [cv2.VideoCapture(v) for v in (args.driving, *args.swapped)]
    mesh = FaceMesh(static=True, max_faces=1)
    driving: list[float] = []
    swapped: list[list[float]] = [[] for _ in args.swapped]
    index = -1
    try:
        while True:
            reads = [cap.read() for cap in caps]
            index += 1
            if not all(ok for ok, _ in reads):
                break
            if index % args.every:
                continue
            frames = [frame for _, frame in reads]
            faces = mesh.process(frames[0])
            if not faces:
                continue
            region = features_region(faces[0].landmarks, frames[0].shape)
            if not region.any():
                continue
            driving.append(high_frequency_energy(frames[0], region))
            for energies, frame in zip(swapped, frames[1:], strict=True):
                energies.append(high_frequency_energy(frame, region))
    finally:
        for cap in caps:
            cap.release()
        mesh.close()
    print(f"{args.driving}: {len(driving)} frames measured (every {args.every}), eyes-to-mouth hull")
    for path, energies in zip(args.swapped, swapped, strict=True):
        print(f"  {Path(path).name}: sharpness ratio {summarize_sharpness(driving, energies).ratio:.3f}")


if __name__ == "__main__":
    main()
