"""Derive engine/face/template.py's canonical points from real video frames.

Generalised Procrustes analysis of FaceMesh landmarks over every 5th frame of the test clips,
then mirrored so the template is exactly left-right symmetric (yaw = roll = 0 by construction).
Run once by hand: python tools/make_template.py ../shared/media/*.mp4
"""

import sys

import av
import numpy as np
from swapstream.engine.face.landmarks import FaceMesh
from swapstream.engine.face.template import ALIGN_MIDLINE, ALIGN_PAIRS

idx = [i for p in ALIGN_PAIRS for i in p] + list(ALIGN_MIDLINE)
shapes = []
mesh = FaceMesh(static=True)
for path in sys.argv[1:]:
    with av.open(path) as c:
        for i, fr in enumerate(c.decode(video=0)):
            if i % 5:
                continue
            faces = mesh.process(fr.to_ndarray(format="bgr24"))
            if faces:
                shapes.append(faces[0].landmarks.astype(np.float64))
print(len(shapes), "shapes", file=sys.stderr)


def fit(src, dst):
    """3D similarity (Kabsch + scale) mapping src onto dst."""
    ms, md = src.mean(0), dst.mean(0)
    a, b = src - ms, dst - md
    u, s, vt = np.linalg.svd(b.T @ a)
    d = np.sign(np.linalg.det(u @ vt))
    dm = np.diag([1, 1, d])
    r = u @ dm @ vt
    scale = (s * np.diag(dm)).sum() / (a**2).sum()
    return lambda x: (x - ms) @ r.T * scale + md


def level(shape):
    """Rotate in-plane so the outer eye corners are horizontal, midline at x = 0."""
    v = shape[263, :2] - shape[33, :2]
    a = -np.arctan2(v[1], v[0])
    rot = np.array([[np.cos(a), -np.sin(a), 0], [np.sin(a), np.cos(a), 0], [0, 0, 1]])
    out = shape @ rot.T
    return out - np.array([out[list(ALIGN_MIDLINE), 0].mean(), 0, 0])


ref = level(shapes[0])[idx]
for _ in range(10):
    aligned = [fit(s[idx], ref)(s) for s in shapes]
    mean = level(np.mean(aligned, axis=0))
    # mirror: x -> -x with pair indices swapped, then average
    mirror = mean.copy()
    mirror[:, 0] *= -1
    for a, b in ALIGN_PAIRS:
        mirror[[a, b]] = mirror[[b, a]]
    sym = mean.copy()
    sub = np.array(idx)
    sym[sub] = (mean[sub] + mirror[sub]) / 2
    ref = sym[idx]
full = mean
# normalise: the 478-point mean shape's x/y box maps onto [0, 1]; centre the midline at x = 0.5
lo, hi = full[:, :2].min(0), full[:, :2].max(0)
span = (hi - lo).max()
ctr = np.array([sym[list(ALIGN_MIDLINE), 0].mean(), (lo[1] + hi[1]) / 2])
out = (sym[idx] - np.array([*ctr, sym[idx, 2].mean()])) / span + np.array([0.5, 0.5, 0.0])
print("TEMPLATE_POINTS = np.array([")
for i, p in zip(idx, out):
    print(f"    [{p[0]:.5f}, {p[1]:.5f}, {p[2]:.5f}],  # {i}")
print("], dtype=np.float64)")
