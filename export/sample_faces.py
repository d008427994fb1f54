"""Real aligned faces for verification and INT8 calibration.

Preferred: a faceset (the run's training faceset of the source identity, or --calibration).
Fallback for verification only: the public-domain photos that ship with scikit-image
(astronaut) and matplotlib (Grace Hopper), aligned with engine.face exactly as the engine would
align a live frame, plus small rotations, scales and mirror images of each so the batch is not
two faces repeated.
"""

from __future__ import annotations

import logging
from pathlib import Path

import cv2
import numpy as np

from swapstream.common.errors import user_error

log = logging.getLogger(__name__)


def faceset_faces(path: str | Path, face_type: str, resolution: int, count: int, seed: int = 0) -> np.ndarray:
    """uint8 (n, R, R, 3) BGR: up to `count` faces sampled evenly-at-random from a faceset.

    Refuses a faceset of another face type (its crops would not match what the model sees).
    """
    from swapstream.common.faceset import Faceset

    fs = Faceset.open(path)
    if fs.face_type != face_type:
        raise user_error(path, f"faceset holds {fs.face_type!r} crops, the model takes {face_type!r}")
    if len(fs) == 0:
        raise user_error(path, "faceset has no faces")
    rng = np.random.default_rng(seed)
    picks = np.sort(rng.choice(len(fs), size=min(count, len(fs)), replace=False))
    faces = []
    for i in picks:
        img = fs.image(int(i))
        if img.shape[0] != resolution:
            interp = cv2.INTER_AREA if img.shape[0] > resolution else cv2.INTER_CUBIC
            img = cv2.resize(img, (resolution, resolution), interpolation=interp)
        faces.append(img)
    return np.stack(faces)


def _public_domain_photos() -> list[tuple[str, np.ndarray]]:
    """(name, BGR uint8 image) of the public-domain portraits shipped inside dependencies."""
    import matplotlib.cbook
    from skimage.data import astronaut

    hopper = cv2.imread(str(matplotlib.cbook.get_sample_data("grace_hopper.jpg", asfileobj=False)))
    return [("astronaut", cv2.cvtColor(astronaut(), cv2.COLOR_RGB2BGR)), ("grace_hopper", hopper)]


def public_domain_faces(face_type: str, resolution: int, count: int = 8) -> np.ndarray:
    """uint8 (count, R, R, 3) BGR aligned crops of public-domain faces with pose/scale variants."""
    from swapstream.engine.face.align import alignment_matrix, warp_face
    from swapstream.engine.face.tracking import PhotoFaceFinder

    finder = PhotoFaceFinder(max_faces=1)
    try:
        found = [(name, img, finder.find(img)) for name, img in _public_domain_photos()]
    finally:
        finder.close()
    bases = [(img, alignment_matrix(faces[0].landmarks, face_type, resolution)) for _, img, faces in found if faces]
    if not bases:
        raise RuntimeError("no face found in the public-domain photos (MediaPipe models missing?)")
    centre = (resolution / 2.0, resolution / 2.0)
    # (degrees, scale, mirror): small perturbations of the alignment a tracker produces live.
    variants = [(0, 1.0, False), (0, 1.0, True), (6, 1.0, False), (-6, 0.97, False), (3, 1.04, True), (-3, 1.0, True)]
    crops = []
    for k in range(count):
        img, m = bases[k % len(bases)]
        angle, scale, mirror = variants[(k // len(bases)) % len(variants)]
        jitter = np.vstack([cv2.getRotationMatrix2D(centre, angle, scale), [0, 0, 1]])
        crop = warp_face(img, (jitter @ np.vstack([m, [0, 0, 1]]))[:2], resolution)
        crops.append(crop[:, ::-1] if mirror else crop)
    return np.ascontiguousarray(np.stack(crops))
