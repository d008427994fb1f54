"""Detect+track and align: from a frame to aligned crops of the faces to swap.

Detection runs MediaPipe FaceMesh in video mode (engine.face.tracking): the detector re-runs
only when the track is lost, FaceMesh follows the face in between, and One-Euro smoothing
removes landmark jitter (the flicker users see in other tools). Alignment is the contract from
engine.face.align, at the face type and resolution read from the model's metadata.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from swapstream.engine.face.align import alignment_matrix, transform_points, warp_face
from swapstream.engine.face.mask import hull_mask

from swapstream.common.pipeline_contract import FaceSlot, FramePacket, Stage

FACE_MODES = ("largest", "all")


@dataclass(frozen=True)
class DetectConfig:
    """faces: 'largest' (one face per frame) or 'all' (up to max_faces); min_face_px: ignore faces
    whose forehead-to-chin height is smaller; smooth/min_cutoff/beta: One-Euro landmark filter."""

    faces: str = "largest"
    max_faces: int = 4
    min_face_px: float = 32.0
    smooth: bool = True
    min_cutoff: float = 1.0
    beta: float = 5.0

    def __post_init__(self) -> None:
        if self.faces not in FACE_MODES:
            raise ValueError(f"faces must be one of {FACE_MODES}, got {self.faces!r}")
        if self.max_faces < 1:
            raise ValueError("max_faces must be >= 1")


class DetectStage(Stage):
    """Fills packet.faces with one FaceSlot(landmarks) per face to swap, left to right.

    'largest' tracks a single face (MediaPipe then re-detects only when that track is lost,
    the cheap path for live use); 'all' tracks up to max_faces.
    """

    name = "detect"

    def __init__(self, cfg: DetectConfig):
        self.cfg = cfg
        self._tracker = None

    def setup(self) -> None:
        from swapstream.engine.face.tracking import VideoFaceTracker  # imports MediaPipe (~1 s)

        max_faces = 1 if self.cfg.faces == "largest" else self.cfg.max_faces
        self._tracker = VideoFaceTracker(max_faces, self.cfg.smooth, self.cfg.min_cutoff, self.cfg.beta)

    def process(self, packet: FramePacket) -> FramePacket:
        # One-Euro needs increasing times: the file's presentation time, else the capture clock.
        t = packet.seconds if packet.seconds is not None else packet.t_capture
        faces = [f for f in self._tracker.process(packet.frame, t) if f.height >= self.cfg.min_face_px]
        if self.cfg.faces == "largest" and len(faces) > 1:
            faces = [max(faces, key=lambda f: f.area)]
        faces.sort(key=lambda f: float(f.points[:, 0].mean()))
        packet.faces = [FaceSlot(landmarks=f.landmarks) for f in faces]
        return packet

    def close(self) -> None:
        if self._tracker is not None:
            self._tracker.close()
            self._tracker = None


class AlignStage(Stage):
    """For each face: frame->crop matrix, the aligned crop (R, R, 3) and its hull mask (R, R)."""

    name = "align"

    def __init__(self, face_type: str, resolution: int):
        self.face_type = face_type
        self.resolution = resolution

    def process(self, packet: FramePacket) -> FramePacket:
        r = self.resolution
        for slot in packet.faces:
            m = alignment_matrix(slot.landmarks, self.face_type, r)
            slot.matrix = m
            slot.crop = warp_face(packet.frame, m, r)
            slot.hull = hull_mask(transform_points(slot.landmarks, m), r, self.face_type)
        return packet


def crops_of(packets: list[FramePacket]) -> np.ndarray:
    """uint8 (N, R, R, 3): the aligned crops of every face of every packet, in order."""
    return np.stack([s.crop for p in packets for s in p.faces])
