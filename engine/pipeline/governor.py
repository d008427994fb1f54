"""Quality governor: hold a target frame rate by lowering quality knobs in a fixed order, and put
them back one at a time when there is headroom again.

Pure logic: no threads, no clock, no pipeline. `Governor.update(observation, settings)` gets the
recent metrics and the current SwapSettings and returns the control messages to submit (through
the same ControlBoard the page uses), each with the reason the page shows. The thread that feeds
it twice a second is engine/pipeline/governor_loop.py.

The order (ORDER below; what each costs is measured in benchmarks/results_log/2026-11-to-2026-12-06.md):
  1. blend poisson -> feather   seamlessClone costs tens of ms per face; feathering under 1 ms
  2. mask occlusion -> both     a second network per face
  3. keep_mouth on -> off       the mouth-interior mask
  4. detail -> 0                the detail transfer (1-5 ms per face on close-ups)
  5. mouth -> 0                 the target's own mouth laid over the render (2-3 ms per face)
  6. eyes -> 0                  the target's own shut eyes through blinks (only while they shut)
  7. output_size one step down  source -> 1080p -> 720p -> 540p -> 480p -> 360p (only the steps
                                smaller than the source): fewer pixels for every stage, the
                                preview, the virtual camera and the recording; never below 360p
Not knobs: the colour mode (every mode costs under 1 ms per face here, so switching would change
the look for nothing), detecting less often (with faces 'largest' the detector runs only when
the track is lost, and landmarks are needed on every frame), a lighter model (not built yet).

When (GovernorConfig):
- budget = 1000 / target ms per frame; target = target_fps, or the source's rate when 0 (and
  never above the source's rate). cycle = the estimated time per frame: the slowest stage, or
  all stages' work divided by the cores they share, whichever is larger (capture is left out:
  its time is mostly waiting for the camera).
- behind: over `window_s` (judged only once `settle_s` has passed since the last change, so the
  metrics show its effect) the mean fps was below target x (1 - tolerance) while the pipeline
  was busy (cycle >= busy x budget: a camera that delivers fewer frames is not a slow
  pipeline), or the slowest stage alone took longer than the budget. One knob is lowered.
- what a knob saved is measured after the settle time, as a factor: cycle before / cycle after
  (a factor, not milliseconds: on a shared machine every stage's time scales with the load, so
  a knob that cost 20 ms under heavy load costs less when the load goes away).
- headroom: the most recently lowered knob is restored (one at a time, last lowered first)
  once, for `restore_after_s` without a break, cycle x that knob's factor <= restore_fraction x
  budget. A knob that has to be lowered again within `relapse_s` of its restore waits
  `backoff` times longer before the next restore (up to max_wait_s): no oscillation.
- a knob the user changed by hand is theirs again: the governor forgets it. Turning the
  governor off restores everything it lowered; with the swap off it waits.
"""

from __future__ import annotations

import math
import os
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from swapstream.engine.pipeline.controls import ControlMessage
from swapstream.engine.pipeline.frame_size import smaller_sizes

NOT_WORK = ("capture",)  # stage times that are mostly waiting, not work


@dataclass(frozen=True)
class GovernorConfig:
    tolerance: float = 0.1
    window_s: float = 2.0
    settle_s: float = 2.0
    busy: float = 0.75
    restore_after_s: float = 5.0
    restore_fraction: float = 0.7  # well under 1: a knob's cost varies with the machine's load
    relapse_s: float = 30.0
    backoff: float = 2.0
    max_wait_s: float = 120.0
    workers: int = field(default_factory=lambda: os.cpu_count() or 1)


@dataclass(frozen=True)
class Observation:
    """t: seconds on a monotonic clock; fps: frames out in the last second; stage_ms: recent p50
    per stage; source_fps / source_height: the current source's nominal rate and height."""

    t: float
    fps: float
    stage_ms: dict[str, float]
    source_fps: float
    source_height: int


@dataclass(frozen=True)
class Change:
    message: ControlMessage
    reason: str


@dataclass
class Lowered:
    key: str
    before: object
    after: object
    reason: str
    t: float
    cycle_before_ms: float
    saved_ms: float | None = None  # cycle before - cycle after, measured once settled
    factor: float = 1.0  # cycle before / cycle after: what restoring it is expected to multiply

    @property
    def ident(self) -> str:
        return f"{self.key}={self.after}"


def _output_size_step(s, obs: Observation):
    smaller = smaller_sizes(obs.source_height, s.output_size)
    return smaller[0] if smaller else None


# (key, lowered value of the current settings or None when this knob cannot go lower), in order.
ORDER: tuple[tuple[str, Callable], ...] = (
    ("blend", lambda s, obs: "feather" if s.blend == "poisson" else None),
    ("mask", lambda s, obs: "both" if s.mask == "occlusion" else None),
    ("keep_mouth", lambda s, obs: False if s.keep_mouth else None),
    ("detail", lambda s, obs: 0.0 if s.detail > 0 else None),
    ("mouth", lambda s, obs: 0.0 if s.mouth > 0 else None),
    ("eyes", lambda s, obs: 0.0 if s.eyes > 0 else None),
    ("output_size", _output_size_step),
)


def cycle_ms(stage_ms: dict[str, float], workers: int) -> tuple[float, str, float]:
    """(estimated ms per frame, slowest stage, its ms) from per-stage times."""
    work = {k: v for k, v in stage_ms.items() if k not in NOT_WORK and math.isfinite(v)}
    if not work:
        return 0.0, "", 0.0
    slowest = max(work, key=work.get)
    return max(work[slowest], sum(work.values()) / max(1, workers)), slowest, work[slowest]


