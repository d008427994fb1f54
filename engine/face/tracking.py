"""Faces through a video: MediaPipe tracking plus One-Euro smoothing per face track."""

from __future__ import annotations

import numpy as np
from swapstream.engine.face.landmarks import Face, FaceMesh
from swapstream.engine.face.smoothing import LandmarkSmoother


class VideoFaceTracker:
    """Feed frames in order; returns the faces of each frame with smoothed landmarks.

    FaceMesh in video mode re-runs its detector only when the track is lost. Each face keeps its
    own smoother, matched frame to frame by nearest centre; a face that disappears drops its
    filter so a new face never inherits an old one's motion.
    """

    def __init__(self, max_faces: int = 1, smooth: bool = True, min_cutoff: float = 1.0, beta: float = 5.0):
        self._mesh = FaceMesh(static=False, max_faces=max_faces)
        self._smooth = smooth
        self._params = (min_cutoff, beta)
        self._tracks: list[tuple[np.ndarray, LandmarkSmoother]] = []

    def process(self, frame_bgr: np.ndarray, t: float) -> list[Face]:
        faces = self._mesh.process(frame_bgr)
        if not self._smooth:
            return faces
        tracks, out = [], []
        free = list(self._tracks)
        for f in faces:
            c = f.points.mean(axis=0)
            best = min(free, key=lambda tr: np.linalg.norm(tr[0] - c), default=None)
            if best is not None and np.linalg.norm(best[0] - c) < 0.5 * f.height:
                free.remove(best)
                smoother = best[1]
            else:
                smoother = LandmarkSmoother(*self._params)
            lm = smoother(f.landmarks, t)
            tracks.append((c, smoother))
            out.append(Face(lm, f.score))
        self._tracks = tracks
        return out

    def close(self) -> None:
        self._mesh.close()
