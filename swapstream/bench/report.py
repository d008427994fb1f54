"""What `swapstream bench` reports: the machine it ran on, a text table, JSON and a PNG.

The result dict is built by swapstream.bench.runs.measure; times are milliseconds, rates frames/s.
"""

from __future__ import annotations

import json
import math
import os
import platform
import shutil
import statistics
import subprocess
import time
from pathlib import Path

from swapstream.common.atomic_files import atomic_open
from swapstream.common.pipeline_contract import DEVICE_TIMING

# Stages in the order a frame meets them; the sink ('sink' live, 'write' convert) comes last.
STAGE_ORDER = ("capture", "detect", "align", "infer", "color", "steady", "blend")


def cpu_name() -> str:
    """The CPU's model name for benchmark headers ('unknown CPU' where /proc/cpuinfo says nothing)."""
    return _cpuinfo()[0] or platform.processor() or "unknown CPU"


def _cpuinfo() -> tuple[str, int, set[str]]:
    """(model name, physical cores, flags) from /proc/cpuinfo; ('', 0, set()) where it is absent."""
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return platform.processor(), 0, set()
    name, cores, flags, phys = "", set(), set(), "0"
    for line in text.splitlines():
        key, _, value = (part.strip() for part in line.partition(":"))
        if key == "model name" and not name:
            name = value
        elif key == "physical id":
            phys = value
        elif key == "core id":
            cores.add((phys, value))
        elif key == "flags" and not flags:
            flags = set(value.split())
    return name, len(cores), flags


