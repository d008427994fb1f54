"""`swapstream extract`: aligned faces of one person from videos and photos into a faceset.

Videos are processed in fixed segments of frames; the face tracker and its smoothing start fresh
at every segment boundary and the manifest is saved there. An interrupted run therefore resumes
at the last boundary and produces exactly the faceset one clean run would have.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
from swapstream.engine.face.align import alignment_matrix, face_type, transform_points, warp_face
from swapstream.engine.face.landmarks import Face, PhotoFaceFinder
from swapstream.engine.face.mask import hull_mask
from swapstream.engine.face.pose import yaw_pitch_roll
from swapstream.engine.face.tracking import VideoFaceTracker
from swapstream.trainer.media_inputs import Source, collect_sources, iter_video, read_image, video_frame_count
from tqdm import tqdm

from swapstream.common.errors import UserError
from swapstream.common.faceset import FaceRecord, Faceset, SourceProgress


@dataclass(frozen=True)
class ExtractConfig:
    face_type: str = "whole"
    size: int = 256
    every: int = 1  # keep every Nth video frame
    min_face: float = 64.0  # forehead-to-chin height in source pixels
    max_yaw: float = 65.0  # degrees
    faces: str = "largest"  # 'largest' | 'all'
    min_sharpness: float = 15.0  # variance of the Laplacian inside the mask, at 256 px
    # Mean landmark change (share of crop size) below which a frame repeats the previous one: at
    # 256 px this is 0.013 px, far below the 0.02-0.1 px a still face moves between real frames.
    min_motion: float = 0.00005
    smooth: bool = True  # One-Euro smoothing of landmarks in videos
    segment: int = 64  # frames per resumable segment

    def __post_init__(self) -> None:
        face_type(self.face_type)  # raises on an unknown type
        if self.faces not in ("largest", "all"):
            raise ValueError(f"faces must be 'largest' or 'all', got {self.faces!r}")
        if not 32 <= self.size <= 1024 or self.every < 1 or self.segment < 1:
            raise ValueError("size must be 32..1024, every and segment >= 1")


@dataclass
class ExtractSummary:
    frames_read: int = 0
    frames_skipped: int = 0  # already extracted by an earlier run
    faces_kept: int = 0
    rejected: Counter = field(default_factory=Counter)
    sources_without_face: list[str] = field(default_factory=list)
    seconds: float = 0.0


def sharpness(crop: np.ndarray, mask: np.ndarray) -> float:
    """Variance of the Laplacian of the grey crop inside the mask, normalised to a 256 px crop."""
    grey = cv2.cvtColor(crop, cv2.COLOR_BGR2GRAY)
    if grey.shape[0] != 256:
        grey = cv2.resize(grey, (256, 256), interpolation=cv2.INTER_AREA)
        mask = cv2.resize(mask, (256, 256), interpolation=cv2.INTER_NEAREST)
    lap = cv2.Laplacian(grey, cv2.CV_32F)
    inside = lap[mask > 127]
    return float(inside.var()) if inside.size else 0.0


class _FaceFilter:
    """Turns detected faces into kept records or counted rejections, for one source."""

    def __init__(self, cfg: ExtractConfig, faceset: Faceset, summary: ExtractSummary):
        self.cfg, self.fs, self.summary = cfg, faceset, summary
        self.last_kept: dict[int, np.ndarray] = {}

    def reset(self) -> None:
        self.last_kept.clear()

    def take(self, source: Source, frame_index: int, frame: np.ndarray, faces: list[Face]) -> int:
        cfg = self.cfg
        if not faces:
            self.summary.rejected["no face"] += 1
            return 0
        if cfg.faces == "largest":
            faces = [max(faces, key=lambda f: f.area)]
        kept = 0
        for k, face in enumerate(faces):
            reason = self._consider(source, frame_index, frame, k, face)
            if reason:
                self.summary.rejected[reason] += 1
            else:
                kept += 1
        return kept

    def _consider(self, source: Source, frame_index: int, frame: np.ndarray, k: int, face: Face) -> str | None:
        cfg = self.cfg
        if face.height < cfg.min_face:
            return "too small"
        yaw, pitch, roll = yaw_pitch_roll(face.landmarks)
        if abs(yaw) > cfg.max_yaw:
            return "too turned"
        m = alignment_matrix(face.landmarks, cfg.face_type, cfg.size)
        crop_lm = transform_points(face.landmarks, m).astype(np.float32)
        previous = self.last_kept.get(k)
        if previous is not None and np.abs(crop_lm - previous).mean() < cfg.min_motion * cfg.size:
            return "duplicate"
        crop = warp_face(frame, m, cfg.size)
        mask = hull_mask(crop_lm, cfg.size, cfg.face_type)
        sharp = sharpness(crop, mask)
        if sharp < cfg.min_sharpness:
            return "blurred"
        name = f"{source.source_id}_{frame_index:06d}_{k}"
        record = FaceRecord(
            file=f"faces/{name}.jpg",
            mask=f"masks/{name}.png",
            source=source.source_id,
            frame=frame_index,
            landmarks=crop_lm,
            matrix=m,
            yaw=yaw,
            pitch=pitch,
            roll=roll,
            sharpness=sharp,
        )
        self.fs.write_face(record, crop, mask)
        self.last_kept[k] = crop_lm
        self.summary.faces_kept += 1
        return None


def extract(
    inputs: list[str | Path],
    out: str | Path,
    cfg: ExtractConfig,
    progress: bool = True,
    on_frame: Callable[[int], None] | None = None,
) -> tuple[Faceset, ExtractSummary]:
    """Extract faces from INPUTS into the faceset at OUT (created or appended to).

    on_frame(frames_read) is called after each processed frame (tests use it to interrupt).
    On KeyboardInterrupt the faceset is saved at the last completed segment and it re-raises.
    """
    sources = collect_sources(inputs)
    # Validate every video before writing anything, so a bad file fails fast.
    totals = {s.source_id: video_frame_count(s.path) if s.kind == "video" else 1 for s in sources}
    fs = Faceset.open_or_create(out, cfg.face_type, cfg.size)
    summary = ExtractSummary()
    start = time.perf_counter()
    bar = tqdm(total=sum(totals.values()), unit="frame", disable=not progress, dynamic_ncols=True)
    filt = _FaceFilter(cfg, fs, summary)
    photo_finder: PhotoFaceFinder | None = None
    try:
        for src in sources:
            prog = fs.sources.setdefault(src.source_id, SourceProgress(path=str(src.path)))
            if prog.complete:
                summary.frames_skipped += totals[src.source_id]
                bar.update(totals[src.source_id])
                continue
            bar.set_description(src.path.name[:24])
            filt.reset()
            if src.kind == "image":
                photo_finder = photo_finder or PhotoFaceFinder()
                image = read_image(src.path)
                found = photo_finder.find(image)
                prog.faces_found += len(found)
                filt.take(src, 0, image, found)
                summary.frames_read += 1
                bar.update(1)
            else:
                _extract_video(src, prog, cfg, filt, summary, bar, on_frame)
            prog.complete = True
            fs.save()
            if prog.faces_found == 0:
                summary.sources_without_face.append(str(src.path))
    except BaseException:
        # Keep only what the last saved manifest names: files written after it are rewritten,
        # identically, by the next run.
        fs_saved = Faceset.open(fs.path)
        fs.faces = fs_saved.faces
        raise
    finally:
        bar.close()
        if photo_finder:
            photo_finder.close()
    fs.rejected = {k: fs.rejected.get(k, 0) + v for k, v in summary.rejected.items()}
    fs.save()
    summary.seconds = time.perf_counter() - start
    if summary.faces_kept == 0 and summary.frames_skipped == 0 and summary.sources_without_face:
        raise UserError(f"{summary.sources_without_face[0]}: no face found")
    return fs, summary


def _extract_video(src, prog, cfg, filt, summary, bar, on_frame) -> None:
    """Process one video from prog.frames_done on, saving the faceset at each segment boundary."""
    tracker: VideoFaceTracker | None = None
    skip_to = prog.frames_done
    try:
        for index, t, frame in iter_video(src.path):
            if index < skip_to:
                summary.frames_skipped += 1
                bar.update(1)
                continue
            if index % cfg.segment == 0:
                # Segment boundary: everything before is final. Save, then start the tracker and
                # the duplicate filter afresh so a resumed run sees exactly the same state.
                prog.frames_done = index
                filt.fs.save()
                if tracker:
                    tracker.close()
                tracker = VideoFaceTracker(max_faces=1 if cfg.faces == "largest" else 4, smooth=cfg.smooth)
                filt.reset()
            summary.frames_read += 1
            bar.update(1)
            if index % cfg.every == 0:
                faces = tracker.process(frame, t)
                prog.faces_found += len(faces)
                filt.take(src, index, frame, faces)
            if on_frame:
                on_frame(summary.frames_read)
    finally:
        if tracker:
            tracker.close()
