"""Detect+track and align: from a frame to aligned crops of the faces to swap.

Detection is the one face finder (engine.face.tracking.FaceFinder): the full-range detector over
the frame and its tiles finds faces of every size, FaceMesh follows each face on a square around
it, re-detecting only when a track weakens or (with free slots) every few frames, and One-Euro
smoothing removes landmark jitter (the flicker users see in other tools). Live video spreads a
detection scan over frames (a few tiles per frame); convert scans whole frames. Alignment is the
contract from engine.face.align, at the face type and resolution read from the model's metadata.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
from swapstream.engine.face.align import MAX_UPSCALE, alignment_matrix, scale_of, transform_points, warp_face
from swapstream.engine.face.mask import hull_mask

from swapstream.common.choices import FACE_SELECTIONS
from swapstream.common.pipeline_contract import FaceSlot, FramePacket, Stage

log = logging.getLogger(__name__)

LIVE_SCAN_TILES = 2  # detection tiles per frame in live mode (besides the whole frame)


@dataclass(frozen=True)
class DetectConfig:
    """faces: 'largest' (one face per frame) or 'all' (up to max_faces); min_face_px: ignore faces
    whose forehead-to-chin height is smaller (and search down to that size); smooth/min_cutoff/
    beta: One-Euro landmark filter; redetect_every: frames between detection scans while fewer
    faces than wanted are tracked."""

    faces: str = "largest"
    max_faces: int = 4
    min_face_px: float = 40.0
    smooth: bool = True
    min_cutoff: float = 1.0
    beta: float = 5.0
    redetect_every: int = 15

    def __post_init__(self) -> None:
        if self.faces not in FACE_SELECTIONS:
            raise ValueError(f"faces must be one of {FACE_SELECTIONS}, got {self.faces!r}")
        if self.max_faces < 1 or self.redetect_every < 1:
            raise ValueError("max_faces and redetect_every must be >= 1")
        if self.min_face_px <= 0:
            raise ValueError("min_face_px must be > 0")


class DetectStage(Stage):
    """Fills packet.faces with one FaceSlot(landmarks) per face to swap, left to right.

    'largest' tracks a single face (nothing is detected while it holds: the cheap path for live
    use); 'all' tracks up to max_faces and looks for more every `redetect_every` frames.
    """

    name = "detect"

    def __init__(self, cfg: DetectConfig, offline: bool = False):
        self.cfg = cfg
        self.offline = offline
        self._finder = None

    def setup(self) -> None:
        from swapstream.engine.face.tracking import FaceFinder, FinderConfig  # imports MediaPipe (~1 s)

        c = self.cfg
        self._finder = FaceFinder(
            FinderConfig(
                max_faces=1 if c.faces == "largest" else c.max_faces,
                smooth=c.smooth,
                min_cutoff=c.min_cutoff,
                beta=c.beta,
                min_face_px=c.min_face_px,
                redetect_every=c.redetect_every,
                scan_budget=None if self.offline else LIVE_SCAN_TILES,
            )
        )

    def process(self, packet: FramePacket) -> FramePacket:
        # One-Euro needs increasing times: the file's presentation time, else the capture clock.
        t = packet.seconds if packet.seconds is not None else packet.t_capture
        faces = [f for f in self._finder.process(packet.frame, t) if f.height >= self.cfg.min_face_px]
        if self.cfg.faces == "largest" and len(faces) > 1:
            faces = [max(faces, key=lambda f: f.area)]
        faces.sort(key=lambda f: float(f.points[:, 0].mean()))
        packet.faces = [FaceSlot(landmarks=f.landmarks) for f in faces]
        return packet

    def close(self) -> None:
        if self._finder is not None:
            self._finder.close()
            self._finder = None


class AlignStage(Stage):
    """For each face: frame->crop matrix, the aligned crop (R, R, 3) and its hull mask (R, R).

    Faces so small that their crop is mostly interpolation (upscaled more than MAX_UPSCALE) are
    still swapped, with one warning the first time and a count in `upscaled`."""

    name = "align"

    def __init__(self, face_type: str, resolution: int):
        self.face_type = face_type
        self.resolution = resolution
        self.upscaled = 0

    def process(self, packet: FramePacket) -> FramePacket:
        r = self.resolution
        for slot in packet.faces:
            m = alignment_matrix(slot.landmarks, self.face_type, r)
            slot.matrix = m
            slot.crop = warp_face(packet.frame, m, r)
            slot.hull = hull_mask(transform_points(slot.landmarks, m), r, self.face_type)
            if scale_of(m) > MAX_UPSCALE:
                self._warn_small(slot.landmarks, scale_of(m))
        return packet

    def _warn_small(self, landmarks: np.ndarray, scale: float) -> None:
        self.upscaled += 1
        if self.upscaled == 1:
            height = float(np.linalg.norm(landmarks[10, :2] - landmarks[152, :2]))
            log.warning(
                "a face %.0f px tall is upscaled %.1fx to the model's %d px crop: too small for a sharp "
                "swap (faces under about %.0f px are; they are still swapped)",
                height,
                scale,
                self.resolution,
                height * scale / MAX_UPSCALE,
            )


def crops_of(packets: list[FramePacket]) -> np.ndarray:
    """uint8 (N, R, R, 3): the aligned crops of every face of every packet, in order."""
    return np.stack([s.crop for p in packets for s in p.faces])