class Governor:
    def __init__(self, cfg: GovernorConfig | None = None):
        self.cfg = cfg or GovernorConfig()
        self.lowered: list[Lowered] = []
        self.status = "off"
        self.target = 0.0
        self._history: deque[tuple[float, float, float]] = deque()
        self._from: float | None = None  # metrics count from this time on (after a change has settled)
        self._headroom_since: float | None = None
        self._wait: dict[str, float] = {}
        self._restored_at: dict[str, float] = {}
        self._last: tuple[float, float, float] = (0.0, 0.0, 0.0)  # fps, cycle, budget

    def update(self, obs: Observation, settings) -> list[Change]:
        """What to change now (usually nothing)."""
        latest = {e.key: e.after for e in self.lowered}  # a knob lowered in steps: its last step
        self.lowered = [e for e in self.lowered if getattr(settings, e.key) == latest[e.key]]  # the user wins
        if not settings.governor or not settings.swap:
            self._history.clear()
            self._from = self._headroom_since = None
            self.status = "off" if not settings.governor else "waiting: the swap is off"
            return self._restore_all() if not settings.governor else []
        if self._from is None:
            self._from = obs.t
        target = settings.target_fps or obs.source_fps
        self.target = min(target, obs.source_fps) if obs.source_fps > 0 else target
        if self.target <= 0:
            self.status = "waiting for the source's frame rate"
            return []
        budget = 1000.0 / self.target
        cycle, slowest, slowest_ms = cycle_ms(obs.stage_ms, self.cfg.workers)
        self._history.append((obs.t, obs.fps, cycle))
        while self._history and self._history[0][0] < max(obs.t - self.cfg.window_s, self._from):
            self._history.popleft()
        if not self._history or obs.t < self._from + self.cfg.window_s:
            self.status = "measuring"
            return []
        fps = sum(h[1] for h in self._history) / len(self._history)
        cycle = sum(h[2] for h in self._history) / len(self._history)
        self._last = (fps, cycle, budget)
        for e in self.lowered:
            if e.saved_ms is None:
                e.saved_ms = max(0.0, e.cycle_before_ms - cycle)
                e.factor = max(1.0, e.cycle_before_ms / cycle) if cycle > 0 else 1.0
        busy = cycle >= self.cfg.busy * budget
        if (fps < self.target * (1 - self.cfg.tolerance) and busy) or slowest_ms > budget:
            why = f"fps {fps:.1f} < {self.target:.0f} ({slowest} {slowest_ms:.0f} ms, budget {budget:.0f} ms per frame)"
            return self._lower(obs, settings, why, cycle)
        return self._maybe_restore(obs.t, cycle, budget)

    def _lower(self, obs: Observation, settings, why: str, cycle: float) -> list[Change]:
        self._headroom_since = None
        for key, lower in ORDER:
            after = lower(settings, obs)
            if after is None:
                continue
            entry = Lowered(key, getattr(settings, key), after, why, obs.t, cycle)
            restored = self._restored_at.pop(entry.ident, None)
            if restored is not None and obs.t - restored < self.cfg.relapse_s:
                wait = self._wait.get(entry.ident, self.cfg.restore_after_s) * self.cfg.backoff
                self._wait[entry.ident] = min(self.cfg.max_wait_s, wait)
            self.lowered.append(entry)
            self._from = obs.t + self.cfg.settle_s
            self.status = f"lowered {key}: {why}"
            return [Change(ControlMessage(key, after), f"{why}: {key} {entry.before} -> {after}")]
        self.status = f"at the lowest quality it may choose and still behind: {why}"
        return []

    def _maybe_restore(self, t: float, cycle: float, budget: float) -> list[Change]:
        if not self.lowered:
            self._headroom_since = None
            self.status = "full quality"
            return []
        last = self.lowered[-1]
        need = cycle * last.factor
        limit = self.cfg.restore_fraction * budget
        if need > limit:
            self._headroom_since = None
            self.status = f"holding: {cycle:.0f} ms per frame x {last.factor:.2f} for {last.key} > {limit:.0f} ms"
            return []
        if self._headroom_since is None:
            self._headroom_since = t
        wait = self._wait.get(last.ident, self.cfg.restore_after_s)
        if t - self._headroom_since < wait:
            self.status = f"headroom: restoring {last.key} in {wait - (t - self._headroom_since):.0f} s"
            return []
        self.lowered.pop()
        self._restored_at[last.ident] = t
        self._from, self._headroom_since = t + self.cfg.settle_s, None
        self.status = f"restored {last.key}"
        why = f"headroom ({cycle:.0f} ms per frame x {last.factor:.2f} for {last.key} <= {limit:.0f} ms)"
        return [Change(ControlMessage(last.key, last.before), f"{why}: {last.key} {last.after} -> {last.before}")]

    def _restore_all(self) -> list[Change]:
        changes = [
            Change(ControlMessage(e.key, e.before), f"governor off: {e.key} {e.after} -> {e.before}")
            for e in reversed(self.lowered)
        ]
        self.lowered.clear()
        return changes

    def snapshot(self, now: float) -> dict:
        """JSON-ready state for the page: status, target, and what is lowered, why, since when."""
        fps, cycle, budget = self._last
        return {
            "status": self.status,
            "target_fps": self.target,
            "fps": fps,
            "cycle_ms": cycle,
            "budget_ms": budget,
            "lowered": [
                {
                    "key": e.key,
                    "from": e.before,
                    "to": e.after,
                    "why": e.reason,
                    "age_s": now - e.t,
                    "saved_ms": e.saved_ms,
                }
                for e in self.lowered
            ],
        }
