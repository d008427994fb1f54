"""The training loop of `swapstream train`, top to bottom (in the spirit of nanoGPT's train.py).

start_run (trainer/run_state.py) builds the run once, fresh or resumed; then the loop repeats
step / log / validate + preview / checkpoint until the budget is spent, and a last validation and
checkpoint close it. RUN_DIR/ gets checkpoint.pt (see trainer/checkpoint.py), preview.png
(columns A, A->A, A->B, B, B->B, B->A on held-out faces), loss.png, history.csv and, when
tensorboard is installed, tb/.
"""

from __future__ import annotations

import logging
import math
import shutil
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import torch
from swapstream.trainer import data, losses, preview
from swapstream.trainer.checkpoint import CHECKPOINT_NAME, keep_copy, save_checkpoint
from swapstream.trainer.config import ModelConfig, TrainConfig
from swapstream.trainer.distributed import Team
from swapstream.trainer.divergence import (
    MAX_ROLLBACKS,
    SETTLE_STEPS,
    SNAPSHOT_EVERY,
    DivergenceGuard,
    restore_snapshot,
    take_snapshot,
)
from swapstream.trainer.run_state import Run, RunOptions, checkpoint_state, start_run
from swapstream.trainer.step import Compute, learning_rate, train_step
from swapstream.trainer.warm_start import WarmStart
from tqdm import tqdm

from swapstream.common.errors import UserError

log = logging.getLogger(__name__)
LOG_EVERY = 10  # iterations between history rows
PREVIEW_ROWS = 6


@dataclass(frozen=True)
class TrainSummary:
    iteration: int
    seconds: float
    samples_per_s: float
    data_wait_share: float
    val_ssim_start: tuple[float, float]  # (A->A, B->B) when this invocation started
    val_ssim_end: tuple[float, float]
    checkpoint: Path
    device: str
    precision: str
    model_config: ModelConfig  # the run's own (a resumed run's comes from its checkpoint)
    base: WarmStart | None = None  # what --base loaded, when given
    leader: bool = True  # False on torchrun's ranks > 0, which write nothing (trainer/distributed.py)


@dataclass
class _Clock:
    """This invocation's time. start: the budget's and the history's origin; loop_start / loop_end:
    the stepping alone (rates leave out the first validation); wait_seconds: spent waiting for batches."""

    start: float = field(default_factory=time.perf_counter)
    loop_start: float = 0.0
    loop_end: float = 0.0
    wait_seconds: float = 0.0
    steps: int = 0

    def seconds(self) -> float:
        return time.perf_counter() - self.start

    def samples_per_s(self, batch_size: int, until: float) -> float:
        """Faces of both identities per second of stepping, from loop_start to `until`."""
        return self.steps * batch_size * 2 / max(until - self.loop_start, 1e-9)

    def wait_share(self, until: float) -> float:
        return self.wait_seconds / max(until - self.loop_start, 1e-9)


def train(
    opts: RunOptions,
    model_cfg: ModelConfig | None = None,
    train_cfg: TrainConfig | None = None,
    on_step: Callable[[int], None] | None = None,
) -> TrainSummary:
    """Train (or resume) the run in opts.run_dir. On Ctrl-C: save a checkpoint, then raise KeyboardInterrupt.

    model_cfg / train_cfg: a fresh run's configs (None: the preset's); a resumed run keeps its own
    (trainer.run_state.start_run). on_step(iteration) is called after every step (tests and
    benchmarks hook in here). Under torchrun this process is one rank of a DistributedDataParallel
    run (trainer/distributed.py): only rank 0 validates and writes files. A run folder this call
    created is removed when the run ends without a checkpoint in it (refused, failed, or stopped
    before its first step).
    """
    team = Team.from_environment()
    made = next((p for p in reversed((opts.run_dir, *opts.run_dir.parents)) if not p.exists()), None)
    try:
        return _train(opts, model_cfg, train_cfg, on_step, team)
    except BaseException:
        if made is not None and team.leader and not (opts.run_dir / CHECKPOINT_NAME).exists():
            shutil.rmtree(made, ignore_errors=True)  # refused or failed before saving anything: nothing is left
        raise


