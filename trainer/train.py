"""The training loop of `swapstream train`, top to bottom (in the spirit of nanoGPT's train.py).

RUN_DIR/ gets: checkpoint.pt (see trainer/checkpoint.py), preview.png (columns A, A->A, A->B,
B, B->B, B->A on held-out faces), loss.png, history.csv and, when tensorboard is installed, tb/.
"""

from __future__ import annotations

import contextlib
import logging
import math
import signal
import threading
import time
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import torch
from swapstream.trainer import data, losses, preview
from swapstream.trainer.checkpoint import CHECKPOINT_NAME, find_checkpoint, load_checkpoint, save_checkpoint
from swapstream.trainer.config import ModelConfig, TrainConfig
from swapstream.trainer.model import PatchDiscriminator, build_model, parameter_count
from tqdm import tqdm

from swapstream.common.errors import UserError, user_error

log = logging.getLogger(__name__)
LOG_EVERY = 10  # iterations between history rows
PREVIEW_ROWS = 6


@dataclass(frozen=True)
class RunOptions:
    """One invocation: where the data and the run live, the budget, and the seed.

    iters: train until this total iteration count (a resumed run continues towards it).
    minutes: train this many more minutes in this invocation. At least one of them is set.
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


def cpu_has_fast_bf16() -> bool:
    """True when oneDNN has native bf16 kernels here (AVX512-BF16 or AMX, e.g. Sapphire Rapids).

    Without them (AVX2-only CPUs such as the AMD EPYC these tests also run on) bf16 autocast is
    emulated and measured 4-15x slower than fp32, so 'auto' must not pick it.
    """
    return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())


def resolve_precision(requested: str, device: torch.device) -> str:
    """'auto' -> fp16 on CUDA; on CPU bf16 where native (AMX: ~4x the fp32 training step), else fp32."""
    if requested == "auto":
        if device.type == "cuda":
            return "fp16"
        return "bf16" if cpu_has_fast_bf16() else "fp32"
    if requested == "fp16" and device.type != "cuda":
        raise UserError("--precision fp16 needs a CUDA GPU; on CPU use bf16 (or fp32)")
    return requested


def learning_rate(cfg: TrainConfig, iteration: int, progress: float) -> float:
    """Linear warmup, then cosine from lr to lr * lr_min_ratio as progress goes 0 -> 1 (or constant)."""
    if iteration < cfg.lr_warmup_iters:
        return cfg.lr * (iteration + 1) / cfg.lr_warmup_iters
    if cfg.lr_schedule == "constant":
        return cfg.lr
    cosine = 0.5 * (1.0 + math.cos(math.pi * min(1.0, progress)))
    return cfg.lr * (cfg.lr_min_ratio + (1.0 - cfg.lr_min_ratio) * cosine)


def to_tensors(batch: data.Batch, device: torch.device, memory_format: torch.memory_format) -> dict[str, torch.Tensor]:
    """uint8 NHWC batch -> float32 NCHW in [0, 1], faces laid out in `memory_format`."""
    out = {}
    for name in ("a_input", "a_target", "b_input", "b_target"):
        faces = torch.from_numpy(getattr(batch, name)).to(device).permute(0, 3, 1, 2).float().div_(255)
        out[name] = faces.contiguous(memory_format=memory_format)
    for name in ("a_mask", "b_mask"):
        out[name] = torch.from_numpy(getattr(batch, name)).to(device).unsqueeze(1).float().div_(255)
    for name in ("a_region", "b_region"):
        out[name] = torch.from_numpy(getattr(batch, name)).to(device).unsqueeze(1).float()
    return out


def autoencoder_loss(outputs, t: dict[str, torch.Tensor], cfg: TrainConfig) -> tuple[torch.Tensor, dict]:
    """The step's total loss and its parts {'loss_a', 'loss_b', 'loss_mask'}, fp32 scalars.

    outputs: (face_aa, mask_aa, face_bb, mask_bb) float32 from model(a_input, b_input);
    t: the batch as to_tensors returns it (targets, masks and eye/mouth regions of A and B).
    """
    face_aa, mask_aa, face_bb, mask_bb = outputs
    weights = (cfg.dssim_weight, cfg.mse_weight, cfg.eyes_mouth_weight)
    parts = {
        "loss_a": losses.face_loss(face_aa, t["a_target"], t["a_mask"], t["a_region"], *weights),
        "loss_b": losses.face_loss(face_bb, t["b_target"], t["b_mask"], t["b_region"], *weights),
        "loss_mask": losses.mask_loss(mask_aa, t["a_mask"]) + losses.mask_loss(mask_bb, t["b_mask"]),
    }
    return parts["loss_a"] + parts["loss_b"] + cfg.mask_weight * parts["loss_mask"], parts


def _prepare_run_dir(opts: RunOptions) -> dict | None:
    """Check RUN_DIR against --resume; return the checkpoint to resume from, if any."""
    if opts.resume:
        return load_checkpoint(find_checkpoint(opts.run_dir))
    if (opts.run_dir / CHECKPOINT_NAME).exists():
        raise user_error(opts.run_dir, "holds another run (checkpoint.pt): pass --resume or choose another -o")
    if opts.run_dir.exists() and not opts.run_dir.is_dir():
        raise user_error(opts.run_dir, "exists and is not a directory")
    opts.run_dir.mkdir(parents=True, exist_ok=True)
    return None


def _load_identity(path: Path, model_cfg: ModelConfig, n_val: int) -> tuple[data.IdentityFaces, data.IdentityFaces]:
    fs = data.open_faceset(path, model_cfg.face_type)
    if fs.size < model_cfg.resolution:
        raise user_error(path, f"faces are {fs.size} px but the model trains at {model_cfg.resolution} px")
    return data.split_validation(data.load_faces(fs, model_cfg.resolution), n_val)


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
def validate(model, val_a, val_b, device, autocast) -> tuple[tuple[float, float], dict]:
    """Masked SSIM of A->A and B->B on held-out faces, and the preview tiles (uint8 NHWC BGR)."""

    def tensor(images):
        return torch.from_numpy(images).to(device).permute(0, 3, 1, 2).float().div(255)

    def image(t):
        return (t.float().clamp(0, 1) * 255 + 0.5).byte().permute(0, 2, 3, 1).cpu().numpy()

    xa, xb = tensor(val_a.images), tensor(val_b.images)
    ma = torch.from_numpy(val_a.masks).to(device).unsqueeze(1).float() / 255
    mb = torch.from_numpy(val_b.masks).to(device).unsqueeze(1).float() / 255
    with autocast():
        aa, _ = model.reconstruct(xa, "a")
        bb, _ = model.reconstruct(xb, "b")
        ab = model.render(xa, "b")[0] if "a2b" in model.swap_directions() else None
        ba = model.render(xb, "a")[0] if "b2a" in model.swap_directions() else None
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


def _tensorboard(run_dir: Path):
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:
        return None
    return SummaryWriter(str(run_dir / "tb"))


def train(opts: RunOptions, model_cfg: ModelConfig, train_cfg: TrainConfig, on_step=None) -> TrainSummary:
    """Train (or resume) the run in opts.run_dir. On Ctrl-C: save a checkpoint, then raise KeyboardInterrupt.

    On resume model_cfg and the seed come from the checkpoint; train_cfg is the caller's (the
    CLI starts from the checkpoint's and applies explicit overrides). on_step(iteration) is
    called after every step (tests and benchmarks hook in here).
    """
    if opts.iters is None and opts.minutes is None:
        raise UserError("give a budget: --iters N or --minutes M")
    # -------------------------------------------------------------------------------- setup
    resume_state = _prepare_run_dir(opts)
    seed = opts.seed
    if resume_state is not None:
        model_cfg = ModelConfig.from_dict(resume_state["model_config"])
        seed = int(resume_state["rng"]["seed"])
    train_a, val_a = _load_identity(opts.faceset_a, model_cfg, train_cfg.validation_faces)
    train_b, val_b = _load_identity(opts.faceset_b, model_cfg, train_cfg.validation_faces)

    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if opts.threads is not None:
        # On a CPU shared with other jobs, OpenMP threads that spin waiting for a descheduled peer
        # made a step ~10x slower than one thread (measured on the 2-core dev machine).
        torch.set_num_threads(opts.threads)
    precision = resolve_precision(train_cfg.precision, device)
    amp_dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(precision)
    autocast = (
        partial(torch.autocast, device.type, dtype=amp_dtype) if amp_dtype is not None else contextlib.nullcontext
    )
    # channels_last is what oneDNN's bf16 (AMX) and CUDA's fp16 kernels want; in fp32 on an AVX2 CPU
    # plain NCHW measured as fast or up to 8% faster (benchmarks/train_step.py).
    memory_format = torch.channels_last if amp_dtype is not None else torch.contiguous_format
    torch.manual_seed(seed)
    model = build_model(model_cfg).to(device, memory_format=memory_format)
    optimizer = torch.optim.Adam(
        model.parameters(), lr=train_cfg.lr, betas=(train_cfg.adam_beta1, train_cfg.adam_beta2)
    )
    scaler = torch.amp.GradScaler(device.type, enabled=precision == "fp16")
    discriminator = d_optimizer = None
    if train_cfg.gan_power > 0:
        discriminator = PatchDiscriminator(train_cfg.gan_dims).to(device, memory_format=memory_format)
        d_optimizer = torch.optim.Adam(discriminator.parameters(), lr=train_cfg.lr, betas=(0.5, 0.999))

    iteration = 0
    trained_seconds = 0.0  # wall time of earlier sessions of this run, for the history's time axis
    smoothed: dict[str, float] = {}
    history_path = opts.run_dir / "history.csv"
    history = []
    if resume_state is not None:
        try:
            model.load_state_dict(resume_state["model"])
            optimizer.load_state_dict(resume_state["optimizer"])
            if discriminator is not None and "discriminator" in resume_state:
                discriminator.load_state_dict(resume_state["discriminator"])
                d_optimizer.load_state_dict(resume_state["discriminator_optimizer"])
        except (RuntimeError, ValueError, KeyError) as e:
            first_line = str(e).strip().splitlines()[0]
            problem = f"weights do not fit model_config ({first_line})"
            raise user_error(opts.run_dir / CHECKPOINT_NAME, problem) from None
        iteration = resume_state["iteration"]
        trained_seconds = float(resume_state.get("trained_seconds", 0.0))
        smoothed = dict(resume_state["losses"])
        torch.set_rng_state(resume_state["rng"]["torch"])
        # Rows logged after the checkpoint describe steps that are about to be redone.
        history = [r for r in preview.read_history(history_path) if r["iteration"] <= iteration]
    del resume_state
    log.info(
        "model %s %d px, %.1fM parameters; A: %d train + %d val faces, B: %d + %d; %s on %s",
        model_cfg.arch,
        model_cfg.resolution,
        parameter_count(model) / 1e6,
        len(train_a),
        len(val_a),
        len(train_b),
        len(val_b),
        precision,
        device,
    )

    augment = data.AugmentConfig(
        random_warp=train_cfg.random_warp,
        random_flip=train_cfg.random_flip,
        affine_scale=train_cfg.affine_scale,
        affine_rotation=train_cfg.affine_rotation,
        affine_shift=train_cfg.affine_shift,
        color_jitter=train_cfg.color_jitter,
    )
    make = partial(
        data.make_batch,
        seed=seed,
        faces_a=train_a,
        faces_b=train_b,
        batch_size=train_cfg.batch_size,
        cfg=augment,
        yaw_balance=train_cfg.yaw_balance,
        color_transfer=train_cfg.color_transfer,
    )

    def save() -> Path:
        state = {
            "model_config": model_cfg.to_dict(),
            "train_config": train_cfg.to_dict(),
            "preset": opts.preset,
            "model": model.state_dict(),
            "optimizer": optimizer.state_dict(),
            "iteration": iteration,
            "losses": dict(smoothed),
            "rng": {"seed": seed, "torch": torch.get_rng_state()},
            "facesets": {"a": str(opts.faceset_a), "b": str(opts.faceset_b)},
            "trained_seconds": trained_seconds + time.perf_counter() - start,
        }
        if discriminator is not None:
            state["discriminator"] = discriminator.state_dict()
            state["discriminator_optimizer"] = d_optimizer.state_dict()
        path = opts.run_dir / CHECKPOINT_NAME
        save_checkpoint(path, state)
        return path

    tb = _tensorboard(opts.run_dir)

    def report(val_ssim: tuple[float, float], tiles: dict) -> None:
        """Preview grid, loss plot, CSV and TensorBoard, all at the current iteration."""
        row = {
            "iteration": iteration,
            "seconds": trained_seconds + time.perf_counter() - start,
            "val_ssim_aa": val_ssim[0],
            "val_ssim_bb": val_ssim[1],
        }
        if history and history[-1]["iteration"] == iteration:
            history[-1].update(row)
        else:
            history.append(row)
        preview.write_png(opts.run_dir / "preview.png", preview.preview_grid(tiles))
        preview.write_history(history_path, history)
        preview.plot_history(opts.run_dir / "loss.png", history)
        if tb is not None:
            tb.add_scalar("val/ssim_aa", val_ssim[0], iteration)
            tb.add_scalar("val/ssim_bb", val_ssim[1], iteration)
            tb.flush()

    # -------------------------------------------------------------------------------- loop
    start = time.perf_counter()
    val_start, tiles = validate(model, val_a, val_b, device, autocast)
    report(val_start, tiles)
    val_last = val_start
    loader = data.BatchLoader(iteration, make, workers=train_cfg.data_workers)
    bar = tqdm(total=opts.iters, initial=iteration, disable=not opts.progress, unit="it", dynamic_ncols=True)
    loop_start = last_preview = last_checkpoint = time.perf_counter()  # rates exclude the first validation
    wait_seconds = 0.0
    session_steps = 0
    weights_consistent = True
    try:
        with _StopRequest() as stop:
            while True:
                elapsed = time.perf_counter() - start
                if opts.iters is not None and iteration >= opts.iters:
                    break
                if opts.minutes is not None and elapsed >= opts.minutes * 60:
                    break
                if stop.requested:
                    raise KeyboardInterrupt
                progress = iteration / opts.iters if opts.iters else elapsed / (opts.minutes * 60)
                lr = learning_rate(train_cfg, iteration, progress)
                for group in optimizer.param_groups:
                    group["lr"] = lr

                t_wait = time.perf_counter()
                batch = loader.get()
                wait_seconds += time.perf_counter() - t_wait
                t = to_tensors(batch, device, memory_format)

                # forward in reduced precision; losses in fp32
                with autocast():
                    face_aa, mask_aa, face_bb, mask_bb = model(t["a_input"], t["b_input"])
                face_aa, mask_aa, face_bb, mask_bb = (x.float() for x in (face_aa, mask_aa, face_bb, mask_bb))
                loss, parts = autoencoder_loss((face_aa, mask_aa, face_bb, mask_bb), t, train_cfg)
                loss_gan = torch.zeros(())
                if discriminator is not None:
                    with autocast():
                        logits = discriminator(torch.cat([face_aa, face_bb]))
                    loss_gan = losses.gan_generator_loss(logits.float())
                    loss = loss + train_cfg.gan_power * loss_gan

                weights_consistent = False  # a second Ctrl-C from here on may leave a half-applied update
                optimizer.zero_grad(set_to_none=True)
                scaler.scale(loss).backward()
                scaler.unscale_(optimizer)
                torch.nn.utils.clip_grad_norm_(model.parameters(), train_cfg.grad_clip)
                scaler.step(optimizer)
                scaler.update()

                if discriminator is not None:
                    fake = torch.cat([face_aa, face_bb]).detach()
                    real = torch.cat([t["a_target"], t["b_target"]])
                    with autocast():
                        d_loss = losses.gan_discriminator_loss(discriminator(real).float(), discriminator(fake).float())
                    d_optimizer.zero_grad(set_to_none=True)
                    d_loss.backward()
                    d_optimizer.step()

                iteration += 1
                weights_consistent = True
                session_steps += 1
                bar.update(1)
                now = {name: v.item() for name, v in parts.items()}
                if not all(math.isfinite(v) for v in now.values()):
                    # The weights are already poisoned: stop without saving so the last checkpoint stays good.
                    raise UserError(
                        f"{opts.run_dir}: training diverged at iteration {iteration} (loss is not finite); "
                        "resume from the last checkpoint with a lower --lr"
                    )
                if discriminator is not None:
                    now["loss_gan"] = loss_gan.item()
                k = train_cfg.loss_smoothing if smoothed else 0.0
                smoothed = {name: k * smoothed.get(name, v) + (1 - k) * v for name, v in now.items()}

                tick = time.perf_counter()
                if iteration % LOG_EVERY == 0:
                    seconds = tick - start
                    row = {"iteration": iteration, "seconds": trained_seconds + seconds, "lr": lr, **smoothed}
                    row["loss"] = sum(smoothed.values())
                    row["samples_per_s"] = session_steps * train_cfg.batch_size * 2 / (tick - loop_start)
                    row["data_wait_share"] = wait_seconds / (tick - loop_start)
                    history.append(row)
                    bar.set_postfix(
                        a=f"{smoothed['loss_a']:.3f}",
                        b=f"{smoothed['loss_b']:.3f}",
                        ssim=f"{val_last[0]:.3f}/{val_last[1]:.3f}",
                        left="" if opts.minutes is None else f"{max(0.0, opts.minutes * 60 - seconds) / 60:.1f}m",
                    )
                    if tb is not None:
                        for name, v in smoothed.items():
                            tb.add_scalar(f"train/{name}", v, iteration)
                if tick - last_preview >= train_cfg.preview_minutes * 60:
                    val_last, tiles = validate(model, val_a, val_b, device, autocast)
                    report(val_last, tiles)
                    last_preview = time.perf_counter()
                if tick - last_checkpoint >= train_cfg.checkpoint_minutes * 60:
                    save()
                    last_checkpoint = time.perf_counter()
                if on_step is not None:
                    on_step(iteration)
    except KeyboardInterrupt:
        # The first Ctrl-C stops the loop between steps; only a second one can land mid-update,
        # and then the last good checkpoint must not be replaced by half-updated weights.
        preview.write_history(history_path, history)
        if weights_consistent:
            log.info("interrupted at iteration %d; checkpoint saved to %s", iteration, save())
        else:
            log.warning("interrupted mid-step: kept the previous checkpoint")
        raise
    finally:
        loader.close()
        bar.close()
        if tb is not None:
            tb.close()
    seconds = time.perf_counter() - start
    loop_seconds = max(time.perf_counter() - loop_start, 1e-9)
    val_end, tiles = validate(model, val_a, val_b, device, autocast)
    report(val_end, tiles)
    path = save()
    return TrainSummary(
        iteration=iteration,
        seconds=seconds,
        samples_per_s=session_steps * train_cfg.batch_size * 2 / loop_seconds,
        data_wait_share=wait_seconds / loop_seconds,
        val_ssim_start=val_start,
        val_ssim_end=val_end,
        checkpoint=path,
        device=str(device),
        precision=precision,
    )
