"""One training run's state, built once by start_run(): fresh from configs, or resumed from RUN_DIR/checkpoint.pt.

start_run() is the only place that tells a fresh run from a resumed one. The loop (trainer/train.py)
advances the state; checkpoint_state() turns it back into the checkpoint dict (trainer/checkpoint.py).
A resume restores weights, optimiser moments, iteration, smoothed losses, torch RNG and history,
and batches are a pure function of (seed, iteration) (trainer/data.py), so a resumed run is
bit-identical to one that never stopped.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import torch
from swapstream.trainer import data, preview
from swapstream.trainer.checkpoint import (
    CHECKPOINT_NAME,
    find_checkpoint,
    first_line,
    load_checkpoint,
    model_from_checkpoint,
)
from swapstream.trainer.config import ModelConfig, TrainConfig, load_preset
from swapstream.trainer.divergence import GuardState
from swapstream.trainer.faceset_info import NO_CLOSED_EYES, expression_coverage
from swapstream.trainer.model import PatchDiscriminator, SwapAutoencoder, build_model, init_icnr, parameter_count
from swapstream.trainer.step import Compute
from swapstream.trainer.synthetic_blink import needs_blinks
from swapstream.trainer.warm_start import WarmStart, warm_start

from swapstream.common.choices import sizes_text
from swapstream.common.errors import UserError, user_error

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RunOptions:
    """One invocation: where the data and the run live, the budget, and the seed.

    iters: train until this total iteration count (a resumed run continues towards it).
    minutes: train this many more minutes in this invocation. At least one of them is set.
    train_overrides: TrainConfig fields set explicitly (the CLI's flags), applied over the preset's
    or, on resume, the checkpoint's train config.
    """

    faceset_a: Path
    faceset_b: Path
    run_dir: Path
    preset: str
    iters: int | None = None
    minutes: float | None = None
    resume: bool = False
    seed: int = 0
    progress: bool = True
    threads: int | None = None  # torch intra-op threads; None keeps torch's default (one per core)
    base: Path | None = None  # warm start: an earlier run (or checkpoint) whose fitting weights a new run starts from
    replace_facesets: bool = False  # resume on other facesets than the run recorded (default: refuse)
    keep_checkpoints: bool = False  # also keep each periodic checkpoint under RUN_DIR/checkpoints/
    train_overrides: Mapping[str, Any] = field(default_factory=dict)


@dataclass
class Run:
    """Everything the loop reads and advances. Mutable: the counters, losses and history move every step.

    train_* / val_*: the identities' training and held-out faces. base_record: where the first
    weights came from (--base), kept by every later checkpoint. updating: True while an
    optimiser step is half applied (see trainer.step.train_step).
    """

    opts: RunOptions
    model_cfg: ModelConfig
    train_cfg: TrainConfig
    preset: str
    seed: int
    compute: Compute
    train_a: data.IdentityFaces
    val_a: data.IdentityFaces
    train_b: data.IdentityFaces
    val_b: data.IdentityFaces
    model: SwapAutoencoder
    optimizer: torch.optim.Optimizer
    scaler: torch.amp.GradScaler
    discriminator: PatchDiscriminator | None
    d_optimizer: torch.optim.Optimizer | None
    warm: WarmStart | None  # what --base loaded (fresh runs only)
    base_record: dict | None
    iteration: int = 0
    trained_seconds: float = 0.0  # wall time of the run's earlier invocations, for the history's time axis
    smoothed: dict[str, float] = field(default_factory=dict)  # EMA of the step losses
    history: list[dict[str, float]] = field(default_factory=list)  # the rows of history.csv
    updating: bool = False
    divergence: GuardState = field(default_factory=GuardState)  # trainer/divergence.py: rollbacks so far

    @property
    def checkpoint_path(self) -> Path:
        return self.opts.run_dir / CHECKPOINT_NAME

    @property
    def history_path(self) -> Path:
        return self.opts.run_dir / "history.csv"

    def describe(self) -> str:
        c = self.model_cfg
        return (
            f"model {c.arch} {sizes_text(c.input_resolution, c.resolution, c.output_resolution)}, "
            f"{parameter_count(self.model) / 1e6:.1f}M parameters; A: {len(self.train_a)} train + "
            f"{len(self.val_a)} val faces, B: {len(self.train_b)} + {len(self.val_b)}; "
            f"{self.compute.precision} on {self.compute.device}"
        )

    def batch_maker(self) -> Callable[[int], data.Batch]:
        """make(iteration) -> that iteration's batch, deterministic in (seed, iteration)."""
        cfg = self.train_cfg
        augment = data.AugmentConfig(
            random_warp=cfg.random_warp,
            random_flip=cfg.random_flip,
            affine_scale=cfg.affine_scale,
            affine_rotation=cfg.affine_rotation,
            affine_shift=cfg.affine_shift,
            color_jitter=cfg.color_jitter,
        )
        return partial(
            data.make_batch,
            seed=self.seed,
            faces_a=self.train_a,
            faces_b=self.train_b,
            batch_size=cfg.batch_size,
            cfg=augment,
            yaw_balance=cfg.yaw_balance,
            color_transfer=cfg.color_transfer,
            eye_balance=cfg.eye_balance,
            balance_cap=cfg.balance_cap,
            mouth_balance=cfg.mouth_balance,
        )

    def smooth(self, losses: dict[str, float]) -> None:
        """Fold one step's losses into the exponential moving average (the first step sets it)."""
        k = self.train_cfg.loss_smoothing if self.smoothed else 0.0
        self.smoothed = {name: k * self.smoothed.get(name, v) + (1 - k) * v for name, v in losses.items()}


def start_run(opts: RunOptions, model_cfg: ModelConfig | None = None, train_cfg: TrainConfig | None = None) -> Run:
    """Build the run in opts.run_dir, fresh or resumed (opts.resume).

    Fresh: model_cfg and train_cfg (each None: the preset's), opts.seed, and opts.base's weights
    where they fit. Resumed: configs, preset and seed come from the checkpoint (the arguments are
    ignored), its recorded facesets are checked against opts, and its state is restored.
    opts.train_overrides apply on top either way. UserError on any bad input.
    """
    if opts.iters is None and opts.minutes is None:
        raise UserError("give a budget: --iters N or --minutes M")
    saved = _open_run_dir(opts)
    checkpoint = opts.run_dir / CHECKPOINT_NAME
    if saved is None:
        if model_cfg is None or train_cfg is None:
            preset_model, preset_train = load_preset(opts.preset)
            model_cfg, train_cfg = model_cfg or preset_model, train_cfg or preset_train
        preset, seed = opts.preset, opts.seed
        torch.manual_seed(seed)  # the initial weights, the discriminator's included
        model = build_model(model_cfg)
    else:
        check_resume_facesets(opts, saved.get("facesets") or {})
        preset, seed = saved["preset"], int(saved["rng"]["seed"])
        try:
            train_cfg = TrainConfig.from_dict(saved["train_config"])
        except ValueError as e:
            raise user_error(checkpoint, f"train_config: {e}") from None
        torch.manual_seed(seed)  # a discriminator the checkpoint lacks starts as a fresh run's would
        model_cfg, model = model_from_checkpoint(saved, checkpoint)
    try:
        train_cfg = dataclasses.replace(train_cfg, **opts.train_overrides)
    except ValueError as e:
        raise UserError(f"bad option: {e}") from None
    if train_cfg.cycle_weight > 0 and model_cfg.arch != "df":
        raise UserError(f"cycle_weight needs both decoders (arch df); this model is {model_cfg.arch}")
    if train_cfg.icnr and saved is None:
        log.info("ICNR initialisation of %d convs before a pixel shuffle", init_icnr(model))
    train_a, val_a = _load_identity(opts.faceset_a, model_cfg, train_cfg)
    train_b, val_b = _load_identity(opts.faceset_b, model_cfg, train_cfg, target=True)
    compute = Compute.choose(train_cfg.precision, opts.threads)
    model = model.to(compute.device, memory_format=compute.memory_format)
    warm = warm_start(model, opts.base) if opts.base is not None and saved is None else None
    if warm is not None:
        log.info("%s", warm.summary())
    betas = (train_cfg.adam_beta1, train_cfg.adam_beta2)
    discriminator = d_optimizer = None
    if train_cfg.gan_power > 0:
        discriminator = PatchDiscriminator(train_cfg.gan_dims).to(compute.device, memory_format=compute.memory_format)
        d_optimizer = torch.optim.Adam(discriminator.parameters(), lr=train_cfg.lr, betas=(0.5, 0.999))
    run = Run(
        opts=opts,
        model_cfg=model_cfg,
        train_cfg=train_cfg,
        preset=str(preset),
        seed=seed,
        compute=compute,
        train_a=train_a,
        val_a=val_a,
        train_b=train_b,
        val_b=val_b,
        model=model,
        optimizer=torch.optim.Adam(model.parameters(), lr=train_cfg.lr, betas=betas),
        scaler=torch.amp.GradScaler(compute.device.type, enabled=compute.precision == "fp16"),
        discriminator=discriminator,
        d_optimizer=d_optimizer,
        warm=warm,
        base_record=warm.to_dict() if warm is not None else (saved or {}).get("base"),
    )
    if saved is not None:
        _restore(run, saved)
    return run


def _open_run_dir(opts: RunOptions) -> dict | None:
    """The checkpoint to resume (--resume), else None after checking RUN_DIR holds no other run."""
    if opts.resume:
        return load_checkpoint(find_checkpoint(opts.run_dir))
    if (opts.run_dir / CHECKPOINT_NAME).exists():
        raise user_error(opts.run_dir, "holds another run (checkpoint.pt): pass --resume or choose another -o")
    if opts.run_dir.exists() and not opts.run_dir.is_dir():
        raise user_error(opts.run_dir, "exists and is not a directory")
    opts.run_dir.mkdir(parents=True, exist_ok=True)
    return None


def _load_identity(
    path: Path, model_cfg: ModelConfig, train_cfg: TrainConfig, target: bool = False
) -> tuple[data.IdentityFaces, data.IdentityFaces]:
    """(train, validation) faces of one faceset. A faceset that never shows closed eyes gets
    train_cfg.synthetic_blinks (its validation faces stay as filmed); target: B, whose missing
    expressions are logged (a target that never blinks in its faceset never blinks in a swap
    unless synthetic blinks teach it)."""
    fs = data.open_faceset(path, model_cfg.face_type)
    read, out = model_cfg.input_resolution, model_cfg.output_resolution  # both resized from the same crops
    if fs.size < max(read, out):
        sizes = sizes_text(read, model_cfg.resolution, out)
        raise user_error(path, f"faces are {fs.size} px but the model trains at {max(read, out)} px ({sizes})")
    faces = data.load_faces(fs, read, out)
    coverage = expression_coverage(faces.eyes, faces.mouths)
    blinks = train_cfg.synthetic_blinks if needs_blinks(coverage["eyes"]["closed"], len(faces)) else 0.0
    if blinks:
        closed = coverage["eyes"]["closed"]
        log.info(
            "%s shows closed eyes in %d of %d faces: %.0f%% of its draws get synthetic blinks",
            path,
            closed,
            len(faces),
            100 * blinks,
        )
    for gap in coverage["warnings"] if target else ():
        if not (blinks and gap == NO_CLOSED_EYES):
            log.warning("%s has %s", path, gap)
    train, validation = data.split_validation(faces, train_cfg.validation_faces)
    train.blink_rate = blinks
    return train, validation


def _restore(run: Run, saved: dict) -> None:
    """The rest of a resumed run's state (its weights are in already): optimisers, counters, RNG, history."""
    try:
        run.optimizer.load_state_dict(saved["optimizer"])
        if run.discriminator is not None and "discriminator" in saved:
            run.discriminator.load_state_dict(saved["discriminator"])
            run.d_optimizer.load_state_dict(saved["discriminator_optimizer"])
    except (RuntimeError, ValueError, KeyError) as e:
        raise user_error(run.checkpoint_path, f"weights do not fit model_config ({first_line(e)})") from None
    run.iteration = saved["iteration"]
    run.trained_seconds = float(saved.get("trained_seconds", 0.0))
    run.smoothed = dict(saved["losses"])
    run.divergence = GuardState.from_dict(saved.get("divergence"))
    torch.set_rng_state(saved["rng"]["torch"])
    # Rows logged after the checkpoint describe steps that are about to be redone.
    run.history = [r for r in preview.read_history(run.history_path) if r["iteration"] <= run.iteration]


def checkpoint_state(run: Run, trained_seconds: float) -> dict[str, Any]:
    """The checkpoint dict of the run as it stands; trained_seconds: wall time of all its invocations."""
    state = {
        "model_config": run.model_cfg.to_dict(),
        "train_config": run.train_cfg.to_dict(),
        "preset": run.preset,
        "model": run.model.state_dict(),
        "optimizer": run.optimizer.state_dict(),
        "iteration": run.iteration,
        "losses": dict(run.smoothed),
        "rng": {"seed": run.seed, "torch": torch.get_rng_state()},
        # Absolute: export, run from anywhere, reads them (calibration faces, the target's detail bank).
        "facesets": {"a": str(Path(run.opts.faceset_a).resolve()), "b": str(Path(run.opts.faceset_b).resolve())},
        "trained_seconds": trained_seconds,
        "divergence": run.divergence.to_dict(),
    }
    if run.base_record is not None:
        state["base"] = run.base_record
    if run.discriminator is not None:
        state["discriminator"] = run.discriminator.state_dict()
        state["discriminator_optimizer"] = run.d_optimizer.state_dict()
    return state


def _same_path(a: Path, b: Path) -> bool:
    try:
        return a.resolve() == b.resolve() or (a.exists() and b.exists() and a.samefile(b))
    except OSError:
        return False


def check_resume_facesets(opts: RunOptions, recorded: dict) -> None:
    """A resumed run continues on the facesets it recorded; other ones (or -a/-b swapped) are
    refused unless opts.replace_facesets, so a typo cannot silently retrain the run on other people."""
    given = {"a": opts.faceset_a, "b": opts.faceset_b}
    changed = [k for k in ("a", "b") if k in recorded and not _same_path(Path(recorded[k]), given[k])]
    if not changed:
        return
    if opts.replace_facesets:
        log.warning(
            "%s: resuming on other facesets than recorded (%s) (--replace-facesets)",
            opts.run_dir,
            ", ".join(f"-{k} {recorded[k]} -> {given[k]}" for k in changed),
        )
        return
    swapped = set(recorded) >= {"a", "b"} and all(
        _same_path(Path(recorded[x]), given[y]) for x, y in (("a", "b"), ("b", "a"))
    )
    what = "-a and -b are swapped" if swapped else f"-{changed[0]} {given[changed[0]]} is not the recorded one"
    raise user_error(
        opts.run_dir,
        f"this run was trained with -a {recorded.get('a')} -b {recorded.get('b')}; {what} "
        "(pass --replace-facesets to continue on other facesets)",
    )
