"""The bare training step of a preset: samples/s by batch size and memory format, side by side.

Usage:
    python benchmarks/train_step.py [--preset live] [--batch-sizes 2 4 8 16] [--steps 10] [--threads N]
One step is exactly what trainer/step.py does per iteration minus data loading: forward of A and
B, the trainer's own loss (trainer.step.autoencoder_loss), backward, gradient clipping, Adam.
Inputs are random (speed does not depend on content), so no faceset is needed. Each batch size
is run in NCHW and channels_last in the same process, alternating, and the table gives the median
step and the channels_last/NCHW time ratio. Pair it with benchmarks/time_to_quality.py: a smaller
batch gives more updates per minute but fewer samples per second, and only a run on real faces
says which wins.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
from swapstream.trainer.config import load_preset
from swapstream.trainer.model import build_model
from swapstream.trainer.step import autoencoder_loss, random_batch

from swapstream.bench.report import cpu_name


def make_step(preset: str, batch_size: int, memory_format: torch.memory_format):
    """A closure running one fp32 training step on fixed random faces; returns it after one warm-up call."""
    model_cfg, train_cfg = load_preset(preset)
    torch.manual_seed(0)
    model = build_model(model_cfg).to(memory_format=memory_format)
    optimizer = torch.optim.Adam(model.parameters(), lr=train_cfg.lr, betas=(train_cfg.adam_beta1, 0.999))
    t = random_batch(model_cfg, batch_size, memory_format)

    def step() -> None:
        loss, _ = autoencoder_loss(model(t["a_input"], t["b_input"]), t, train_cfg)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), train_cfg.grad_clip)
        optimizer.step()

    step()
    return step


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--preset", default="live")
    p.add_argument("--batch-sizes", nargs="+", type=int, default=[2, 4, 8, 16])
    p.add_argument("--steps", type=int, default=10, help="timed steps per configuration (default 10)")
    p.add_argument("--threads", type=int, help="torch threads (default: one per core)")
    args = p.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    threads = torch.get_num_threads()
    print(f"# {cpu_name()}, {threads} torch threads, torch {torch.__version__}, fp32, preset {args.preset}")
    print("| batch per identity | NCHW ms/step | samples/s | channels_last ms/step | samples/s | cl / NCHW |")
    print("|---|---|---|---|---|---|")
    formats = {"nchw": torch.contiguous_format, "cl": torch.channels_last}
    for bs in args.batch_sizes:
        steps = {name: make_step(args.preset, bs, fmt) for name, fmt in formats.items()}
        times: dict[str, list[float]] = {name: [] for name in formats}
        for _ in range(args.steps):
            for name, step in steps.items():  # alternate, so drift in machine load hits both alike
                t = time.perf_counter()
                step()
                times[name].append(time.perf_counter() - t)
        nchw, cl = statistics.median(times["nchw"]), statistics.median(times["cl"])
        cells = (bs, f"{nchw * 1e3:.0f}", f"{2 * bs / nchw:.1f}", f"{cl * 1e3:.0f}", f"{2 * bs / cl:.1f}")
        print("| " + " | ".join(map(str, cells)) + f" | {cl / nchw:.2f}x |", flush=True)


if __name__ == "__main__":
    main()
