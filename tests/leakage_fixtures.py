"""Videos whose fine structure is known to be the driver's or the target's, for eval's leakage
measure and the blend's target detail: real frames of ../shared/media, written losslessly.

An honest swap is made of the target's own faces: each driving frame gets the target face nearest
in pose and expression (from a faceset of frames the evaluation never sees), warped onto the
driving face's landmarks, its colour matched to the driver's skin, pasted inside the hull.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np
from swapstream.engine.face.align import alignment_matrix, invert, transform_points, warp_face
from swapstream.engine.face.landmarks import FaceMesh
from swapstream.engine.face.mask import hull_mask
from swapstream.engine.face.neighbours import faceset_features, landmark_warp, match_features, nearest
from swapstream.engine.face.pose import yaw_pitch_roll

from swapstream.common.faceset import Faceset

CROP = 256


def read_frames(path: Path, start: int, count: int) -> list[np.ndarray]:
    """BGR uint8 frames start .. start + count - 1 of a video."""
    with av.open(str(path)) as c:
        out = []
        for i, frame in enumerate(c.decode(video=0)):
            if i >= start + count:
                break
            if i >= start:
                out.append(np.ascontiguousarray(frame.to_ndarray(format="bgr24")))
    return out


def write_lossless(path: Path, frames: list[np.ndarray]) -> Path:
    """FFV1 in Matroska at 30 fps: every pixel survives."""
    h, w = frames[0].shape[:2]
    with av.open(str(path), "w") as c:
        s = c.add_stream("ffv1", rate=30)
        s.width, s.height, s.pix_fmt = w, h, "bgr0"
        for i, f in enumerate(frames):
            vf = av.VideoFrame.from_ndarray(f, format="bgr24")
            vf.pts, vf.time_base = i, Fraction(1, 30)
            for p in s.encode(vf):
                c.mux(p)
        for p in s.encode(None):
            c.mux(p)
    return path


def write_faceset(root: Path, frames: list[np.ndarray], mesh: FaceMesh) -> Path:
    """A faceset (the real format, via swapstream.common.faceset) of the largest face of each frame."""
    from swapstream.common.faceset import FaceRecord

    fs = Faceset.open_or_create(root, "whole", CROP)
    for i, frame in enumerate(frames):
        lm = mesh.process(frame)[0].landmarks
        m = alignment_matrix(lm, "whole", CROP)
        pts = transform_points(lm, m).astype(np.float32)
        yaw, pitch, roll = yaw_pitch_roll(lm)
        rec = FaceRecord(f"faces/{i:04d}.jpg", f"masks/{i:04d}.png", "clip", i, pts, m, yaw, pitch, roll, 1.0)
        fs.write_face(rec, warp_face(frame, m, CROP), hull_mask(pts, CROP, "whole"))
    fs.save()
    return root


def _match_colour(face: np.ndarray, like: np.ndarray, inside: np.ndarray) -> np.ndarray:
    """face's per-channel mean and spread inside `inside` (bool) moved to like's."""
    f, g = face.astype(np.float32), like.astype(np.float32)
    for c in range(3):
        fm, fs = f[..., c][inside].mean(), f[..., c][inside].std() + 1e-3
        gm, gs = g[..., c][inside].mean(), g[..., c][inside].std() + 1e-3
        f[..., c] = (f[..., c] - fm) * (gs / fs) + gm
    return np.clip(f + 0.5, 0, 255).astype(np.uint8)


def paste_crop(frame: np.ndarray, crop: np.ndarray, m: np.ndarray, crop_points: np.ndarray) -> np.ndarray:
    """frame with crop (aligned by m, CROP px) pasted inside the face hull, feathered."""
    mask = hull_mask(crop_points, CROP, "whole")
    mask = cv2.GaussianBlur(cv2.erode(mask, np.ones((9, 9), np.uint8)), (0, 0), 3)
    h, w = frame.shape[:2]
    back = invert(m)
    face = cv2.warpAffine(crop, back, (w, h), flags=cv2.INTER_CUBIC)
    alpha = cv2.warpAffine(mask, back, (w, h), flags=cv2.INTER_LINEAR)[..., None].astype(np.float32) / 255
    return np.round(frame * (1 - alpha) + face * alpha).astype(np.uint8)


def target_made_swap(driving: list[np.ndarray], target: Faceset, mesh: FaceMesh) -> list[np.ndarray]:
    """Each driving frame with the target's nearest face (pose, eyes, mouth) warped onto it."""
    features = faceset_features(target.faces)
    out = []
    for frame in driving:
        lm = mesh.process(frame)[0].landmarks
        m = alignment_matrix(lm, "whole", CROP)
        pts = transform_points(lm, m)
        yaw, pitch, _ = yaw_pitch_roll(lm)
        i = int(nearest(features, match_features(pts, yaw, pitch))[0])
        face = landmark_warp(target.image(i), target.faces[i].landmarks, pts)
        inside = hull_mask(pts, CROP, "whole") > 0
        out.append(paste_crop(frame, _match_colour(face, warp_face(frame, m, CROP), inside), m, pts))
    return out


def driver_detail_on(base: list[np.ndarray], driving: list[np.ndarray], sigma: float = 2.0) -> list[np.ndarray]:
    """base's frames blurred (sigma px) with the driving frames' band above that blur added back:
    the old --detail's look, a soft face carrying the driver's lashes, brows and nostrils."""
    out = []
    for b, d in zip(base, driving, strict=True):
        df = d.astype(np.float32)
        band = df - cv2.GaussianBlur(df, (0, 0), sigma)
        out.append(np.clip(cv2.GaussianBlur(b.astype(np.float32), (0, 0), sigma) + band + 0.5, 0, 255).astype(np.uint8))
    return out