def _train(opts: RunOptions, model_cfg, train_cfg, on_step, team: Team) -> TrainSummary:
    run = start_run(opts, model_cfg, train_cfg)
    team.wrap(run)
    log.info("%s", run.describe())
    tb = _tensorboard(opts.run_dir) if team.leader else None
    try:
        clock = _Clock()
        val_start = _validate_and_report(run, tb, clock) if team.leader else (math.nan, math.nan)
        _loop(run, tb, clock, val_start, on_step, team)
        val_end = _validate_and_report(run, tb, clock) if team.leader else val_start
        path = _save(run, clock, keep=opts.keep_checkpoints) if team.leader else run.checkpoint_path
    finally:
        if tb is not None:
            tb.close()
        team.close()
    return TrainSummary(
        iteration=run.iteration,
        seconds=clock.loop_end - clock.start,
        samples_per_s=clock.samples_per_s(run.train_cfg.batch_size, clock.loop_end) * team.size,
        data_wait_share=clock.wait_share(clock.loop_end),
        val_ssim_start=val_start,
        val_ssim_end=val_end,
        checkpoint=path,
        device=str(run.compute.device),
        precision=run.compute.precision,
        model_config=run.model_cfg,
        base=run.warm,
        leader=team.leader,
    )


def _loop(run: Run, tb, clock: _Clock, val_last: tuple[float, float], on_step, team: Team) -> None:
    """Step until the budget is spent: log every LOG_EVERY steps, preview and checkpoint on their timers
    (rank 0 alone writes; every rank stops after the same step)."""
    opts, cfg = run.opts, run.train_cfg
    loader = data.BatchLoader(run.iteration, team.batch_maker(run.batch_maker()), workers=cfg.data_workers)
    show = opts.progress and team.leader
    bar = tqdm(total=opts.iters, initial=run.iteration, disable=not show, unit="it", dynamic_ncols=True)
    rollbacks = _Rollbacks(run)
    clock.loop_start = last_preview = last_checkpoint = time.perf_counter()
    try:
        with _StopRequest() as stop:
            while True:
                spent, stopping, collapsed = team.agree(
                    _budget_spent(opts, run.iteration, elapsed := clock.seconds()), stop.requested, rollbacks.pending
                )
                if collapsed:  # before anything is saved: the weights may be broken
                    rollbacks.roll_back(run)
                if spent:
                    break
                if stopping:
                    raise KeyboardInterrupt
                progress = run.iteration / opts.iters if opts.iters else elapsed / (opts.minutes * 60)
                lr = learning_rate(cfg, run.iteration, progress) * run.divergence.lr_scale
                waited = time.perf_counter()
                batch = loader.get()
                clock.wait_seconds += time.perf_counter() - waited
                step_losses = train_step(run, batch, lr, gan=progress >= cfg.gan_start)
                clock.steps += 1
                bar.update(1)
                if rollbacks.collapsed(run, step_losses):
                    continue
                tick = time.perf_counter()
                if run.iteration % LOG_EVERY == 0:
                    _log_row(run, tb, clock, tick, lr, bar, val_last)
                if team.leader and tick - last_preview >= cfg.preview_minutes * 60:
                    val_last = _validate_and_report(run, tb, clock)
                    last_preview = time.perf_counter()
                if team.leader and tick - last_checkpoint >= cfg.checkpoint_minutes * 60:
                    _save(run, clock, keep=opts.keep_checkpoints)
                    last_checkpoint = time.perf_counter()
                if on_step is not None:
                    on_step(run.iteration)
    except KeyboardInterrupt:
        # The first Ctrl-C stops the loop between steps; only a second one can land mid-update or
        # between a collapse and its rollback, and then the last good checkpoint must not be
        # replaced by half-updated or broken weights.
        if not team.leader:
            raise
        preview.write_history(run.history_path, run.history)
        if run.updating or rollbacks.pending:
            log.warning("interrupted mid-step or mid-collapse: kept the previous checkpoint")
        else:
            log.info("interrupted at iteration %d; checkpoint saved to %s", run.iteration, _save(run, clock))
        raise
    finally:
        loader.close()
        bar.close()
    clock.loop_end = time.perf_counter()


