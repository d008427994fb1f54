"""MediaPipe face detection and FaceMesh landmarks behind two small classes.

All images are BGR uint8 (H, W, 3) as OpenCV and PyAV(bgr24) give them; MediaPipe wants RGB,
so the conversion happens here and nowhere else. Landmarks are float32 (478, 3): x and y in
pixels of the full frame, z in the same pixel scale (relative depth, MediaPipe's convention).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import cv2
import numpy as np


@dataclass(frozen=True)
class Detection:
    """A face box from the detector: (x, y, w, h) in frame pixels, a confidence in [0, 1] and the
    detector's six keypoints (6, 2) in frame pixels (eyes, nose tip, mouth, ears; subject's right
    before left), or None."""

    box: tuple[float, float, float, float]
    score: float
    keypoints: np.ndarray | None = None


@dataclass(frozen=True)
class Face:
    """One face: 478 FaceMesh landmarks (float32, (478, 3), frame pixels), a confidence and, from
    a video's face finder, the number of the track it belongs to (-1: a still, no track)."""

    landmarks: np.ndarray
    score: float = 1.0
    track: int = -1

    @property
    def points(self) -> np.ndarray:
        """(478, 2) float32 x, y in frame pixels."""
        return self.landmarks[:, :2]

    @property
    def height(self) -> float:
        """Forehead-top (10) to chin (152) distance in pixels: the size used by --min-face."""
        return float(np.linalg.norm(self.landmarks[10, :2] - self.landmarks[152, :2]))

    @property
    def area(self) -> float:
        x0, y0 = self.points.min(axis=0)
        x1, y1 = self.points.max(axis=0)
        return float((x1 - x0) * (y1 - y0))


def mediapipe_solutions():
    # Imported lazily: MediaPipe takes ~1 s to import and not every command needs it.
    os.environ.setdefault("GLOG_minloglevel", "2")  # MediaPipe's C++ INFO/WARNING lines
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import mediapipe as mp

    return mp.solutions


class FaceDetector:
    """MediaPipe face detection. range='short' (faces within ~2 m) or 'full' (up to ~5 m)."""

    def __init__(self, face_range: str = "full", min_score: float = 0.5):
        if face_range not in ("short", "full"):
            raise ValueError(f"face_range must be 'short' or 'full', got {face_range!r}")
        self._det = mediapipe_solutions().face_detection.FaceDetection(
            model_selection=0 if face_range == "short" else 1, min_detection_confidence=min_score
        )

    def detect(self, frame_bgr: np.ndarray) -> list[Detection]:
        return self.detect_rgb(cv2.cvtColor(frame_bgr, cv2.COLOR_BGR2RGB))

    def detect_rgb(self, rgb: np.ndarray, origin=(0.0, 0.0), scale: float = 1.0) -> list[Detection]:
        """Detections in an RGB image, mapped to frame pixels as origin + image pixels * scale
        (the caller passes a resized window of a larger frame)."""
        h, w = rgb.shape[:2]
        result = self._det.process(rgb)
        out = []
        ox, oy = origin
        for d in result.detections or []:
            b = d.location_data.relative_bounding_box
            box = (ox + b.xmin * w * scale, oy + b.ymin * h * scale, b.width * w * scale, b.height * h * scale)
            kp = np.array([(k.x * w, k.y * h) for k in d.location_data.relative_keypoints], np.float32)
            kp = kp * scale + np.array(origin, np.float32) if len(kp) else None
            out.append(Detection(box, float(d.score[0]), kp))
        return out

    def close(self) -> None:
        self._det.close()


def _to_pixels(landmark_list, w: int, h: int) -> np.ndarray:
    pts = np.array([(p.x, p.y, p.z) for p in landmark_list.landmark], dtype=np.float32)
    pts[:, 0] *= w
    pts[:, 1] *= h
    pts[:, 2] *= w
    return pts


class FaceMesh:
    """MediaPipe FaceMesh with iris refinement (478 points).

    static=True treats every call as an unrelated image; static=False is video mode, where
    MediaPipe tracks the face from the previous frame's landmarks and only re-detects when the
    track is lost (faster and steadier, so frames must be fed in order).
    """

    def __init__(self, static: bool, max_faces: int = 1, min_score: float = 0.5):
        self.static = static
        self._mesh = mediapipe_solutions().face_mesh.FaceMesh(
            static_image_mode=static,
            max_num_faces=max_faces,
            refine_landmarks=True,
            min_detection_confidence=min_score,
            min_tracking_confidence=min_score,
        )

    def process(self, frame_bgr: np.ndarray) -> list[Face]:
        h, w = frame_bgr.shape[:2]
        rgb = cv2.cvtColor(frame_bgr, cv2.COLOR_BGR2RGB)
        result = self._mesh.process(rgb)
        return [Face(_to_pixels(lm, w, h)) for lm in result.multi_face_landmarks or []]

    def close(self) -> None:
        self._mesh.close()
