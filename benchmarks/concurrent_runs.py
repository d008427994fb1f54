"""One batch of faces through the swap model three ways, interleaved: one run on one intra-op
thread, one run on two, and (what `convert` does on a host of at most 2 cores) the batch split
into one one-thread run per core, run at once (engine.runtime.providers.concurrent_runs).

    python benchmarks/concurrent_runs.py [--preset benchmarks/presets/equal_flops_df128.yaml]
        [--precision int8] [--batch 8] [--rounds 5]

The model is the preset's architecture with random weights, exported as `swapstream bench` does
(speed only). Every way runs once per round, in the same order; the report gives each way's
median over rounds, in ms per face.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
from swapstream.engine.runtime.providers import RuntimeConfig, usable_cores
from swapstream.engine.runtime.swap_model import load_swap_model

from swapstream.bench.inputs import cache_root, default_model
from swapstream.bench.report import cpu_name


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--preset", default="benchmarks/presets/equal_flops_df128.yaml")
    p.add_argument("--precision", default="int8")
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--rounds", type=int, default=5)
    args = p.parse_args()
    path = default_model(args.preset, args.precision, cache_root(None))[0]
    offline = load_swap_model(path, RuntimeConfig(providers=("cpu",), offline=True))
    ways = {
        "one run, 1 thread": load_swap_model(path, RuntimeConfig(providers=("cpu",), intra_op_threads=1)),
        "one run, 2 threads": load_swap_model(path, RuntimeConfig(providers=("cpu",), intra_op_threads=2)),
        f"convert's: {offline._runs} run(s) at once": offline,
    }
    r = next(iter(ways.values())).resolution
    faces = np.random.default_rng(0).integers(0, 256, (args.batch, r, r, 3), dtype=np.uint8)
    times: dict[str, list[float]] = {name: [] for name in ways}
    for model in ways.values():
        model.swap(faces)  # warm-up, untimed
    for _ in range(args.rounds):
        for name, model in ways.items():
            t = time.perf_counter()
            model.swap(faces)
            times[name].append(1e3 * (time.perf_counter() - t) / args.batch)
    print(f"{cpu_name()}, {usable_cores()} usable cores; {args.preset} {args.precision}, batch {args.batch}")
    for name, ms in times.items():
        print(f"{name:32s} median {statistics.median(ms):6.1f} ms per face")


if __name__ == "__main__":
    main()
