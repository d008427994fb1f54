"""Inference options side by side, interleaved in one process: precision (fp32 / fp16 / INT8 QDQ),
ONNX Runtime graph optimisation level and intra-op threads, per model, on the CPU provider.

    python benchmarks/inference_options.py [--presets live benchmarks/presets/equal_flops_df128.yaml]
        [--variants live:e_dims=24 live:d_dims=12] [--precisions fp32 fp16 int8]
        [--opt basic extended all] [--threads 1 2] [--rounds 3] [--repeat 10] [--json OUT]

Every model is the preset's architecture with random weights, exported once as `swapstream bench`
does (swapstream/bench/inputs.py, cached): weights do not change the work, so the times are the
trained model's. A variant is a preset with model keys overridden (e.g. a narrower encoder), for
its speed only. Every session is built through engine.runtime.providers.create_session (spin-wait
off, as the engine runs it). Each round times every (model, precision, level, threads) once, in a
shuffled order, `--repeat` batch-1 calls after a warm-up; the report gives each configuration's
median over rounds of the per-round median, its ratio to the fp32/all/1-thread session of the
same model, and GFLOP per face counted from the fp32 graph (convolutions and matrix products,
2 FLOP per multiply-add). The CPU's ISA flags are printed: figures hold for that ISA only.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import tempfile
from pathlib import Path

import numpy as np
import onnx
import yaml
from swapstream.engine.runtime.providers import RuntimeConfig, create_session

from swapstream.bench.inputs import cache_root, default_model
from swapstream.bench.report import cpu_name, time_ms

ISA_FLAGS = ("avx2", "avx512f", "avx512_vnni", "avx_vnni", "avx512_bf16", "avx512_fp16", "amx_tile", "amx_int8")


def cpu_isa() -> list[str]:
    """The inference-relevant ISA flags /proc/cpuinfo lists for this CPU."""
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return []
    flags = set()
    for line in text.splitlines():
        if line.startswith("flags"):
            flags |= set(line.partition(":")[2].split())
    return [f for f in ISA_FLAGS if f in flags]


def variant_preset(spec: str, work: Path) -> Path:
    """'live:e_dims=24,d_dims=12' -> a YAML preset (in `work`) of `live` with those model keys."""
    base, _, overrides = spec.partition(":")
    from swapstream.trainer.config import preset_path

    doc = yaml.safe_load(preset_path(base).read_text())
    for item in filter(None, overrides.split(",")):
        key, _, value = item.partition("=")
        doc["model"][key.strip()] = int(value)
    path = work / f"{Path(base).stem}_{overrides.replace('=', '').replace(',', '_')}.yaml"
    path.write_text(yaml.safe_dump({"model": doc["model"], "train": doc.get("train") or {}}))
    return path


def graph_gflop(path: Path) -> float:
    """GFLOP of one batch-1 call of an fp32 ONNX graph: Conv, ConvTranspose, MatMul, Gemm (2 per MAC)."""
    model = onnx.load(str(path))
    for inp in model.graph.input:  # pin the batch to 1 so every shape is known
        dims = inp.type.tensor_type.shape.dim
        if dims and not dims[0].dim_value:
            dims[0].dim_value = 1
    model = onnx.shape_inference.infer_shapes(model)
    shapes = {}
    for vi in [*model.graph.value_info, *model.graph.input, *model.graph.output]:
        shapes[vi.name] = [d.dim_value for d in vi.type.tensor_type.shape.dim]
    for init in model.graph.initializer:
        shapes[init.name] = list(init.dims)
    macs = 0
    for node in model.graph.node:
        if node.op_type in ("Conv", "ConvTranspose"):
            w, out = shapes.get(node.input[1]), shapes.get(node.output[0])
            if w and out:
                group = next((a.i for a in node.attribute if a.name == "group"), 1)
                per_out = int(np.prod(w[1:])) if node.op_type == "Conv" else int(np.prod(w[2:])) * w[0] // group
                macs += int(np.prod(out)) * per_out
        elif node.op_type in ("MatMul", "Gemm"):
            a, b = shapes.get(node.input[0]), shapes.get(node.input[1])
            if a and b:
                transposed = node.op_type == "Gemm" and any(x.name == "transB" and x.i for x in node.attribute)
                n = b[0] if transposed else b[-1]
                macs += int(np.prod(a)) * n
    return 2 * macs / 1e9


def build_models(presets: list[str], precisions: list[str], cache: Path) -> dict[tuple[str, str], Path]:
    """{(model name, precision): exported untrained model}, exported once and cached."""
    models = {}
    for preset in presets:
        for precision in precisions:
            models[(Path(preset).stem, precision)] = default_model(preset, precision, cache)[0]
    return models


def time_config(path: Path, level: str, threads: int, repeat: int) -> float:
    """Median ms of one batch-1 call of the model at `path` through create_session (CPU)."""
    cfg = RuntimeConfig(providers=("cpu",), intra_op_threads=threads, graph_optimization=level)
    session, _ = create_session(path, cfg)
    inp = session.get_inputs()[0]
    shape = [1 if not isinstance(d, int) else d for d in inp.shape]
    dtype = np.uint8 if "uint8" in inp.type else np.float32
    feed = {inp.name: np.random.default_rng(0).integers(0, 256, shape).astype(dtype)}
    return time_ms(lambda: session.run(None, feed), repeat, warmup=2)


def run_rounds(models, levels, threads, rounds: int, repeat: int) -> dict[tuple, list[float]]:
    configs = [(name, prec, lvl, thr) for (name, prec) in models for lvl in levels for thr in threads]
    times: dict[tuple, list[float]] = {c: [] for c in configs}
    rng = random.Random(0)
    for r in range(rounds):
        order = configs[:]
        rng.shuffle(order)
        for cfg in order:
            name, prec, lvl, thr = cfg
            times[cfg].append(time_config(models[(name, prec)], lvl, thr, repeat))
        print(f"round {r + 1}/{rounds} done", file=sys.stderr, flush=True)
    return times


def report(times: dict[tuple, list[float]], gflop: dict[str, float]) -> list[dict]:
    rows = []
    medians = {c: statistics.median(v) for c, v in times.items()}
    for (name, prec, lvl, thr), ms in sorted(medians.items()):
        base = medians.get((name, "fp32", "all", 1))
        rows.append(
            {
                "model": name,
                "gflop": round(gflop.get(name, float("nan")), 2),
                "precision": prec,
                "opt": lvl,
                "threads": thr,
                "ms": round(ms, 2),
                "rounds_ms": [round(t, 2) for t in times[(name, prec, lvl, thr)]],
                "speed_vs_fp32_all_1t": round(base / ms, 2) if base else None,
            }
        )
    print("| model | GFLOP | precision | graph opt | threads | ms/face (median) | x fp32/all/1t | rounds |")
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        rounds = " / ".join(f"{t:.1f}" for t in r["rounds_ms"])
        print(
            f"| {r['model']} | {r['gflop']:.2f} | {r['precision']} | {r['opt']} | {r['threads']} | "
            f"{r['ms']:.2f} | {r['speed_vs_fp32_all_1t']} | {rounds} |"
        )
    return rows


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--presets", nargs="+", default=["live", "benchmarks/presets/equal_flops_df128.yaml"])
    p.add_argument("--variants", nargs="*", default=[], help="PRESET:key=value[,key=value] (speed only)")
    p.add_argument("--precisions", nargs="+", default=["fp32", "fp16", "int8"])
    p.add_argument("--opt", nargs="+", default=["basic", "extended", "all"])
    p.add_argument("--threads", nargs="+", type=int, default=[1, 2])
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--repeat", type=int, default=10)
    p.add_argument("--json", type=Path, default=None)
    args = p.parse_args()
    cache = cache_root(None)
    cache.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.gettempdir()) / "swapstream-inference-options"
    work.mkdir(exist_ok=True)
    presets = [*args.presets, *(str(variant_preset(v, work)) for v in args.variants)]
    models = build_models(presets, args.precisions, cache)
    gflop = {Path(p).stem: graph_gflop(models[(Path(p).stem, "fp32")]) for p in presets if "fp32" in args.precisions}
    isa = cpu_isa()
    print(f"CPU: {cpu_name()}; ISA: {' '.join(isa)}; models: {', '.join(sorted(gflop))}", file=sys.stderr)
    times = run_rounds(models, args.opt, args.threads, args.rounds, args.repeat)
    rows = report(times, gflop)
    if args.json:
        args.json.write_text(json.dumps({"cpu": cpu_name(), "isa": isa, "rows": rows}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