class _Rollbacks:
    """The loop's side of the divergence guard (trainer/divergence.py): the last good state, a verdict
    after every step, and the rollback, which every rank makes at the same step (Team.agree)."""

    def __init__(self, run: Run):
        self.guard = DivergenceGuard(run.divergence, settle_at=SETTLE_STEPS)
        self.snapshot = take_snapshot(run)
        self.why: str | None = None

    @property
    def pending(self) -> bool:
        return self.why is not None

    def collapsed(self, run: Run, step_losses: dict[str, float]) -> bool:
        """Fold the step's losses in; True when the run collapsed (roll back before anything else)."""
        if all(math.isfinite(v) for v in step_losses.values()):
            run.smooth(step_losses)
        self.why = self.guard.collapse(run.iteration, step_losses, run.smoothed)
        due = run.iteration - self.snapshot.iteration >= SNAPSHOT_EVERY
        if self.why is None and due and self.guard.healthy(run.smoothed):
            self.snapshot = take_snapshot(run)
        return self.why is not None

    def roll_back(self, run: Run) -> None:
        """Back to the snapshot at a lower learning rate, or UserError once MAX_ROLLBACKS were spent
        (the last checkpoint on disk is never replaced by a broken state)."""
        why, self.why = self.why or "another rank's loss collapsed", None
        if not self.guard.rolled_back():
            raise UserError(
                f"{run.opts.run_dir}: training diverged {MAX_ROLLBACKS + 1} times, the last at iteration "
                f"{run.iteration} ({why}); the last checkpoint is kept: resume it with a lower --lr"
            )
        restore_snapshot(run, self.snapshot)
        log.warning(
            "training diverged at iteration %d (%s): back to the weights of iteration %d, learning rate "
            "x%.3g from now on (rollback %d of %d)",
            run.iteration,
            why,
            self.snapshot.iteration,
            run.divergence.lr_scale,
            run.divergence.rollbacks,
            MAX_ROLLBACKS,
        )


def _budget_spent(opts: RunOptions, iteration: int, seconds: float) -> bool:
    if opts.iters is not None and iteration >= opts.iters:
        return True
    return opts.minutes is not None and seconds >= opts.minutes * 60


def _log_row(run: Run, tb, clock: _Clock, tick: float, lr: float, bar, val_last: tuple[float, float]) -> None:
    """A history row of the smoothed losses and the rates so far, the progress bar's figures, TensorBoard."""
    seconds = tick - clock.start
    row = {"iteration": run.iteration, "seconds": run.trained_seconds + seconds, "lr": lr, **run.smoothed}
    row["loss"] = sum(run.smoothed.values())
    row["samples_per_s"] = clock.samples_per_s(run.train_cfg.batch_size, tick)
    row["data_wait_share"] = clock.wait_share(tick)
    run.history.append(row)
    minutes = run.opts.minutes
    bar.set_postfix(
        a=f"{run.smoothed['loss_a']:.3f}",
        b=f"{run.smoothed['loss_b']:.3f}",
        ssim=f"{val_last[0]:.3f}/{val_last[1]:.3f}",
        left="" if minutes is None else f"{max(0.0, minutes * 60 - seconds) / 60:.1f}m",
    )
    if tb is not None:
        for name, v in run.smoothed.items():
            tb.add_scalar(f"train/{name}", v, run.iteration)


