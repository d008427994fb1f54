"""GPU readiness: does swapstream train, export and infer on this machine's NVIDIA GPU?

Usage:
    scripts/gpu-check.sh [--presets live balanced quality] [--steps 20] [--train-iters 40] [--json out.json]

Four checks, each reported on its own (one failing does not hide the others):
  1. training steps on CUDA for each preset under fp16 and bf16 autocast with channels_last
     (weights and faces), the trainer's own loss, GradScaler for fp16: iterations/s and peak memory;
     bf16 is skipped where the GPU has no bf16 (before Ampere);
  2. a real training run on CUDA (the trainer's loop, `demo` preset, tiny facesets extracted from
     the public-domain portraits), exported to ONNX fp32 and fp16 with the exporter's verification
     against PyTorch;
  3. inference of that export through ONNX Runtime's CUDA and TensorRT execution providers where
     onnxruntime-gpu has them: ms per face at batch 1 and 8, and which provider really ran (a
     provider that fails to start falls back to CPU, and is reported so);
  4. with the `tensorrt` Python package: a standalone engine built from the export, and run;
  5. with --engine-pack: the engine's GPU frame path against its CPU path on a prepared clip
     (benchmarks/gpu_engine_check.py: fps at 720p and 1080p, per-stage host and device ms, live
     p50/p99, pixel agreement); --engine-only runs just this one (it needs Numba CUDA, not torch).
On a machine without CUDA (no GPU, or a CPU build of torch) it says so and exits 0. Exit 1 when a
check failed on a machine with CUDA.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from pathlib import Path

PRECISIONS = ("fp16", "bf16")


def no_cuda_reason() -> str | None:
    """Why CUDA cannot be used here (None: it can)."""
    try:
        import torch
    except ImportError:
        return "torch is not installed"
    if torch.cuda.is_available():
        return None
    build = "a CPU-only build" if torch.version.cuda is None else f"built for CUDA {torch.version.cuda}"
    return f"torch {torch.__version__} ({build}) sees no CUDA device"


def train_speed(preset: str, precision: str, steps: int, batch: int | None = None, device: str = "cuda") -> dict:
    """Iterations/s of the autoencoder's training step on CUDA (random faces: speed does not depend
    on content) under `precision` autocast with channels_last; the losses in fp32, as the trainer.
    device='cpu' runs the same code on the CPU (the test of this script on a machine without CUDA)."""
    import torch
    from swapstream.trainer.config import load_preset
    from swapstream.trainer.model import build_model
    from swapstream.trainer.step import autoencoder_loss, random_batch

    dtype = {"fp16": torch.float16, "bf16": torch.bfloat16}[precision]
    if precision == "bf16" and device == "cuda" and not torch.cuda.is_bf16_supported():
        return {"preset": preset, "precision": precision, "skipped": "this GPU has no bf16"}
    model_cfg, train_cfg = load_preset(preset)
    batch = batch or train_cfg.batch_size
    torch.manual_seed(0)
    model = build_model(model_cfg).to(device, memory_format=torch.channels_last)
    optimizer = torch.optim.Adam(model.parameters(), lr=train_cfg.lr)
    scaler = torch.amp.GradScaler(device, enabled=precision == "fp16")
    t = random_batch(model_cfg, batch, torch.channels_last, device)
    cuda = device == "cuda"

    def step() -> float:
        with torch.autocast(device, dtype=dtype):
            outputs = model(t["a_input"], t["b_input"])
        loss, _ = autoencoder_loss(tuple(x.float() for x in outputs), t, train_cfg)
        optimizer.zero_grad(set_to_none=True)
        scaler.scale(loss).backward()
        scaler.unscale_(optimizer)
        torch.nn.utils.clip_grad_norm_(model.parameters(), train_cfg.grad_clip)
        scaler.step(optimizer)
        scaler.update()
        return float(loss.detach())

    for _ in range(3):  # cuDNN autotuning, allocator warm-up
        step()
    if cuda:
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    t0 = time.perf_counter()
    for _ in range(steps):
        loss = step()  # float(): waits for the step's kernels
    seconds = time.perf_counter() - t0
    return {
        "preset": preset,
        "precision": precision,
        "batch": batch,
        "iters_per_s": steps / seconds,
        "samples_per_s": steps * batch / seconds,
        "peak_mib": torch.cuda.max_memory_allocated() / 2**20 if cuda else float("nan"),
        "loss_finite": math.isfinite(loss),
    }


def _facesets(tmp: Path) -> tuple[Path, Path]:
    """Tiny facesets A (astronaut) and B (Grace Hopper) from moving clips of the public-domain photos."""
    from swapstream.trainer.extract import ExtractConfig, extract

    from swapstream.demo.media import astronaut_bgr, grace_hopper_bgr, motion_frames, write_video

    out = []
    for name, photo, seed in (("a", astronaut_bgr(), 3), ("b", grace_hopper_bgr(), 2)):
        clip = tmp / f"{name}.mp4"
        write_video(motion_frames(photo, 48, seed=seed, mirror=True), clip)
        extract([clip], tmp / f"faceset_{name}", ExtractConfig(face_type="whole", size=128, every=2), progress=False)
        out.append(tmp / f"faceset_{name}")
    return out[0], out[1]


def cuda_trained_export(tmp: Path, iters: int) -> dict:
    """Train the `demo` preset on CUDA through the trainer's loop, then export it (fp32 and fp16)."""
    from swapstream.export.exporter import ExportOptions, export_model
    from swapstream.trainer.run_state import RunOptions
    from swapstream.trainer.train import train

    fs_a, fs_b = _facesets(tmp)
    run_dir = tmp / "run"
    summary = train(RunOptions(fs_a, fs_b, run_dir, "demo", iters=iters, progress=False))
    if not summary.device.startswith("cuda"):
        raise RuntimeError(f"the trainer ran on {summary.device}, not on CUDA")
    result = {
        "device": summary.device,
        "precision": summary.precision,
        "iterations": summary.iteration,
        "samples_per_s": summary.samples_per_s,
        "exports": {},
    }
    for precision in ("fp32", "fp16"):
        path = tmp / f"model_{precision}.onnx"
        report = export_model(run_dir, path, ExportOptions(precision=precision))
        result["exports"][precision] = {"path": str(path), "report": report.lines()}
    return result


