"""The one face finder, for video and stills, for faces of every size (extract, convert, live, eval).

- Detection: MediaPipe's full-range detector over the whole frame and over tiles
  (engine.face.scan), so a 40 px face in a 1920x1080 frame is found as well as a close-up.
- Landmarks: FaceMesh's landmark model on a square around each face (engine.face.roi): from the
  detector box for a new face (then once more from those landmarks, the square the model is
  trained on), then from the previous frame's landmarks while the track holds. The landmark pass
  costs the same for a 60 px and a 600 px face, and nothing is detected while every track holds.
- Re-detection: when a track's presence score drops below `recheck_score` (re-seeded from a fresh
  detection on the same frame), when it is lost (below `keep_score`), and every `redetect_every`
  frames while fewer than `max_faces` faces are tracked, to pick up faces that come into view.
- One-Euro smoothing per track (engine.face.smoothing); a new track never inherits an old one's
  smoother or number (Face.track), so who a track is (engine.face.people) is never handed on.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from swapstream.engine.face.landmarks import Detection, Face
from swapstream.engine.face.roi import RoiLandmarker, roi_from_detection, roi_from_landmarks
from swapstream.engine.face.scan import FaceScanner
from swapstream.engine.face.smoothing import LandmarkSmoother


@dataclass(frozen=True)
class FinderConfig:
    """max_faces: faces tracked at once (the largest first; every user says how many: the engine's
    default is engine.stages.faces.DetectConfig's); smooth/min_cutoff/beta: One-Euro;
    min_face_px: smallest face height searched for (sets the detection tiles); redetect_every:
    frames between scans while a slot is free; keep_score/recheck_score: landmark presence below
    which a track is dropped / re-seeded from a detection; detect_score: detector threshold;
    scan_budget: tiles per frame when a scan is spread over frames (None: a whole scan at once,
    for offline use; live video uses a small budget so no frame pays for every tile)."""

    max_faces: int
    smooth: bool = True
    min_cutoff: float = 1.0
    beta: float = 5.0
    min_face_px: float = 40.0
    redetect_every: int = 15
    keep_score: float = 0.5
    recheck_score: float = 0.8
    detect_score: float = 0.5
    scan_budget: int | None = None

    def __post_init__(self) -> None:
        if self.max_faces < 1 or self.redetect_every < 1:
            raise ValueError("max_faces and redetect_every must be >= 1")
        if self.min_face_px <= 0:
            raise ValueError("min_face_px must be > 0")
        if self.scan_budget is not None and self.scan_budget < 0:
            raise ValueError("scan_budget must be >= 0 or None")


class _Track:
    def __init__(self, landmarks: np.ndarray, score: float, smoother: LandmarkSmoother | None, number: int):
        self.landmarks, self.score, self.smoother = landmarks, score, smoother
        self.number = number  # unique per finder: a new track never reuses an old one's number

    @property
    def box(self) -> tuple[float, float, float, float]:
        (x0, y0), (x1, y1) = self.landmarks[:, :2].min(axis=0), self.landmarks[:, :2].max(axis=0)
        return float(x0), float(y0), float(x1 - x0), float(y1 - y0)

    def covers(self, det: Detection) -> bool:
        """Is the detection this track's face (its centre inside the face, or the face's inside it)?"""
        x, y, w, h = det.box
        tx, ty, tw, th = self.box
        cx, cy = x + w / 2, y + h / 2
        tcx, tcy = tx + tw / 2, ty + th / 2
        return (tx <= cx <= tx + tw and ty <= cy <= ty + th) or (x <= tcx <= x + w and y <= tcy <= y + h)


def _height(landmarks: np.ndarray) -> float:
    return float(np.linalg.norm(landmarks[10, :2] - landmarks[152, :2]))


class FaceFinder:
    """Feed frames in order to `process` (video: tracking and smoothing), or any image to `find`
    (a still: detection and landmarks only). Both return Face objects in frame pixels."""

    def __init__(self, cfg: FinderConfig):
        self.cfg = cfg
        self._scanner = FaceScanner(self.cfg.min_face_px, self.cfg.detect_score)
        self._landmarker = RoiLandmarker()
        self._tracks: list[_Track] = []
        self._since_scan = 0
        self._tracks_started = 0
        self.scans = 0  # detection passes run (for benchmarks and tests)

    def _landmarks_from(self, frame: np.ndarray, det: Detection) -> tuple[np.ndarray | None, float]:
        """A new face: landmarks from the detector box, then again from their own square."""
        lm, score = self._landmarker.run(frame, roi_from_detection(det))
        if lm is None or score < self.cfg.keep_score:
            return None, score
        refined, refined_score = self._landmarker.run(frame, roi_from_landmarks(lm))
        if refined is None or refined_score < score:
            return lm, score
        return refined, refined_score

    def _follow(self, frame: np.ndarray) -> bool:
        """Move every track to this frame; True when a detection is needed now."""
        kept, need = [], False
        for tr in self._tracks:
            lm, score = self._landmarker.run(frame, roi_from_landmarks(tr.landmarks))
            if lm is None or score < self.cfg.keep_score or _height(lm) < 4:
                need = True  # lost: look for it (and any other face) on this same frame
                continue
            tr.landmarks, tr.score = lm, score
            need |= score < self.cfg.recheck_score
            kept.append(tr)
        self._tracks = kept
        return need

    def _detect(self, frame: np.ndarray, budget: int | None) -> None:
        """Scan, re-seed weak tracks from their detection, start tracks on new faces (largest first)."""
        self.scans += 1
        self._since_scan = 0
        dets = sorted(self._scanner.scan(frame, budget), key=lambda d: -d.box[2] * d.box[3])
        for det in dets:
            owner = next((tr for tr in self._tracks if tr.covers(det)), None)
            if owner is not None:
                if owner.score < self.cfg.recheck_score:
                    lm, score = self._landmarks_from(frame, det)
                    if lm is not None and score > owner.score:
                        owner.landmarks, owner.score = lm, score
                continue
            if len(self._tracks) >= self.cfg.max_faces:
                continue
            lm, score = self._landmarks_from(frame, det)
            if lm is not None:
                smoother = LandmarkSmoother(self.cfg.min_cutoff, self.cfg.beta) if self.cfg.smooth else None
                self._tracks.append(_Track(lm, score, smoother, self._tracks_started))
                self._tracks_started += 1
        self._drop_duplicates()

    def _drop_duplicates(self) -> None:
        """Two tracks on one face (they converged, or two boxes of one face): keep the older."""
        kept: list[_Track] = []
        for tr in self._tracks:
            c = tr.landmarks[:, :2].mean(axis=0)
            if all(np.linalg.norm(c - k.landmarks[:, :2].mean(axis=0)) > 0.25 * _height(k.landmarks) for k in kept):
                kept.append(tr)
        self._tracks = kept

    def process(self, frame_bgr: np.ndarray, t: float, scan: bool = False) -> list[Face]:
        """Faces of the next video frame (t: its time in seconds, increasing), smoothed per track.
        scan: look for new faces on this frame (when a slot is free), whatever redetect_every says."""
        need = self._follow(frame_bgr)
        self._since_scan += 1
        free = len(self._tracks) < self.cfg.max_faces
        if need or not self._tracks or (free and (scan or self._since_scan >= self.cfg.redetect_every)):
            self._detect(frame_bgr, self.cfg.scan_budget)
        out = []
        for tr in self._tracks:
            lm = tr.smoother(tr.landmarks, t) if tr.smoother is not None else tr.landmarks
            out.append(Face(lm, tr.score, tr.number))
        return out

    def find(self, image_bgr: np.ndarray) -> list[Face]:
        """Faces of a still image (no tracking, no smoothing; the tracks of `process` are untouched)."""
        saved, self._tracks = self._tracks, []
        try:
            self._detect(image_bgr, None)
            return [Face(tr.landmarks, tr.score) for tr in self._tracks]
        finally:
            self._tracks = saved

    def reset(self) -> None:
        """Forget every track (the next frame starts with a full detection)."""
        self._tracks = []
        self._since_scan = 0

    def close(self) -> None:
        self._scanner.close()
        self._landmarker.close()


class PhotoFaceFinder:
    """Faces in unrelated still images, small and far ones included.

    The same finder as for video (FaceFinder, above) without tracking or smoothing:
    the full-range detector over the whole image and over tiles (for small faces), then FaceMesh
    on a square around each face, so a face that fills 5% of a photo still gets a 192 px
    landmark pass.
    """

    def __init__(self, max_faces: int = 8, min_score: float = 0.5, min_face_px: float = 24.0):
        self.max_faces = max_faces
        self._finder = FaceFinder(
            FinderConfig(max_faces=max_faces, smooth=False, min_face_px=min_face_px, detect_score=min_score)
        )

    def find(self, frame_bgr: np.ndarray) -> list[Face]:
        return self._finder.find(frame_bgr)

    def close(self) -> None:
        self._finder.close()
