"""Pipeline metrics: per-stage latency samples, throughput, glass-to-glass latency, drops.

Written by the pipeline's threads, read by the CLI's status line and by `swapstream bench`.
Every sample list is bounded (a ring) so a long live session does not grow memory.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections import deque
from dataclasses import dataclass

import numpy as np

MAX_SAMPLES = 20_000


def percentiles(samples, qs=(50, 95, 99)) -> dict[str, float]:
    """{'p50': ..., 'p95': ..., 'p99': ...} of a sequence of seconds, in milliseconds (NaN if empty)."""
    a = np.asarray(list(samples), np.float64)
    if a.size == 0:
        return {f"p{q}": float("nan") for q in qs}
    return {f"p{q}": float(np.percentile(a, q) * 1000.0) for q in qs}


@dataclass(frozen=True)
class StatsSnapshot:
    """A consistent copy of the counters at one moment (what a status line or a report shows)."""

    frames: int
    faces_swapped: int
    frames_without_face: int
    dropped: int
    drops_by_stage: dict[str, int]
    elapsed_s: float
    fps: float
    recent_fps: float
    latency_ms: dict[str, float]
    stage_ms: dict[str, dict[str, float]]
    provider: str


class PipelineStats:
    """Thread-safe collector. Stage threads call `record_stage`; the sink thread calls `record_output`."""

    def __init__(self, provider: str = "", max_samples: int = MAX_SAMPLES):
        self.provider = provider
        self._lock = threading.Lock()
        self._stage: dict[str, deque[float]] = {}
        self._latency: deque[float] = deque(maxlen=max_samples)
        self._out_times: deque[float] = deque(maxlen=max_samples)
        self._max = max_samples
        self.frames = 0
        self.faces_swapped = 0
        self.frames_without_face = 0
        self.dropped = 0
        self.drops_by_stage: dict[str, int] = {}  # where the dropped frames were thrown away
        self.t_start: float | None = None
        self.t_last: float | None = None

    def start(self) -> None:
        with self._lock:
            self.t_start = time.perf_counter()

    def record_stage(self, name: str, seconds: float) -> None:
        with self._lock:
            q = self._stage.get(name)
            if q is None:
                q = self._stage[name] = deque(maxlen=self._max)
            q.append(seconds)

    def record_drop(self, n: int = 1, where: str = "capture") -> None:
        """n frames thrown away by the part named `where` (the capture slot, a stage, the pacer)."""
        if n <= 0:
            return
        with self._lock:
            self.dropped += n
            self.drops_by_stage[where] = self.drops_by_stage.get(where, 0) + n

    def record_output(self, t_capture: float, n_faces: int) -> None:
        """A frame reached the sink: count it and its glass-to-glass latency (now - capture time)."""
        now = time.perf_counter()
        with self._lock:
            self.frames += 1
            self.faces_swapped += n_faces
            self.frames_without_face += n_faces == 0
            self._latency.append(now - t_capture)
            self._out_times.append(now)
            self.t_last = now

    def stage_samples(self, name: str) -> list[float]:
        """Seconds per packet spent in one stage (a copy)."""
        with self._lock:
            return list(self._stage.get(name, ()))

    def latency_samples(self) -> list[float]:
        """Glass-to-glass seconds per output frame (a copy)."""
        with self._lock:
            return list(self._latency)

    def snapshot(self, window_s: float = 1.0) -> StatsSnapshot:
        with self._lock:
            now = time.perf_counter()
            start = self.t_start if self.t_start is not None else now
            end = self.t_last if self.t_last is not None else now
            elapsed = max(end - start, 1e-9)
            recent = sum(1 for t in self._out_times if t >= now - window_s) / window_s
            stage = {k: list(v) for k, v in self._stage.items()}
            latency = list(self._latency)
            frames, faces, no_face, dropped = self.frames, self.faces_swapped, self.frames_without_face, self.dropped
            drops_by_stage = dict(self.drops_by_stage)
        return StatsSnapshot(
            frames=frames,
            faces_swapped=faces,
            frames_without_face=no_face,
            dropped=dropped,
            drops_by_stage=drops_by_stage,
            elapsed_s=elapsed,
            fps=frames / elapsed if frames else 0.0,
            recent_fps=recent,
            latency_ms=percentiles(latency),
            stage_ms={k: percentiles(v) for k, v in stage.items()},
            provider=self.provider,
        )

    def recent(self, n: int = 300) -> dict:
        """Percentiles (ms) of the last n samples only (the studio's live numbers), plus the
        counters; copies just those samples under the lock, so polling it costs the pipeline little."""
        with self._lock:
            stage = {k: list(itertools.islice(reversed(v), n)) for k, v in self._stage.items()}
            latency = list(itertools.islice(reversed(self._latency), n))
            now = time.perf_counter()
            recent_fps = sum(1 for _ in itertools.takewhile(lambda t: t >= now - 1.0, reversed(self._out_times)))
            frames, dropped, faces = self.frames, self.dropped, self.faces_swapped
        return {
            "frames": frames,
            "dropped": dropped,
            "faces_swapped": faces,
            "fps": float(recent_fps),
            "latency_ms": percentiles(latency),
            "stage_ms": {k: percentiles(v, (50,))["p50"] for k, v in stage.items()},
            "provider": self.provider,
        }

    def as_dict(self) -> dict:
        """JSON-ready summary (what `swapstream bench` stores)."""
        s = self.snapshot()
        return {
            "frames": s.frames,
            "faces_swapped": s.faces_swapped,
            "frames_without_face": s.frames_without_face,
            "dropped": s.dropped,
            "drops_by_stage": s.drops_by_stage,
            "elapsed_s": s.elapsed_s,
            "fps": s.fps,
            "latency_ms": s.latency_ms,
            "stage_ms": s.stage_ms,
            "provider": s.provider,
        }