def _time_swap(model, batch: int, repeat: int) -> float:
    """Median ms per face of model.swap on `batch` random faces (after a warm-up)."""
    import numpy as np

    r = model.resolution
    faces = np.random.default_rng(0).integers(0, 256, (batch, r, r, 3), dtype=np.uint8)
    for _ in range(3):
        model.swap(faces)
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        model.swap(faces)
        times.append(time.perf_counter() - t0)
    return statistics.median(times) * 1000 / batch


def provider_inference(model_path: Path, tmp: Path, repeat: int) -> list[dict]:
    """ms per face through each GPU execution provider this onnxruntime has, and the one that ran."""
    import onnxruntime as ort
    from swapstream.engine.runtime.providers import RuntimeConfig
    from swapstream.engine.runtime.swap_model import load_swap_model

    available = ort.get_available_providers()
    rows = []
    for wanted, ep in (("cuda", "CUDAExecutionProvider"), ("tensorrt", "TensorrtExecutionProvider")):
        if ep not in available:
            rows.append({"asked": wanted, "skipped": f"onnxruntime {ort.__version__} has no {ep} ({available})"})
            continue
        chain = ("tensorrt", "cuda", "cpu") if wanted == "tensorrt" else ("cuda", "cpu")
        cfg = RuntimeConfig(providers=chain, trt_cache_dir=tmp / "trt_cache", trt_fp16=wanted == "tensorrt")
        t0 = time.perf_counter()
        model = load_swap_model(model_path, cfg)
        load_s = time.perf_counter() - t0
        row = {"asked": wanted, "ran_on": model.provider, "load_s": load_s}
        row |= {f"ms_per_face_b{b}": _time_swap(model, b, repeat) for b in (1, 8)}
        rows.append(row)
    return rows


def _trt_dtype(trt, torch, dtype):
    d = trt.DataType
    return {d.UINT8: torch.uint8, d.FLOAT: torch.float32, d.HALF: torch.float16, d.INT32: torch.int32}[dtype]