def _gpu_names() -> list[str]:
    """NVIDIA GPU names from nvidia-smi, [] when there is none (the only GPUs the runtime uses)."""
    exe = shutil.which("nvidia-smi")
    if exe is None:
        return []
    try:
        query = [exe, "--query-gpu=name", "--format=csv,noheader"]
        out = subprocess.run(query, capture_output=True, text=True, timeout=10, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return []
    return [line.strip() for line in out.stdout.splitlines() if line.strip()] if out.returncode == 0 else []


def machine_info(runtime_cfg, model) -> dict:
    """CPU, cores, GPU and the thread counts of every library that runs a part of the engine."""
    import cv2
    import numba
    import onnxruntime as ort

    from swapstream.engine.runtime.providers import SPIN_WAIT_KEY

    name, physical, flags = _cpuinfo()
    physical = physical or os.cpu_count() or 1
    opts = model.session.get_session_options()
    # ONNX Runtime's 0 means one intra-op thread per physical core; inter-op threads only run
    # when execution mode is parallel, which engine/runtime/providers.py never sets.
    intra = opts.intra_op_num_threads or physical
    return {
        "cpu": name,
        "cpu_features": sorted(flags & {"avx2", "avx512f", "avx512_vnni", "avx512_bf16", "amx_int8", "amx_bf16"}),
        "logical_cores": os.cpu_count(),
        "usable_cores": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "physical_cores": physical,
        "gpu": ", ".join(_gpu_names()) or None,
        "threads": {
            "onnxruntime_intra_op": intra,
            "onnxruntime_intra_op_requested": runtime_cfg.intra_op_threads,
            "onnxruntime_inter_op": opts.inter_op_num_threads,
            "onnxruntime_execution_mode": str(opts.execution_mode).rsplit(".", 1)[-1],
            "onnxruntime_spin_wait": opts.get_session_config_entry(SPIN_WAIT_KEY) == "1",
            "numba": numba.get_num_threads(),
            "numba_layer": numba.config.THREADING_LAYER,
            "opencv": cv2.getNumThreads(),
        },
        "versions": {"python": platform.python_version(), "onnxruntime": ort.__version__, "numba": numba.__version__},
    }


def ordered_stages(stage_ms: dict) -> list[str]:
    known = [s for s in STAGE_ORDER if s in stage_ms]
    return known + [s for s in stage_ms if s not in STAGE_ORDER]


def _ms(v) -> str:
    return "   -  " if v is None or (isinstance(v, float) and math.isnan(v)) else f"{v:6.1f}"


def device_lines(run: dict) -> list[str]:
    """On the GPU frame path: each stage's device ms (p50, CUDA events) and the share of a frame's
    time the host side (capture = decode, detect) holds at the measured rate; [] on the CPU path."""
    stage_ms = run["stage_ms"]
    device = {k.removesuffix(DEVICE_TIMING).strip(): v["p50"] for k, v in stage_ms.items() if k.endswith(DEVICE_TIMING)}
    if not device:
        return []
    host = sum(stage_ms[k]["p50"] for k in ("capture", "detect") if k in stage_ms)
    frame_ms = 1000.0 / run["fps"] if run.get("fps") else float("nan")
    per_stage = ", ".join(f"{k} {v:.2f}" for k, v in device.items())
    return [
        f"GPU frame path, device ms p50: {per_stage} (total {sum(device.values()):.2f})",
        f"host side (capture + detect): {host:.1f} ms p50 = {100 * host / frame_ms:.0f}% of a frame "
        f"at {run['fps']:.1f} fps",
    ]


def format_table(r: dict) -> str:
    """The human summary: what ran where, per-stage p50/p95/p99, fps, latency, drops, speed-up."""
    src, m, mach, run, thr = r["source"], r["model"], r["machine"], r["run"], r["throughput"]
    t = mach["threads"]
    lines = [
        f"swapstream bench: {r['mode']} mode, {src['width']}x{src['height']} @ {src['fps']:.0f} fps "
        f"({src.get('original', src['path'])}), {run['source_frames']} frames "
        f"(+{r['warmup_frames']} warm-up, not counted)",
        f"model: {m['path']} ({m['format']} {m['arch'] or '-'} preset {m['preset'] or '-'}, {m['precision']}, "
        f"{m['face_type']} {m['resolution']} px)",
        f"weights: {m['weights']}",
        f"machine: {mach['cpu'] or 'unknown CPU'}, {mach['usable_cores']} usable / {mach['physical_cores']} physical "
        f"cores, GPU {mach['gpu'] or 'none'}; provider {m['provider']}",
        f"threads: onnxruntime intra-op {t['onnxruntime_intra_op']} (asked {t['onnxruntime_intra_op_requested']}, "
        f"0 = default, spin-wait {'on' if t['onnxruntime_spin_wait'] else 'off'}), "
        f"inter-op {t['onnxruntime_inter_op']} ({t['onnxruntime_execution_mode']}), "
        f"numba {t['numba']} ({t['numba_layer']}), opencv {t['opencv']}",
        "",
        f"{'stage':<9} {'p50':>6} {'p95':>6} {'p99':>6}  ms   | sequential p50",
    ]
    seq_stages = thr["sequential"]["stage_ms"]
    for name in ordered_stages(run["stage_ms"]):
        if name.endswith(DEVICE_TIMING):
            continue  # the GPU frame path's device milliseconds: their own line below
        v = run["stage_ms"][name]
        seq = seq_stages.get(name, {}).get("p50")
        lines.append(f"{name:<9} {_ms(v['p50'])} {_ms(v['p95'])} {_ms(v['p99'])}       | {_ms(seq)}")
    lines += device_lines(run)
    if r["mode"] == "live":
        lines.append("(live: the source is paced at the clip's frame rate; capture is decode time only)")
    lat = run["latency_ms"]
    headline = "live, paced at the clip's rate" if r["mode"] == "live" else "convert, unpaced"
    lines += [
        "",
        f"end to end ({headline}): {run['fps']:.1f} fps, {run['faces_swapped']} faces swapped, "
        f"{run['frames_without_face']} frames without a face, {run['dropped']} frames dropped{_drops_where(run)}",
        f"glass-to-glass latency ms: p50 {lat['p50']:.1f}  p95 {lat['p95']:.1f}  p99 {lat['p99']:.1f}  "
        f"mean {lat['mean']:.1f}  max {lat['max']:.1f}",
        f"throughput, unpaced, same components: pipelined {thr['pipelined_fps']:.1f} fps vs sequential loop "
        f"{thr['sequential_fps']:.1f} fps = {thr['speedup']:.2f}x",
    ]
    return "\n".join(lines)


def _json_safe(value):
    """NaN/inf -> None so the file is strict JSON (other tools reject NaN)."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    return value


def write_json(result: dict, path: Path) -> None:
    with atomic_open(path, "w") as f:
        f.write(json.dumps(_json_safe(result), indent=2, allow_nan=False) + "\n")


def write_plot(result: dict, path: Path) -> None:
    """PNG: per-stage p50 stacked bars for each run, and the glass-to-glass latency histogram."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    thr = result["throughput"]
    runs = [("sequential", thr["sequential"]), ("pipelined", thr["pipelined"])]
    if result["mode"] == "live":
        runs.append(("live (paced)", result["run"]))
    stages = ordered_stages(result["run"]["stage_ms"])
    fig, (bars, hist) = plt.subplots(1, 2, figsize=(12, 4.5))
    left = [0.0] * len(runs)
    cmap = plt.get_cmap("tab10")
    for k, name in enumerate(stages):
        widths = [r["stage_ms"].get(name, {}).get("p50") or 0.0 for _, r in runs]
        widths = [0.0 if math.isnan(w) else w for w in widths]
        bars.barh([n for n, _ in runs], widths, left=left, color=cmap(k % 10), label=name)
        left = [a + b for a, b in zip(left, widths, strict=True)]
    bars.set_xlabel("ms per frame (p50 per stage, stacked)")
    bars.set_title("per-stage time")
    bars.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8)
    samples = result["run"]["latency_samples_ms"]
    if samples:
        hist.hist(samples, bins=min(50, max(10, len(samples) // 5)), color="tab:blue")
        for q, style in (("p50", "-"), ("p95", "--"), ("p99", ":")):
            v = result["run"]["latency_ms"][q]
            hist.axvline(v, color="k", linestyle=style, label=f"{q} {v:.1f} ms")
        hist.legend(fontsize=8)
    hist.set_xlabel("glass-to-glass latency (ms)")
    hist.set_ylabel("frames")
    src, m = result["source"], result["model"]
    hist.set_title(f"{result['mode']}: {result['run']['fps']:.1f} fps, {result['run']['dropped']} dropped")
    fig.suptitle(
        f"swapstream bench: {src['width']}x{src['height']}, {m['arch'] or m['format']} {m['precision']} "
        f"{m['resolution']} px on {m['provider']}",
        fontsize=10,
    )
    fig.tight_layout()
    try:
        with atomic_open(path, "wb") as f:
            fig.savefig(f, format="png", dpi=100)
    finally:
        plt.close(fig)


def time_ms(fn, repeat: int, stat: str = "median", warmup: int = 1) -> float:
    """Wall-clock ms per call of fn over `repeat` calls after `warmup` untimed ones: their median or
    minimum. On a machine shared with other jobs the minimum estimates the uncontended cost; the
    median includes the time other processes took the core."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return 1e3 * (statistics.median(times) if stat == "median" else min(times))


def _drops_where(run: dict) -> str:
    """' (capture 120, pacing 3)': where the dropped frames were thrown away, when any were."""
    where = run.get("drops_by_stage") or {}
    return f" ({', '.join(f'{k} {v}' for k, v in where.items())})" if where else ""
