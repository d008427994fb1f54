"""The sharpness ratio a perfect model could reach at a given output resolution, on a real clip.

Usage: python benchmarks/sharpness_ceiling.py CLIP [--every 20] [--sizes 64 128 256] [--face-type whole]
    [--paste linear cubic engine]

For every --every-th frame the driving face itself is aligned to an R px crop (bilinear, as the
engine aligns) and pasted back through the inverse matrix with each --paste interpolation (the
engine's paste is bicubic since 2026-12-01, bilinear before; "engine" is its bicubic_warp, which
enlarges the crop before a bilinear warp), and `swapstream eval`'s
sharpness figure (engine/quality/sharpness.py) compares it with the frame: what a model whose
output equals the true face at R px would score. A trained model's ratio divided by this ceiling
says how much of the softness is the model and how much the resolution it renders.
"""

from __future__ import annotations

import argparse

import cv2
import numpy as np
from swapstream.engine.face.align import alignment_matrix, warp_face
from swapstream.engine.face.landmarks import FaceMesh
from swapstream.engine.image.blend import bicubic_warp
from swapstream.engine.quality.sharpness import high_frequency_energy, inner_face_region, summarize_sharpness


def _opencv(flags: int):
    return lambda crop, m, size: cv2.warpAffine(crop, m, size, flags=flags | cv2.WARP_INVERSE_MAP)


PASTE = {
    "linear": _opencv(cv2.INTER_LINEAR),
    "cubic": _opencv(cv2.INTER_CUBIC),
    "engine": lambda crop, m, size: bicubic_warp(crop, np.asarray(m, np.float64), size),
}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("clip")
    p.add_argument("--every", type=int, default=20)
    p.add_argument("--sizes", type=int, nargs="+", default=[64, 128, 256])
    p.add_argument("--face-type", default="whole")
    p.add_argument("--paste", nargs="+", choices=sorted(PASTE), default=["cubic"], help="paste interpolations")
    args = p.parse_args()
    driving: list[float] = []
    pasted: dict[tuple[int, str], list[float]] = {(r, k): [] for r in args.sizes for k in args.paste}
    cap, mesh = cv2.VideoCapture(args.clip), FaceMesh(static=True, max_faces=1)
    index = -1
    try:
        while True:
            ok, frame = cap.read()
            index += 1
            if not ok:
                break
            faces = mesh.process(frame) if index % args.every == 0 else []
            if not faces:
                continue
            landmarks, (h, w) = faces[0].landmarks, frame.shape[:2]
            inner = inner_face_region(landmarks, frame.shape)
            driving.append(high_frequency_energy(frame, inner))
            for (r, kind), energies in pasted.items():
                m = alignment_matrix(landmarks, args.face_type, r)
                back = PASTE[kind](warp_face(frame, m, r), m, (w, h))
                energies.append(high_frequency_energy(back, inner))
    finally:
        cap.release()
        mesh.close()
    print(f"{args.clip}: {len(driving)} frames with a face, {args.face_type} crops")
    for (r, kind), energies in pasted.items():
        ratio = summarize_sharpness(driving, energies).ratio
        print(f"  perfect {r:4d} px render pasted back ({kind}): sharpness ratio {ratio:.2f}")


if __name__ == "__main__":
    main()
