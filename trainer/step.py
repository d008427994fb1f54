"""One training step, and the device and precision it runs in.

train_step() is what the loop (trainer/train.py) does per iteration: the batch to tensors, the
forward pass in the run's precision, the losses in fp32, the autoencoder's update and, with a
GAN, the discriminator's. benchmarks/train_step.py times the same loss (autoencoder_loss).
"""

from __future__ import annotations

import contextlib
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch
from swapstream.trainer import data, losses
from swapstream.trainer.config import TrainConfig

from swapstream.common.errors import UserError

if TYPE_CHECKING:  # run_state imports this module for Compute
    from swapstream.trainer.run_state import Run


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


@dataclass(frozen=True)
class Compute:
    """Where and how a run computes. precision: 'fp32' | 'bf16' | 'fp16' ('auto' resolved);
    amp_dtype: the autocast dtype (None in fp32); memory_format: the layout of weights and faces."""

    device: torch.device
    precision: str
    amp_dtype: torch.dtype | None
    memory_format: torch.memory_format

    @classmethod
    def choose(cls, requested_precision: str, threads: int | None) -> Compute:
        """CUDA when there is one, else the CPU with `threads` intra-op threads (None: torch's default)."""
        device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
        if threads is not None:
            # On a CPU shared with other jobs, OpenMP threads that spin waiting for a descheduled peer
            # made a step ~10x slower than one thread (measured on the 2-core dev machine).
            torch.set_num_threads(threads)
        precision = resolve_precision(requested_precision, device)
        amp_dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(precision)
        # channels_last is what oneDNN's bf16 (AMX) and CUDA's fp16 kernels want; in fp32 on an AVX2 CPU
        # plain NCHW measured as fast or up to 8% faster (benchmarks/train_step.py).
        memory_format = torch.channels_last if amp_dtype is not None else torch.contiguous_format
        return cls(device, precision, amp_dtype, memory_format)

    def autocast(self) -> contextlib.AbstractContextManager:
        """The forward passes' context: autocast to amp_dtype, or nothing in fp32."""
        if self.amp_dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=self.amp_dtype)


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
    weights = _face_weights(cfg)
    parts = {
        "loss_a": losses.face_loss(face_aa, t["a_target"], t["a_mask"], t["a_region"], *weights),
        "loss_b": losses.face_loss(face_bb, t["b_target"], t["b_mask"], t["b_region"], *weights),
        "loss_mask": losses.mask_loss(mask_aa, t["a_mask"]) + losses.mask_loss(mask_bb, t["b_mask"]),
    }
    return parts["loss_a"] + parts["loss_b"] + cfg.mask_weight * parts["loss_mask"], parts


def cycle_loss(face_aba: torch.Tensor, t: dict[str, torch.Tensor], cfg: TrainConfig) -> torch.Tensor:
    """A's face loss (as autoencoder_loss's loss_a) of face_aba, A's faces swapped to B and back
    (SwapAutoencoder.cycle), against A's targets: fp32 scalar."""
    return losses.face_loss(face_aba, t["a_target"], t["a_mask"], t["a_region"], *_face_weights(cfg))


def _face_weights(cfg: TrainConfig) -> tuple[float, ...]:
    """losses.face_loss's weights after its faces, target, mask and regions."""
    return cfg.dssim_weight, cfg.mse_weight, cfg.eyes_mouth_weight, cfg.eyes_dssim_weight, cfg.edge_weight


def train_step(run: Run, batch: data.Batch, lr: float, gan: bool = True) -> dict[str, float]:
    """One update of run's networks on `batch` at learning rate `lr`; returns the step's losses.

    gan: whether the GAN term and the discriminator's step take part (when run has a discriminator).

    Advances run.iteration. run.updating is True from the first write to a gradient until the
    iteration count moves on: an interrupt in between leaves a half-applied update.
    """
    cfg, compute = run.train_cfg, run.compute
    for group in run.optimizer.param_groups:
        group["lr"] = lr
    t = to_tensors(batch, compute.device, compute.memory_format)
    # forward in reduced precision; losses in fp32
    with compute.autocast():
        outputs = run.model(t["a_input"], t["b_input"])
    face_aa, mask_aa, face_bb, mask_bb = (x.float() for x in outputs)
    loss, parts = autoencoder_loss((face_aa, mask_aa, face_bb, mask_bb), t, cfg)
    if cfg.cycle_weight > 0:
        with compute.autocast():
            face_aba = run.model.cycle(t["a_input"])
        parts["loss_cycle"] = cycle_loss(face_aba.float(), t, cfg)
        loss = loss + cfg.cycle_weight * parts["loss_cycle"]
    with_gan = gan and run.discriminator is not None
    if with_gan:
        with compute.autocast():
            logits = run.discriminator(torch.cat([face_aa, face_bb]))
        parts["loss_gan"] = losses.gan_generator_loss(logits.float())
        loss = loss + cfg.gan_power * parts["loss_gan"]

    run.updating = True
    run.optimizer.zero_grad(set_to_none=True)
    run.scaler.scale(loss).backward()
    run.scaler.unscale_(run.optimizer)
    torch.nn.utils.clip_grad_norm_(run.model.parameters(), cfg.grad_clip)
    run.scaler.step(run.optimizer)
    run.scaler.update()
    if with_gan:
        fake = torch.cat([face_aa, face_bb]).detach()
        real = torch.cat([t["a_target"], t["b_target"]])
        with compute.autocast():
            d_loss = losses.gan_discriminator_loss(run.discriminator(real).float(), run.discriminator(fake).float())
        run.d_optimizer.zero_grad(set_to_none=True)
        d_loss.backward()
        run.d_optimizer.step()
    run.iteration += 1
    run.updating = False
    return {name: v.item() for name, v in parts.items()}


def random_batch(model_cfg, batch: int, memory_format=None, device: str = "cpu") -> dict:
    """A batch of uniform noise with the keys and shapes train_step expects, for timing steps:
    float32 inputs (batch, 3, res, res), targets/masks/regions at the output resolution."""
    res, out = model_cfg.input_resolution, model_cfg.output_resolution
    memory_format = memory_format or torch.contiguous_format

    def faces(channels: int, size: int = out) -> torch.Tensor:
        return torch.rand(batch, channels, size, size, device=device).contiguous(memory_format=memory_format)

    return {
        "a_input": faces(3, res),
        "b_input": faces(3, res),
        "a_target": faces(3),
        "b_target": faces(3),
        "a_mask": faces(1),
        "b_mask": faces(1),
        "a_region": faces(1).round(),
        "b_region": faces(1).round(),
    }