def _save(run: Run, clock: _Clock, keep: bool = False) -> Path:
    """Write RUN_DIR/checkpoint.pt; keep: also keep this state under RUN_DIR/checkpoints/ (--keep-checkpoints)."""
    seconds = run.trained_seconds + clock.seconds()
    save_checkpoint(run.checkpoint_path, checkpoint_state(run, seconds))
    if keep:
        log.info("kept %s", keep_copy(run.checkpoint_path, seconds / 60, run.iteration))
    return run.checkpoint_path


class _StopRequest:
    """SIGINT sets a flag checked between steps, so a checkpoint is never taken mid-update.

    A second Ctrl-C falls back to the default handler (immediate KeyboardInterrupt).
    """

    def __init__(self):
        self.requested = False
        self._previous = None

    def __enter__(self) -> _StopRequest:
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGINT, self._handle)
        return self

    def _handle(self, signum, frame) -> None:
        self.requested = True
        signal.signal(signal.SIGINT, signal.default_int_handler)

    def __exit__(self, *exc) -> None:
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)


@torch.no_grad()
def validate(model, val_a, val_b, compute: Compute) -> tuple[tuple[float, float], dict]:
    """Masked SSIM of A->A and B->B on held-out faces, and the preview tiles (uint8 NHWC BGR)."""

    def tensor(images):
        return torch.from_numpy(images).to(compute.device).permute(0, 3, 1, 2).float().div(255)

    def image(t):
        return (t.float().clamp(0, 1) * 255 + 0.5).byte().permute(0, 2, 3, 1).cpu().numpy()

    xa, xb = tensor(val_a.images), tensor(val_b.images)  # targets, at the output resolution
    xa_in, xb_in = tensor(val_a.model_inputs), tensor(val_b.model_inputs)
    ma = torch.from_numpy(val_a.masks).to(compute.device).unsqueeze(1).float() / 255
    mb = torch.from_numpy(val_b.masks).to(compute.device).unsqueeze(1).float() / 255
    with compute.autocast():
        aa, _ = model.reconstruct(xa_in, "a")
        bb, _ = model.reconstruct(xb_in, "b")
        ab = model.render(xa_in, "b")[0] if "a2b" in model.swap_directions() else None
        ba = model.render(xb_in, "a")[0] if "b2a" in model.swap_directions() else None
    ssim_aa = losses.masked_ssim(aa.float(), xa, ma).mean().item()
    ssim_bb = losses.masked_ssim(bb.float(), xb, mb).mean().item()
    n = PREVIEW_ROWS
    tiles = {
        "A": val_a.images[:n],
        "A->A": image(aa[:n]),
        "A->B": None if ab is None else image(ab[:n]),
        "B": val_b.images[:n],
        "B->B": image(bb[:n]),
        "B->A": None if ba is None else image(ba[:n]),
    }
    rows = min(len(val_a), len(val_b), n)
    return (ssim_aa, ssim_bb), {k: None if v is None else v[:rows] for k, v in tiles.items()}


def _validate_and_report(run: Run, tb, clock: _Clock) -> tuple[float, float]:
    """Validate, then write the preview grid, the history CSV, the loss plot and TensorBoard's scalars."""
    val_ssim, tiles = validate(run.model, run.val_a, run.val_b, run.compute)
    row = {
        "iteration": run.iteration,
        "seconds": run.trained_seconds + clock.seconds(),
        "val_ssim_aa": val_ssim[0],
        "val_ssim_bb": val_ssim[1],
    }
    if run.history and run.history[-1]["iteration"] == run.iteration:
        run.history[-1].update(row)
    else:
        run.history.append(row)
    preview.write_png(run.opts.run_dir / "preview.png", preview.preview_grid(tiles))
    preview.write_history(run.history_path, run.history)
    preview.plot_history(run.opts.run_dir / "loss.png", run.history)
    if tb is not None:
        tb.add_scalar("val/ssim_aa", val_ssim[0], run.iteration)
        tb.add_scalar("val/ssim_bb", val_ssim[1], run.iteration)
        tb.flush()
    return val_ssim


def _tensorboard(run_dir: Path):
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:
        return None
    return SummaryWriter(str(run_dir / "tb"))