def tensorrt_engine(model_path: Path, tmp: Path, repeat: int) -> dict:
    """Build the standalone engine as `swapstream export --tensorrt` does, and run it (batch 8)."""
    try:
        import tensorrt as trt
    except ImportError:
        return {"skipped": "the tensorrt Python package is not installed"}
    import torch
    from swapstream.engine.runtime.swap_model import inspect_model
    from swapstream.export.tensorrt import TensorRTOptions, build_engine

    contract = inspect_model(model_path)
    t0 = time.perf_counter()
    serialized = build_engine(model_path, TensorRTOptions(tmp / "trt_engine", fp16=True), contract, trt)
    build_s = time.perf_counter() - t0
    engine = trt.Runtime(trt.Logger(trt.Logger.WARNING)).deserialize_cuda_engine(serialized)
    context = engine.create_execution_context()
    r, batch = contract.resolution, 8
    context.set_input_shape(contract.input.name, (batch, r, r, 3))
    buffers = {}
    for i in range(engine.num_io_tensors):
        name = engine.get_tensor_name(i)
        shape = tuple(context.get_tensor_shape(name))
        buffers[name] = torch.zeros(shape, dtype=_trt_dtype(trt, torch, engine.get_tensor_dtype(name)), device="cuda")
        context.set_tensor_address(name, buffers[name].data_ptr())
    buffers[contract.input.name].random_(0, 256)
    stream = torch.cuda.current_stream()
    times = []
    for i in range(repeat + 3):
        torch.cuda.synchronize()
        t0 = time.perf_counter()
        if not context.execute_async_v3(stream.cuda_stream):
            raise RuntimeError("TensorRT execute_async_v3 returned False")
        stream.synchronize()
        if i >= 3:
            times.append(time.perf_counter() - t0)
    ms = statistics.median(times) * 1000 / batch
    return {"tensorrt": trt.__version__, "build_s": build_s, "fp16": True, "ms_per_face_b8": ms}


def _run_check(name: str, fn: Callable[[], object], results: dict) -> None:
    """Run one check, print what it gave, keep going when it fails."""
    print(f"\n== {name}", flush=True)
    t0 = time.perf_counter()
    try:
        results[name] = fn()
        print(json.dumps(results[name], indent=1, default=str))
    except Exception as e:  # a readiness check reports every failure and goes on
        results[name] = {"failed": f"{type(e).__name__}: {e}"}
        traceback.print_exc()
        print(f"FAILED: {e}")
    print(f"({time.perf_counter() - t0:.1f} s)", flush=True)


def run_checks(args: argparse.Namespace, tmp: Path) -> dict:
    import torch
    from swapstream.trainer.config import available_presets

    results: dict = {"gpu": torch.cuda.get_device_name(0), "torch": torch.__version__, "cuda": torch.version.cuda}
    print(f"GPU: {results['gpu']}; torch {results['torch']} with CUDA {results['cuda']}")
    for preset in args.presets or available_presets():
        for precision in PRECISIONS:
            _run_check(
                f"train {preset} {precision}", lambda p=preset, q=precision: train_speed(p, q, args.steps), results
            )
    _run_check("export of a CUDA-trained run", lambda: cuda_trained_export(tmp, args.train_iters), results)
    exported = tmp / "model_fp32.onnx"
    if exported.is_file():
        _run_check("inference providers", lambda: provider_inference(exported, tmp, args.repeat), results)
        _run_check("tensorrt engine", lambda: tensorrt_engine(exported, tmp, args.repeat), results)
    if args.engine_pack is not None:
        engine = _engine_module()
        _run_check("engine frame path", lambda: engine.engine_check(args.engine_pack, args.live_seconds), results)
    return results


def _engine_module():
    try:
        from benchmarks import gpu_engine_check
    except ImportError:  # run as a script: benchmarks/ itself is on sys.path
        import gpu_engine_check
    return gpu_engine_check


