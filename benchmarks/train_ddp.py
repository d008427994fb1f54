"""Training throughput in one process vs two DistributedDataParallel processes (torchrun, gloo on CPU).

Usage:
    python benchmarks/train_ddp.py -a FACESET_A -b FACESET_B [--preset live] [--iters 40]

Three real `swapstream train` runs of --iters iterations in fresh run dirs: one process with 1
thread, one process with all cores' threads, and `torchrun --standalone --nproc-per-node 2` (1
thread each, torchrun's default). Each step of the DDP run learns from 2 batches (one per rank),
so its samples/s counts both. Figures are the trainer's own summary (stepping only, the first
validation left out). Prints a Markdown table for benchmarks/results_log/.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

from swapstream.bench.report import cpu_name

SUMMARY = re.compile(r"to iteration (\d+) in ([\d.]+) min on \S+ \((\w+), (\d+) samples/s")


def run(cmd: list[str], env: dict) -> tuple[float, str]:
    done = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
    found = SUMMARY.search(done.stdout + done.stderr)
    if done.returncode != 0 or not found:
        raise SystemExit(f"{' '.join(cmd)} failed ({done.returncode}):\n{done.stderr[-2000:]}")
    return float(found.group(4)), found.group(3)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("-a", required=True, type=Path)
    p.add_argument("-b", required=True, type=Path)
    p.add_argument("--preset", default="live")
    p.add_argument("--iters", type=int, default=40)
    args = p.parse_args()
    cores = os.cpu_count() or 1
    rows = []
    with tempfile.TemporaryDirectory(prefix="train-ddp-") as tmp:
        base = ["-m", "swapstream", "train", "-a", str(args.a), "-b", str(args.b), "--preset", args.preset]
        base += ["--iters", str(args.iters), "--no-progress"]
        env = {**os.environ, "OMP_NUM_THREADS": "1"}
        setups = [
            ("1 process, 1 thread", [sys.executable, *base, "--threads", "1"], env),
            (f"1 process, {cores} threads", [sys.executable, *base, "--threads", str(cores)], dict(os.environ)),
            (
                "torchrun 2 processes x 1 thread",
                [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2", *base],
                env,
            ),
        ]
        for i, (name, cmd, run_env) in enumerate(setups):
            samples, precision = run([*cmd, "-o", str(Path(tmp) / f"run{i}")], run_env)
            rows.append((name, samples, precision))
    load = os.getloadavg()[0]
    print(f"preset {args.preset}, {args.iters} iterations; CPU: {cpu_name()}, {cores} CPUs; load average {load:.1f}\n")
    print("| setup | samples/s (both identities, all ranks) | precision |\n|---|---|---|")
    for name, samples, precision in rows:
        print(f"| {name} | {samples:.0f} | {precision} |")


if __name__ == "__main__":
    main()
