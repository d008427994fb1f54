"""`swapstream extract`: aligned faces of one person from videos and photos into a faceset.

Faces are found by the engine's one face finder (engine.face.tracking.FaceFinder), so small and
distant faces are found as well as close-ups. Videos are processed in fixed segments of frames;
the finder's tracks and smoothing start fresh at every segment boundary and the manifest is saved
there. An interrupted run therefore resumes at the last boundary and produces exactly the faceset
one clean run would have. Blur is judged per source, once the source is complete, relative to the
source's own median sharpness (trainer.face_checks); photos given in one run form one source for
that judgement, and are processed first.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from swapstream.engine.face.align import alignment_matrix, face_type, transform_points, warp_face
from swapstream.engine.face.landmarks import Face
from swapstream.engine.face.mask import hull_mask
from swapstream.engine.face.pose import yaw_pitch_roll
from swapstream.engine.face.tracking import FaceFinder, FinderConfig
from swapstream.trainer.face_checks import (
    blurred_records,
    is_upscaled,
    remove_records,
    sharpness,
    source_warnings,
)
from swapstream.trainer.faceset_update import FacesetUpdate
from swapstream.trainer.media_inputs import Source, collect_sources, iter_video, read_image, video_frame_count
from tqdm import tqdm

from swapstream.common.choices import FACE_SELECTIONS
from swapstream.common.errors import UserError
from swapstream.common.faceset import FaceRecord, Faceset, SourceProgress
from swapstream.common.output_paths import check_folder_apart

MIN_SEARCH_PX = 14.0  # the detector's floor (engine.face.scan): smaller faces are not searched for


@dataclass(frozen=True)
class ExtractConfig:
    face_type: str = "whole"
    size: int = 256
    every: int = 1  # keep every Nth video frame
    # Forehead-to-chin height in source pixels; faces are searched down to it. 40 keeps a 60 px face
    # of an HD wide shot even when a nod shortens it by a third.
    min_face: float = 40.0
    max_yaw: float = 65.0  # degrees
    faces: str = "largest"  # 'largest' | 'all'
    max_faces: int = 8  # with faces='all'
    blur_ratio: float = 0.25  # blurred: sharpness under this x the source's median (0: off)
    min_sharpness: float = 0.0  # optional absolute floor on sharpness (0: off)
    # Mean landmark change (share of crop size) below which a frame repeats the previous one: at
    # 256 px this is 0.013 px, far below the 0.02-0.1 px a still face moves between real frames.
    min_motion: float = 0.00005
    smooth: bool = True  # One-Euro smoothing of landmarks in videos
    allow_partial: bool = False  # use the frames of a truncated video (else UserError)
    segment: int = 64  # frames per resumable segment

    def __post_init__(self) -> None:
        face_type(self.face_type)  # raises on an unknown type
        if self.faces not in FACE_SELECTIONS:
            raise ValueError(f"faces must be one of {FACE_SELECTIONS}, got {self.faces!r}")
        if not 32 <= self.size <= 1024 or self.every < 1 or self.segment < 1 or self.max_faces < 1:
            raise ValueError("size must be 32..1024, every, segment and max_faces >= 1")
        if not 0 <= self.blur_ratio <= 1 or self.min_sharpness < 0 or self.min_face < 0:
            raise ValueError("blur_ratio must be in [0, 1], min_sharpness and min_face >= 0")


@dataclass
class ExtractSummary:
    frames_read: int = 0
    frames_skipped: int = 0  # already extracted by an earlier run
    faces_kept: int = 0
    rejected: Counter = field(default_factory=Counter)
    sources_without_face: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)  # for the user, loud: see face_checks
    seconds: float = 0.0


class _FaceFilter:
    """Turns detected faces into kept records or counted rejections (per run and per source)."""

    def __init__(self, cfg: ExtractConfig, update: FacesetUpdate, summary: ExtractSummary):
        self.cfg, self.update, self.fs, self.summary = cfg, update, update.fs, summary
        self.last_kept: dict[int, np.ndarray] = {}
        self.source_rejected: Counter = Counter()

    def reset(self) -> None:
        self.last_kept.clear()

    def begin_source(self) -> None:
        self.reset()
        self.source_rejected = Counter()

    def reject(self, reason: str, n: int = 1) -> None:
        self.summary.rejected[reason] += n
        self.source_rejected[reason] += n

    def take(self, source: Source, frame_index: int, frame: np.ndarray, faces: list[Face]) -> int:
        if not faces:
            self.reject("no face")
            return 0
        if self.cfg.faces == "largest":
            faces = [max(faces, key=lambda f: f.area)]
        kept = 0
        for k, face in enumerate(sorted(faces, key=lambda f: float(f.points[:, 0].mean()))):
            reason = self._consider(source, frame_index, frame, k, face)
            if reason:
                self.reject(reason)
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
        sharp = sharpness(frame, face.landmarks, cfg.face_type, cfg.size, m)
        if cfg.min_sharpness and sharp < cfg.min_sharpness:
            return "blurred"
        crop = warp_face(frame, m, cfg.size)
        mask = hull_mask(crop_lm, cfg.size, cfg.face_type)
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


def _complete(fs: Faceset, filt: _FaceFilter, done: list[tuple[Source, SourceProgress]], name: str) -> None:
    """Judge blur over the faces of `done` (one video, or one run's photos) relative to their own
    median, mark them complete in the same manifest save, then warn about what the filters did."""
    cfg, summary = filt.cfg, filt.summary
    ids = {src.source_id for src, _ in done}
    records = [r for r in fs.faces if r.source in ids]
    blurred = blurred_records(records, cfg.blur_ratio)
    remove_records(fs, blurred)
    if blurred:
        filt.reject("blurred", len(blurred))
    summary.faces_kept = max(0, summary.faces_kept - len(blurred))
    for src, prog in done:
        prog.complete = True
        if prog.faces_found == 0:
            summary.sources_without_face.append(str(src.path))
    filt.update.checkpoint()
    filt.update.remove_files(blurred)
    kept = [r for r in fs.faces if r.source in ids]
    upscaled = sum(is_upscaled(r.matrix) for r in kept)
    summary.warnings += source_warnings(name, len(kept), filt.source_rejected, upscaled, cfg.size)


def extract(
    inputs: list[str | Path],
    out: str | Path,
    cfg: ExtractConfig,
    progress: bool = True,
    on_frame: Callable[[int], None] | None = None,
) -> tuple[Faceset, ExtractSummary]:
    """Extract faces from INPUTS into the faceset at OUT (created or appended to), all at once
    (trainer.faceset_update): a refused run (UserError) leaves the faceset as it was.

    on_frame(frames_read) is called after each processed frame (tests use it to interrupt).
    On KeyboardInterrupt the faceset gets what the last completed segment saved and it re-raises.
    """
    check_folder_apart(Path(out), [Path(i) for i in inputs])
    sources = collect_sources(inputs)
    # Validate every video before writing anything (a truncated one is refused here), so a bad
    # file fails fast.
    totals = {s.source_id: video_frame_count(s.path, cfg.allow_partial) if s.kind == "video" else 1 for s in sources}
    update = FacesetUpdate.open(out, cfg.face_type, cfg.size)
    fs = update.fs
    summary = ExtractSummary()
    start = time.perf_counter()
    bar = tqdm(total=sum(totals.values()), unit="frame", disable=not progress, dynamic_ncols=True)
    filt = _FaceFilter(cfg, update, summary)
    finder = FaceFinder(
        FinderConfig(
            max_faces=1 if cfg.faces == "largest" else cfg.max_faces,
            smooth=cfg.smooth,
            min_face_px=max(cfg.min_face, MIN_SEARCH_PX),
        )
    )
    try:
        _extract_photos([s for s in sources if s.kind == "image"], filt, finder, bar)
        for src in (s for s in sources if s.kind == "video"):
            prog = fs.sources.setdefault(src.source_id, SourceProgress(path=str(src.path)))
            if prog.complete:
                summary.frames_skipped += totals[src.source_id]
                bar.update(totals[src.source_id])
                continue
            bar.set_description(src.path.name[:24])
            filt.begin_source()
            _extract_video(src, prog, cfg, filt, summary, bar, on_frame, finder)
            _complete(fs, filt, [(src, prog)], str(src.path))
        if summary.faces_kept == 0 and summary.frames_skipped == 0 and summary.sources_without_face:
            raise UserError(f"{summary.sources_without_face[0]}: no face found")
    except UserError:
        update.discard()  # refused: the faceset stays as it was
        raise
    except BaseException:
        update.interrupted()  # what the last segment boundary saved goes in; files written since go
        raise
    finally:
        bar.close()
        finder.close()
    fs.rejected = {k: fs.rejected.get(k, 0) + v for k, v in summary.rejected.items()}
    update.commit()
    if update.committed is None:  # a new faceset that got no face: removed, not left empty
        rejected = ", ".join(f"{v} {k}" for k, v in summary.rejected.most_common()) or "none"
        why = summary.warnings[0] if summary.warnings else f"rejected: {rejected}"
        raise UserError(f"{Path(out)}: no face kept, nothing written ({why})")
    summary.seconds = time.perf_counter() - start
    return fs, summary


def _extract_photos(images: list[Source], filt: _FaceFilter, finder: FaceFinder, bar) -> None:
    """Every photo not done by an earlier run; they are judged for blur together, then completed."""
    fs, summary = filt.fs, filt.summary
    done = []
    filt.begin_source()
    for src in images:
        prog = fs.sources.setdefault(src.source_id, SourceProgress(path=str(src.path)))
        if prog.complete:
            summary.frames_skipped += 1
            bar.update(1)
            continue
        bar.set_description(src.path.name[:24])
        filt.reset()
        image = read_image(src.path)
        found = finder.find(image)
        prog.faces_found += len(found)
        filt.take(src, 0, image, found)
        summary.frames_read += 1
        bar.update(1)
        done.append((src, prog))
    if done:
        name = str(done[0][0].path) if len(done) == 1 else f"the {len(done)} photos"
        _complete(fs, filt, done, name)


def _extract_video(src, prog, cfg, filt, summary, bar, on_frame, finder: FaceFinder) -> None:
    """Process one video from prog.frames_done on, saving the faceset at each segment boundary."""
    skip_to = prog.frames_done
    for index, t, frame in iter_video(src.path, cfg.allow_partial):
        if index < skip_to:
            summary.frames_skipped += 1
            bar.update(1)
            continue
        if index % cfg.segment == 0:
            # Segment boundary: everything before is final. Save, then start the tracks and the
            # duplicate filter afresh so a resumed run sees exactly the same state.
            prog.frames_done = index
            filt.update.checkpoint()
            finder.reset()
            filt.reset()
        summary.frames_read += 1
        bar.update(1)
        if index % cfg.every == 0:
            faces = finder.process(frame, t)
            prog.faces_found += len(faces)
            filt.take(src, index, frame, faces)
        if on_frame:
            on_frame(summary.frames_read)
