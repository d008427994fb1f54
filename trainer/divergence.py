"""Divergence guard: a run whose loss collapses goes back to its last good state at a lower learning rate.

A collapse looks like this (the 128 px `live` preset on the 2-core CPU, bf16, lr 1e-3, batch 4,
4 of 7 runs: one side's loss doubled at iteration 250-740 and stayed up, e.g. loss_b 1.4 -> 3.15,
flat for the remaining 20 minutes while A kept learning;
benchmarks/results_log/2026-11-to-2026-12-06.md, "One collapse" and
"30 CPU-minutes"), or a loss turns NaN/inf. Without help the rest of
the budget is wasted and the checkpoint holds the broken weights.

The guard keeps an in-memory copy of the weights and optimiser state (taken at the start and then
every SNAPSHOT_EVERY steps while every watched loss is within HEALTHY x its best). When a smoothed
loss stays above JUMP x its best for PATIENCE steps, or a step's loss is not finite, the run is put
back to that copy and its learning rate multiplied by LR_FACTOR; the iteration count goes on (later
batches differ from the ones that led to the collapse). After MAX_ROLLBACKS it gives up (UserError).
GuardState (rollbacks, learning-rate scale, best losses) is saved in the checkpoint, so a resumed
run keeps its lowered rate; the copy itself is not (a resumed run takes a fresh one).
"""

from __future__ import annotations

import copy
import logging
import math
from dataclasses import asdict, dataclass, field
from typing import Any

import torch

log = logging.getLogger(__name__)

WATCHED = ("loss_a", "loss_b", "loss_mask")  # not loss_gan: it oscillates by design
JUMP = 1.5  # a smoothed loss this many times its best ...
PATIENCE = 100  # ... for this many steps in a row is a collapse (the EMA alone rises in ~30 steps)
HEALTHY = 1.1  # snapshots are taken only while every watched loss is within this factor of its best
SNAPSHOT_EVERY = 200
MAX_ROLLBACKS = 3
LR_FACTOR = 0.5
# Steps before the best losses are counted (the EMA's memory is ~50 steps). Not "after the warmup":
# a CPU run of `live` collapsed at iteration ~250, as the warmup reached the full rate.
SETTLE_STEPS = 100


@dataclass
class GuardState:
    """What the checkpoint keeps ("divergence"): plain types only (it is loaded weights_only)."""

    lr_scale: float = 1.0
    rollbacks: int = 0
    best: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any] | None) -> GuardState:
        d = d or {}
        return cls(float(d.get("lr_scale", 1.0)), int(d.get("rollbacks", 0)), dict(d.get("best", {})))


class DivergenceGuard:
    """Decides when to snapshot and when to roll back; pure bookkeeping over the losses (no torch)."""

    def __init__(self, state: GuardState, settle_at: int):
        self.state = state
        self.settle_at = settle_at  # first iteration whose smoothed losses count towards `best`
        self._high = dict.fromkeys(WATCHED, 0)

    def collapse(self, iteration: int, step_losses: dict[str, float], smoothed: dict[str, float]) -> str | None:
        """Why the run must roll back after this step, or None. Updates the best losses."""
        bad = [name for name, v in step_losses.items() if not math.isfinite(v)]
        if bad:
            return f"{', '.join(bad)} not finite at iteration {iteration}"
        if iteration < self.settle_at:
            return None
        for name in WATCHED:
            value, best = smoothed.get(name), self.state.best.get(name)
            if value is None:
                continue
            if best is None or value < best:
                self.state.best[name] = value
                self._high[name] = 0
            elif value > JUMP * best:
                self._high[name] += 1
                if self._high[name] >= PATIENCE:
                    return f"{name} rose from {best:.3f} to {value:.3f} and stayed there ({PATIENCE} steps)"
            else:
                self._high[name] = 0
        return None

    def healthy(self, smoothed: dict[str, float]) -> bool:
        """Every watched loss within HEALTHY x its best (or no best yet): a state worth going back to."""
        best = self.state.best
        return all(smoothed[n] <= HEALTHY * best[n] for n in WATCHED if n in best and n in smoothed)

    def rolled_back(self) -> bool:
        """Count a rollback and lower the rate; False when the rollbacks are used up."""
        if self.state.rollbacks >= MAX_ROLLBACKS:
            return False
        self.state.rollbacks += 1
        self.state.lr_scale *= LR_FACTOR
        self._high = dict.fromkeys(WATCHED, 0)
        return True


@dataclass(frozen=True)
class Snapshot:
    """A deep copy of everything a step changes except the iteration count; taken at `iteration`."""

    iteration: int
    states: dict[str, dict]
    smoothed: dict[str, float]


def _stateful(run) -> dict[str, Any]:
    parts = {"model": run.model, "optimizer": run.optimizer, "scaler": run.scaler}
    if run.discriminator is not None:
        parts.update(discriminator=run.discriminator, d_optimizer=run.d_optimizer)
    return parts


def take_snapshot(run) -> Snapshot:
    """Copy run's weights and optimiser states (on their device: a few hundred MB at most for `live`)."""
    with torch.no_grad():
        states = {name: copy.deepcopy(part.state_dict()) for name, part in _stateful(run).items()}
    return Snapshot(run.iteration, states, dict(run.smoothed))


def restore_snapshot(run, snapshot: Snapshot) -> None:
    """Put run's weights, optimiser states and smoothed losses back to `snapshot` (iteration unchanged)."""
    for name, part in _stateful(run).items():
        part.load_state_dict(copy.deepcopy(snapshot.states[name]))
    run.smoothed = dict(snapshot.smoothed)
