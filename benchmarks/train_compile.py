"""The `live` training step, eager against torch.compile (inductor), on one CPU thread, interleaved.

    python benchmarks/train_compile.py [--preset live] [--steps 20] [--mode default] [--fp32]

One step is trainer/step.py's work minus data loading: the model's forward under bf16 autocast
(as the trainer runs it on a CPU with native bf16; fp32 elsewhere), the trainer's own loss in fp32,
backward, gradient clipping, Adam. Inputs are random: speed does not depend on content. The
compiled model is torch.compile(model) of the same architecture and seed; its compile time (the
first two steps) is printed apart. Report: the median step of each, and eager / compiled.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
from swapstream.trainer.config import load_preset
from swapstream.trainer.model import build_model
from swapstream.trainer.step import autoencoder_loss, cpu_has_fast_bf16, random_batch

from swapstream.bench.report import cpu_name


def make_step(preset: str, compiled: bool, mode: str, dtype: torch.dtype):
    """A closure running one training step on fixed random faces."""
    model_cfg, train_cfg = load_preset(preset)
    torch.manual_seed(0)
    model = build_model(model_cfg)
    optimizer = torch.optim.Adam(model.parameters(), lr=train_cfg.lr, betas=(train_cfg.adam_beta1, 0.999))
    forward = torch.compile(model, mode=None if mode == "default" else mode) if compiled else model
    t = random_batch(model_cfg, train_cfg.batch_size)

    def step() -> None:
        with torch.autocast("cpu", dtype=dtype, enabled=dtype != torch.float32):
            outputs = forward(t["a_input"], t["b_input"])
        loss, _ = autoencoder_loss(tuple(x.float() for x in outputs), t, train_cfg)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), train_cfg.grad_clip)
        optimizer.step()

    return step


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--preset", default="live")
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--mode", default="default", help="torch.compile mode (default, reduce-overhead, max-autotune)")
    p.add_argument("--fp32", action="store_true", help="fp32 even where the CPU has native bf16 (as on AVX2-only CPUs)")
    args = p.parse_args()
    torch.set_num_threads(1)
    dtype = torch.bfloat16 if cpu_has_fast_bf16() and not args.fp32 else torch.float32  # the trainer's 'auto'

    eager = make_step(args.preset, False, args.mode, dtype)
    eager()
    compiled = make_step(args.preset, True, args.mode, dtype)
    started = time.perf_counter()
    compiled()
    compiled()
    compile_s = time.perf_counter() - started
    print(f"{cpu_name()}, 1 torch thread, torch {torch.__version__}, {dtype}; compile: {compile_s:.0f} s")
    times: dict[str, list[float]] = {"eager": [], "compiled": []}
    for _ in range(args.steps):
        for name, step in (("eager", eager), ("compiled", compiled)):
            t = time.perf_counter()
            step()
            times[name].append(time.perf_counter() - t)
    e, c = statistics.median(times["eager"]), statistics.median(times["compiled"])
    print(f"eager {e * 1e3:.0f} ms/step, compiled {c * 1e3:.0f} ms/step, eager / compiled {e / c:.2f}x")


if __name__ == "__main__":
    main()
