"""FaceMesh on a region of interest: the landmark model alone, on a square around one face.

MediaPipe's FaceMesh solution always runs its own (short-range) detector on the whole image
first, which misses faces that fill little of the frame. Here the 478-point landmark model runs
directly on a rotated square ROI given by the caller (from a detector box or from the previous
frame's landmarks), resampled to the model's 192 px input: a 60 px face gets the same landmark
pass as a 600 px one, and its cost does not depend on the frame size. The graph is MediaPipe's own
FaceLandmarkCpu (same model, same pre- and post-processing), extended to output the model's face
presence score, which the tracker uses to decide when to re-detect.

ROI geometry follows MediaPipe's (face_detection_front_detection_to_roi,
face_landmark_landmarks_to_roi): a square 1.5x the longer side of the box, rotated so the eyes
are level.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np
from swapstream.engine.face.landmarks import Detection, mediapipe_solutions

ROI_SCALE = 1.5  # ROI side / longer side of the face box, as MediaPipe
# MediaPipe FaceMesh indices of the outer eye corners (subject's right, then left): roll angle.
EYE_CORNERS = (33, 263)

_GRAPH = """
input_stream: "IMAGE:image"
input_stream: "ROI:roi"
output_stream: "LANDMARKS:face_landmarks"
output_stream: "SCORE:score"
node { calculator: "FaceLandmarksModelLoader"
  input_side_packet: "WITH_ATTENTION:with_attention" output_side_packet: "MODEL:model" }
node { calculator: "TfLiteCustomOpResolverCalculator" output_side_packet: "OP_RESOLVER:op_resolver" }
node { calculator: "ImageToTensorCalculator"
  input_stream: "IMAGE:image" input_stream: "NORM_RECT:roi" output_stream: "TENSORS:input_tensors"
  options: { [mediapipe.ImageToTensorCalculatorOptions.ext] {
    output_tensor_width: 192 output_tensor_height: 192 output_tensor_float_range { min: 0.0 max: 1.0 } } } }
node { calculator: "InferenceCalculator"
  input_side_packet: "MODEL:model" input_side_packet: "OP_RESOLVER:op_resolver"
  input_stream: "TENSORS:input_tensors" output_stream: "TENSORS:output_tensors"
  options: { [mediapipe.InferenceCalculatorOptions.ext] { delegate { xnnpack {} } } } }
node { calculator: "SplitTensorVectorCalculator"
  input_stream: "output_tensors" output_stream: "landmark_tensors" output_stream: "face_flag_tensor"
  options: { [mediapipe.SplitVectorCalculatorOptions.ext] {
    ranges: { begin: 0 end: 6 } ranges: { begin: 6 end: 7 } } } }
node { calculator: "TensorsToFloatsCalculator"
  input_stream: "TENSORS:face_flag_tensor" output_stream: "FLOAT:score"
  options: { [mediapipe.TensorsToFloatsCalculatorOptions.ext] { activation: SIGMOID } } }
node { calculator: "TensorsToFaceLandmarksWithAttention"
  input_stream: "TENSORS:landmark_tensors" output_stream: "LANDMARKS:landmarks" }
node { calculator: "LandmarkProjectionCalculator"
  input_stream: "NORM_LANDMARKS:landmarks" input_stream: "NORM_RECT:roi"
  output_stream: "NORM_LANDMARKS:face_landmarks" }
"""


@dataclass(frozen=True)
class Roi:
    """A square in frame pixels: centre, side, and rotation (radians, clockwise in the image)."""

    cx: float
    cy: float
    size: float
    angle: float = 0.0

    def bounds(self, margin: float = 2.0) -> tuple[float, float, float, float]:
        """Axis-aligned (x0, y0, x1, y1) holding the rotated square, plus a margin for interpolation."""
        half = 0.5 * self.size * (abs(math.cos(self.angle)) + abs(math.sin(self.angle))) + margin
        return self.cx - half, self.cy - half, self.cx + half, self.cy + half


def _roll(start: np.ndarray, end: np.ndarray) -> float:
    return math.atan2(float(end[1] - start[1]), float(end[0] - start[0]))


def roi_from_detection(det: Detection) -> Roi:
    """The landmark model's input square for a detector box (eyes are keypoints 0 and 1)."""
    x, y, w, h = det.box
    angle = _roll(det.keypoints[0], det.keypoints[1]) if det.keypoints is not None else 0.0
    return Roi(x + w / 2, y + h / 2, ROI_SCALE * max(w, h), angle)


def roi_from_landmarks(landmarks: np.ndarray) -> Roi:
    """The landmark model's input square for the face the landmarks describe (tracking)."""
    pts = np.asarray(landmarks)[:, :2]
    (x0, y0), (x1, y1) = pts.min(axis=0), pts.max(axis=0)
    angle = _roll(pts[EYE_CORNERS[0]], pts[EYE_CORNERS[1]])
    return Roi(float(x0 + x1) / 2, float(y0 + y1) / 2, ROI_SCALE * float(max(x1 - x0, y1 - y0)), angle)


class RoiLandmarker:
    """478 FaceMesh landmarks (frame pixels) and the face presence score for one ROI at a time."""

    def __init__(self):
        mediapipe_solutions()  # sets MediaPipe's log level before its first import
        from mediapipe.framework.formats import rect_pb2
        from mediapipe.python.solution_base import PacketDataType, SolutionBase

        self._rect = rect_pb2.NormalizedRect
        self._graph = SolutionBase(
            graph_config=_GRAPH,
            side_inputs={"with_attention": True},
            stream_type_hints={"roi": PacketDataType.PROTO, "score": PacketDataType.FLOAT},
        )

    def run(self, frame_bgr: np.ndarray, roi: Roi) -> tuple[np.ndarray | None, float]:
        """(landmarks float32 (478, 3) or None, presence score in [0, 1]) of the face in `roi`.

        Only the part of the frame under the ROI is converted and handed to MediaPipe, so the
        cost is the same for a 640x480 and a 3840x2160 frame.
        """
        h, w = frame_bgr.shape[:2]
        bx0, by0, bx1, by1 = roi.bounds()
        x0, y0 = max(0, math.floor(bx0)), max(0, math.floor(by0))
        x1, y1 = min(w, math.ceil(bx1)), min(h, math.ceil(by1))
        if x1 - x0 < 4 or y1 - y0 < 4 or roi.size < 4:
            return None, 0.0
        crop = cv2.cvtColor(frame_bgr[y0:y1, x0:x1], cv2.COLOR_BGR2RGB)
        cw, ch = x1 - x0, y1 - y0
        rect = self._rect(
            x_center=(roi.cx - x0) / cw, y_center=(roi.cy - y0) / ch, width=roi.size / cw, height=roi.size / ch
        )
        rect.rotation = roi.angle
        out = self._graph.process({"image": crop, "roi": rect})
        score = float(out.score) if out.score is not None else 0.0
        if out.face_landmarks is None:
            return None, score
        pts = np.array([(p.x, p.y, p.z) for p in out.face_landmarks.landmark], dtype=np.float32)
        pts[:, 0] = pts[:, 0] * cw + x0
        pts[:, 1] = pts[:, 1] * ch + y0
        pts[:, 2] *= cw
        return pts, score

    def close(self) -> None:
        self._graph.close()
