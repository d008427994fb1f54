"""The evaluation loop: read both videos in step, measure each sampled frame, summarise."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from swapstream.engine.face.embedding import EmbedderMissing, FaceEmbedder
from swapstream.engine.face.landmarks import Face
from swapstream.engine.face.pose import yaw_pitch_roll
from swapstream.engine.quality.expression import ExpressionResult, ExpressionSample, compare_expressions, expression_of
from swapstream.engine.quality.identity import IdentityResult, judge_identity
from swapstream.engine.quality.leakage import (
    IDENTITY_PARTS,
    FrameLeakage,
    LeakageMeter,
    LeakageResult,
    summarize_leakage,
)
from swapstream.engine.quality.pixels import (
    BackgroundResult,
    StabilityResult,
    changed_share,
    face_region,
    mean_change,
    summarize_background,
    summarize_stability,
)
from swapstream.engine.quality.sharpness import (
    SharpnessResult,
    high_frequency_energy,
    inner_face_region,
    summarize_sharpness,
)
from swapstream.engine.quality.video import PairedVideos

from swapstream.common.errors import user_error
from swapstream.common.faceset import Faceset

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class EvalConfig:
    """What to compare and how. every: measure one frame in N (stability still uses the frame
    just before each measured one); background_threshold: a pixel counts as changed when a
    channel differs by more than this many levels (room for codec noise); hull_growth: the face
    hull is dilated by this share of the face height before 'outside' is taken (the blend feather)."""

    driving: Path
    swapped: Path
    identity: Path
    every: int = 1
    max_identity_faces: int = 100
    background_threshold: int = 12
    hull_growth: float = 0.15
    progress: bool = True


@dataclass
class Curves:
    """Per measured frame series for the plot and the JSON (NaN where a face was missing)."""

    frame: list[int] = field(default_factory=list)
    distance_to_target: list[float] = field(default_factory=list)
    distance_to_driving: list[float] = field(default_factory=list)
    mouth_driving: list[float] = field(default_factory=list)
    mouth_swapped: list[float] = field(default_factory=list)
    eyes_driving: list[float] = field(default_factory=list)
    eyes_swapped: list[float] = field(default_factory=list)
    pose_error_deg: list[float] = field(default_factory=list)
    change_driving: list[float] = field(default_factory=list)
    change_swapped: list[float] = field(default_factory=list)
    background_changed: list[float] = field(default_factory=list)
    sharpness_driving: list[float] = field(default_factory=list)  # high-frequency energy inside the face
    sharpness_swapped: list[float] = field(default_factory=list)
    # engine.quality.leakage, mean over IDENTITY_PARTS: r of the swapped band with the driver's / target's
    detail_r_driver: list[float] = field(default_factory=list)
    detail_r_target: list[float] = field(default_factory=list)
    own_sharpness: list[float] = field(default_factory=list)  # own band energy / the target faces'


@dataclass(frozen=True)
class EvalReport:
    config: EvalConfig
    frames: int
    frames_measured: int
    driving_faces: int
    swapped_faces: int
    swapped_faces_lost: int  # measured frames with a driving face but none found in the swapped one
    identity: IdentityResult | None
    identity_skipped: str | None
    expression: ExpressionResult | None
    stability: StabilityResult
    background: BackgroundResult
    curves: Curves
    sharpness: SharpnessResult
    leakage: LeakageResult


def _largest(faces: list[Face]) -> Face | None:
    return max(faces, key=lambda f: f.area, default=None)


class _FrameMeasures:
    """Accumulates the per-frame measurements of one evaluation."""

    def __init__(self, config: EvalConfig, judge: FaceEmbedder | None, leakage: LeakageMeter):
        self.config = config
        self.judge = judge
        self.leakage = leakage
        self.leak_frames: list[FrameLeakage] = []
        self.curves = Curves()
        self.expr_driving: list[ExpressionSample] = []
        self.expr_swapped: list[ExpressionSample] = []
        self.driving_embeddings: list[np.ndarray] = []
        self.swapped_embeddings: list[np.ndarray] = []
        self.swapped_rows: list[int] = []  # curve row of each swapped embedding
        self.change_driving: list[float] = []
        self.change_swapped: list[float] = []
        self.bg_shares: list[float] = []
        self.bg_diffs: list[float] = []
        self.sharp_driving: list[float] = []
        self.sharp_swapped: list[float] = []
        self.driving_faces = self.swapped_faces = self.lost = 0

    def add(
        self,
        index: int,
        drv: np.ndarray,
        swp: np.ndarray,
        previous: tuple[np.ndarray, np.ndarray] | None,
        *,
        face_d: Face | None,
        face_s: Face | None,
    ) -> None:
        """Measure one frame pair; previous is the pair just before it (None for the first frame)."""
        c, nan = self.curves, float("nan")
        c.frame.append(index)
        self.driving_faces += face_d is not None
        self.swapped_faces += face_s is not None
        self.lost += face_d is not None and face_s is None

        change_d = change_s = nan
        if face_d is not None:
            region = face_region(face_d.landmarks, drv.shape)
            outside = ~face_region(face_d.landmarks, drv.shape, self.config.hull_growth)
            if previous is not None:
                change_d = mean_change(previous[0], drv, region)
                change_s = mean_change(previous[1], swp, region)
                self.change_driving.append(change_d)
                self.change_swapped.append(change_s)
        else:
            outside = np.ones(drv.shape[:2], bool)
        c.change_driving.append(change_d)
        c.change_swapped.append(change_s)
        share, diff = changed_share(drv, swp, outside, self.config.background_threshold)
        self.bg_shares.append(share)
        self.bg_diffs.append(diff)
        c.background_changed.append(share)
        self._sharpness(drv, swp, face_d)
        self._leakage(drv, swp, face_d)

        if face_d is not None and face_s is not None:
            ed, es = expression_of(face_d.landmarks), expression_of(face_s.landmarks)
            self.expr_driving.append(ed)
            self.expr_swapped.append(es)
            pose_err = np.mean(np.abs(np.subtract([ed.yaw, ed.pitch, ed.roll], [es.yaw, es.pitch, es.roll])))
            row = (ed.mouth, es.mouth, ed.eyes, es.eyes, float(pose_err))
        else:
            row = (nan,) * 5
        for series, value in zip(
            (c.mouth_driving, c.mouth_swapped, c.eyes_driving, c.eyes_swapped, c.pose_error_deg), row, strict=True
        ):
            series.append(value)

        if self.judge is not None:
            if face_d is not None:
                self.driving_embeddings.append(self.judge.embed(drv, face_d.points))
            if face_s is not None:
                self.swapped_embeddings.append(self.judge.embed(swp, face_s.points))
                self.swapped_rows.append(len(c.frame) - 1)
        c.distance_to_target.append(nan)
        c.distance_to_driving.append(nan)

    def _leakage(self, drv: np.ndarray, swp: np.ndarray, face_d: Face | None) -> None:
        """Whose fine structure the swapped face shows, and its own sharpness (engine.quality.leakage)."""
        row = (float("nan"),) * 3
        if face_d is not None:
            yaw, pitch, _ = yaw_pitch_roll(face_d.landmarks)
            f = self.leakage.measure(drv, swp, face_d.landmarks, yaw, pitch)
            self.leak_frames.append(f)
            own = f.energy_own / f.energy_target if f.energy_target > 1e-9 else float("nan")
            row = (float(np.mean([f.r_driver[p] for p in IDENTITY_PARTS])),
                   float(np.mean([f.r_target[p] for p in IDENTITY_PARTS])), own)  # fmt: skip
        c = self.curves
        for series, value in zip((c.detail_r_driver, c.detail_r_target, c.own_sharpness), row, strict=True):
            series.append(value)

    def _sharpness(self, drv: np.ndarray, swp: np.ndarray, face_d: Face | None) -> None:
        """High-frequency energy of both frames inside the driving face (shrunk clear of the seam)."""
        energy_d = energy_s = float("nan")
        if face_d is not None:
            inner = inner_face_region(face_d.landmarks, drv.shape)
            if inner.any():
                energy_d, energy_s = high_frequency_energy(drv, inner), high_frequency_energy(swp, inner)
                self.sharp_driving.append(energy_d)
                self.sharp_swapped.append(energy_s)
        self.curves.sharpness_driving.append(energy_d)
        self.curves.sharpness_swapped.append(energy_s)


def evaluate(config: EvalConfig) -> EvalReport:
    """Measure a swapped video against its driving video and the target identity's faceset."""
    from tqdm import tqdm

    if config.every < 1:
        raise user_error("--every", f"must be >= 1, got {config.every}")
    faceset = Faceset.open(config.identity)
    if not len(faceset):
        raise user_error(config.identity, "lists no faces (extract some with `swapstream extract`)")
    judge, skipped, target = None, None, None
    with PairedVideos(config.driving, config.swapped) as videos:
        try:
            judge = FaceEmbedder()
        except EmbedderMissing as e:
            skipped = str(e)
            log.warning("identity skipped: %s", skipped)
        if judge is not None:
            target = judge.embed_faceset(faceset, config.max_identity_faces, config.progress)
        leakage = LeakageMeter(faceset)
        measures = _FrameMeasures(config, judge, leakage)
        # The engine's one face finder (small faces too), one per video, tracking, never smoothed.
        from swapstream.engine.face.tracking import FaceFinder, FinderConfig

        finders = [FaceFinder(FinderConfig(max_faces=2, smooth=False)) for _ in range(2)]
        previous = None
        frames = 0
        try:
            bar = tqdm(videos, total=videos.total, unit="frame", desc="eval", disable=not config.progress)
            for index, drv, swp in bar:
                frames += 1
                if index % config.every == 0:
                    face_d = _largest(finders[0].process(drv, float(index)))
                    face_s = _largest(finders[1].process(swp, float(index)))
                    measures.add(index, drv, swp, previous, face_d=face_d, face_s=face_s)
                previous = (drv, swp)
        finally:
            for finder in finders:
                finder.close()
    if frames == 0:
        raise user_error(config.driving, "has no frames")

    identity = None
    if judge is not None and target is not None:
        if not measures.driving_embeddings:
            skipped = "no face found in the driving video"
        elif not measures.swapped_embeddings:
            skipped = "no face found in the swapped video"
        else:
            identity, to_t, to_d = judge_identity(
                target, np.stack(measures.driving_embeddings), np.stack(measures.swapped_embeddings)
            )
            for row, dt, dd in zip(measures.swapped_rows, to_t, to_d, strict=True):
                measures.curves.distance_to_target[row] = float(dt)
                measures.curves.distance_to_driving[row] = float(dd)

    expression = compare_expressions(measures.expr_driving, measures.expr_swapped) if measures.expr_driving else None
    return EvalReport(
        config=config,
        frames=frames,
        frames_measured=len(measures.curves.frame),
        driving_faces=measures.driving_faces,
        swapped_faces=measures.swapped_faces,
        swapped_faces_lost=measures.lost,
        identity=identity,
        identity_skipped=skipped if identity is None else None,
        expression=expression,
        stability=summarize_stability(measures.change_driving, measures.change_swapped),
        background=summarize_background(
            measures.bg_shares, measures.bg_diffs, config.background_threshold, config.hull_growth
        ),
        curves=measures.curves,
        sharpness=summarize_sharpness(measures.sharp_driving, measures.sharp_swapped),
        leakage=summarize_leakage(measures.leak_frames, leakage.size, leakage.sigma, leakage.neighbours),
    )
