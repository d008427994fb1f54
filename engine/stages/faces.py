"""Detect+track and align: from a frame to aligned crops of the faces to swap.

Detection is the one face finder (engine.face.tracking.FaceFinder): the full-range detector over
the frame and its tiles finds faces of every size, FaceMesh follows each face on a square around
it, re-detecting only when a track weakens or (with free slots) every few frames, and One-Euro
smoothing removes landmark jitter (the flicker users see in other tools). Live video spreads a
detection scan over frames (a few tiles per frame); convert scans whole frames. Alignment is the
contract from engine.face.align, at the face type and resolution read from the model's metadata.
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass

import numpy as np
from swapstream.engine.face.align import MAX_UPSCALE, alignment_matrix, scale_of, transform_points, warp_face
from swapstream.engine.face.mask import hull_mask
from swapstream.engine.face.tracking import FinderConfig

from swapstream.common.choices import FACE_SELECTIONS
from swapstream.common.pipeline_contract import FaceSlot, FramePacket, Stage

log = logging.getLogger(__name__)

LIVE_SCAN_TILES = 2  # detection tiles per frame in live mode (besides the whole frame)
# While a --reference person is on no track, scan for faces every frame offline (so a person who
# comes back is swapped from their first frame) and every other frame live (the scan is spread).
MISSING_SCAN_EVERY = {True: 1, False: 2}


_FINDER = FinderConfig(max_faces=1)  # the tracking defaults, declared once (in FinderConfig)


@dataclass(frozen=True)
class DetectConfig:
    """faces: 'largest' (one face per frame) or 'all' (up to max_faces); min_face_px: ignore faces
    whose forehead-to-chin height is smaller (and search down to that size); smooth/min_cutoff/
    beta: One-Euro landmark filter; redetect_every: frames between detection scans while fewer
    faces than wanted are tracked; identity_every: frames between re-checks of who a tracked
    face is (with references: engine.face.people)."""

    faces: str = "largest"
    max_faces: int = 4
    min_face_px: float = _FINDER.min_face_px
    smooth: bool = _FINDER.smooth
    min_cutoff: float = _FINDER.min_cutoff
    beta: float = _FINDER.beta
    redetect_every: int = _FINDER.redetect_every
    identity_every: int = 30

    def __post_init__(self) -> None:
        if self.faces not in FACE_SELECTIONS:
            raise ValueError(f"faces must be one of {FACE_SELECTIONS}, got {self.faces!r}")
        if self.max_faces < 1 or self.redetect_every < 1 or self.identity_every < 1:
            raise ValueError("max_faces, redetect_every and identity_every must be >= 1")
        if self.min_face_px <= 0:
            raise ValueError("min_face_px must be > 0")


class DetectStage(Stage):
    """Fills packet.faces with one FaceSlot(landmarks) per face to swap, left to right.

    'largest' tracks a single face (nothing is detected while it holds: the cheap path for live
    use); 'all' tracks up to max_faces and looks for more every `redetect_every` frames.
    references (engine.face.people.Reference): track up to max_faces and swap only the faces that
    are one of these people, each with its model (FaceSlot.target); `faces` is then not used.
    """

    name = "detect"

    def __init__(self, cfg: DetectConfig, offline: bool = False, references: tuple = ()):
        self.cfg = cfg
        self.offline = offline
        self.references = tuple(references)
        self._finder = self._people = None

    def setup(self) -> None:
        from swapstream.engine.face.tracking import FaceFinder  # loads MediaPipe's graphs (~1 s)

        c = self.cfg
        if self.references:
            self._people = _people_tracker(self.references, c.identity_every, wait=self.offline)
        self._finder = FaceFinder(
            FinderConfig(
                max_faces=1 if c.faces == "largest" and not self.references else c.max_faces,
                smooth=c.smooth,
                min_cutoff=c.min_cutoff,
                beta=c.beta,
                min_face_px=c.min_face_px,
                redetect_every=c.redetect_every,
                scan_budget=None if self.offline else LIVE_SCAN_TILES,
            )
        )

    def apply_settings(self, settings) -> None:
        """A new `faces` choice starts a new tracker for the new number of faces."""
        if settings.faces != self.cfg.faces:
            self.cfg = dataclasses.replace(self.cfg, faces=settings.faces)
            self.close()
            self.setup()

    def process(self, packet: FramePacket) -> FramePacket:
        # One-Euro needs increasing times: the file's presentation time, else the capture clock.
        t = packet.seconds if packet.seconds is not None else packet.t_capture
        scan = self._people is not None and self._people.someone_missing
        scan = scan and packet.seq % MISSING_SCAN_EVERY[self.offline] == 0
        faces = [f for f in self._finder.process(packet.frame, t, scan) if f.height >= self.cfg.min_face_px]
        if self._people is not None:
            chosen = self._people.select(packet.frame, faces)
        else:
            if self.cfg.faces == "largest" and len(faces) > 1:
                faces = [max(faces, key=lambda f: f.area)]
            chosen = [(f, 0) for f in faces]
        chosen.sort(key=lambda pair: float(pair[0].points[:, 0].mean()))
        packet.faces = [FaceSlot(landmarks=f.landmarks, target=target, track=f.track) for f, target in chosen]
        return packet

    @property
    def identity_checks(self) -> int:
        """Embeddings computed so far for --reference (0 without references; for benchmarks)."""
        return self._people.embeddings if self._people is not None else 0

    def close(self) -> None:
        if self._finder is not None:
            self._finder.close()
            self._finder = None
        if self._people is not None:
            self._people.worker.close()
            self._people = None


def _people_tracker(references: tuple, identity_every: int, wait: bool):
    """A PeopleTracker with its chip cutter here and its ResNet in a worker process (started now)."""
    from swapstream.engine.face.embedding import ChipMaker
    from swapstream.engine.face.embedding_worker import EmbeddingWorker
    from swapstream.engine.face.people import PeopleTracker

    worker = EmbeddingWorker()
    worker.warmup()
    return PeopleTracker(references, ChipMaker(), worker, recheck_every=identity_every, wait=wait)


class AlignStage(Stage):
    """For each face: frame->crop matrix, the aligned crop (R, R, 3) and its hull mask (R, R).

    Faces so small that their crop is mostly interpolation (upscaled more than MAX_UPSCALE) are
    still swapped, with one warning the first time and a count in `upscaled`."""

    name = "align"

    def __init__(self, face_type: str, resolution: int):
        self.face_type = face_type
        self.resolution = resolution
        self.upscaled = 0

    def apply_settings(self, settings) -> None:
        """Crops of the face type and output resolution of a newly picked model."""
        contract = getattr(settings.model_obj, "contract", None)
        if contract is not None:
            self.face_type, self.resolution = contract.face_type, contract.output_resolution

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