def engine_only(args: argparse.Namespace) -> int:
    """The engine check alone (the one-command device check); exit 1 when it failed."""
    if args.engine_pack is None:
        print("--engine-only needs --engine-pack (make one with `benchmarks/gpu_engine_check.py prepare`)")
        return 2
    from swapstream.engine.gpu.availability import cuda_problem

    problem = cuda_problem()
    if problem:
        print(f"no CUDA: {problem}. The engine check would compare the CPU path with itself; it runs anyway")
    engine = _engine_module()
    results: dict = {}
    _run_check("engine frame path", lambda: engine.engine_check(args.engine_pack, args.live_seconds), results)
    run = results["engine frame path"]
    print("\n== summary\n" + "\n".join(engine.summary_lines(run) if "failed" not in run else [run["failed"]]))
    if args.json:
        args.json.write_text(json.dumps(results, indent=1, default=str) + "\n")
    return 1 if "failed" in run else 0


def failures(results: dict) -> list[str]:
    """The checks that failed, and the providers asked for that did not run (a fall-back)."""
    failed = [name for name, r in results.items() if isinstance(r, dict) and "failed" in r]
    rows = results.get("inference providers")
    for row in rows if isinstance(rows, list) else []:
        if "ran_on" in row and row["ran_on"] != row["asked"]:
            failed.append(f"{row['asked']} provider (fell back to {row['ran_on']})")
    return failed


def summary_lines(results: dict) -> list[str]:
    lines = []
    for name, r in results.items():
        if not isinstance(r, dict) or not name.startswith("train "):
            continue
        done = "iters_per_s" in r
        got = f"{r['iters_per_s']:.1f} it/s at batch {r['batch']}, {r['peak_mib']:.0f} MiB" if done else ""
        lines.append(f"{name}: {got or r.get('skipped') or r.get('failed')}")
    run = results.get("export of a CUDA-trained run") or {}
    if "exports" in run:
        lines.append(f"CUDA-trained run ({run['iterations']} iterations, {run['precision']}) exported: fp32, fp16")
    rows = results.get("inference providers")
    for row in rows if isinstance(rows, list) else []:
        if "ran_on" in row:
            lines.append(
                f"inference asked {row['asked']}, ran on {row['ran_on']}: {row['ms_per_face_b1']:.2f} ms/face "
                f"at batch 1, {row['ms_per_face_b8']:.2f} at batch 8"
            )
        else:
            lines.append(f"inference {row['asked']}: {row['skipped']}")
    engine = results.get("tensorrt engine") or {}
    if "ms_per_face_b8" in engine:
        lines.append(f"standalone TensorRT {engine['tensorrt']} engine (fp16): {engine['ms_per_face_b8']:.2f} ms/face")
    failed = failures(results)
    lines.append(f"FAILED: {'; '.join(failed)}" if failed else "every check passed")
    return lines


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--presets", nargs="+", help="presets (names or YAML paths) to time (default: every shipped one)")
    p.add_argument("--steps", type=int, default=20, help="timed training steps per preset and precision")
    p.add_argument("--train-iters", type=int, default=40, help="iterations of the real CUDA run that is exported")
    p.add_argument("--repeat", type=int, default=50, help="timed inference calls per batch size")
    p.add_argument("--json", type=Path, help="write every result here")
    p.add_argument("--engine-pack", type=Path, help="a pack made by `benchmarks/gpu_engine_check.py prepare`")
    p.add_argument("--engine-only", action="store_true", help="only the engine check (needs --engine-pack)")
    p.add_argument("--live-seconds", type=float, default=5.0, help="engine check: seconds of live per size")
    args = p.parse_args(argv)
    if args.engine_only:
        return engine_only(args)
    reason = no_cuda_reason()
    if reason is not None:
        print(
            f"no CUDA: {reason}. Nothing to check on this machine: run scripts/gpu-check.sh on one with an NVIDIA GPU"
        )
        return 0
    with tempfile.TemporaryDirectory(prefix="gpu-check-") as tmp:
        results = run_checks(args, Path(tmp))
    print("\n== summary\n" + "\n".join(summary_lines(results)))
    if args.json:
        args.json.write_text(json.dumps(results, indent=1, default=str) + "\n")
    return 1 if failures(results) else 0


if __name__ == "__main__":
    sys.exit(main())
