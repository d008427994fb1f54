"""TensorRT preparation of an exported model, so the first live frame on a GPU is not slow.

Two independent routes, each used when available:
1. ONNX Runtime's TensorRT execution provider: a session with engine and timing caches
   enabled is created and run once per batch size of the optimisation profile; the engines
   land in the cache dir and `engine.runtime` (same options, same cache dir) loads them.
2. The `tensorrt` Python package: a standalone serialized engine `MODEL.engine` built with the
   TensorRT builder API (explicit batch, one optimisation profile, FP16 if asked; QDQ int8
   models are quantized explicitly by their Q/DQ nodes), plus `MODEL.engine.json` holding the
   model's swapstream metadata, since an engine file cannot carry it.
Neither route exists on a CPU-only machine: then a UserError says so.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path

from swapstream.common.errors import user_error

log = logging.getLogger(__name__)

SIDECAR_FORMAT = "swapstream-tensorrt-engine"


@dataclass(frozen=True)
class TensorRTOptions:
    """cache_dir: engine + timing caches; fp16: allow FP16 kernels; max_batch: profile's largest batch."""

    cache_dir: Path
    fp16: bool = False
    max_batch: int = 8
    workspace_bytes: int = 2 << 30

    def __post_init__(self) -> None:
        if self.max_batch < 1:
            raise ValueError("max_batch must be >= 1")


@dataclass
class TensorRTReport:
    ep_cache: Path | None = None
    engine: Path | None = None
    sidecar: Path | None = None
    notes: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        out = list(self.notes)
        if self.ep_cache:
            out.append(f"ONNX Runtime TensorRT engine cache ready in {self.ep_cache}")
        if self.engine:
            out.append(f"standalone engine {self.engine} (metadata in {self.sidecar})")
        return out


def runtime_config(opts: TensorRTOptions):
    """The engine.runtime config whose TensorRT options match the caches built here."""
    from swapstream.engine.runtime.providers import RuntimeConfig

    return RuntimeConfig(
        providers=("tensorrt", "cuda", "cpu"),
        trt_fp16=opts.fp16,
        trt_cache_dir=opts.cache_dir,
        trt_max_workspace_bytes=opts.workspace_bytes,
        trt_max_batch=opts.max_batch,
    )


def profile_shapes(contract, max_batch: int) -> dict[str, tuple[int, ...]]:
    """min/opt/max input shapes of the optimisation profile (opt = batch 1, the live case)."""
    r = contract.resolution
    dims = (r, r, 3) if contract.input.layout == "NHWC" else (3, r, r)
    return {"min": (1, *dims), "opt": (1, *dims), "max": (max_batch, *dims)}


def sidecar_metadata(contract, opts: TensorRTOptions, tensorrt_version: str, engine_name: str) -> dict:
    """The JSON written next to a standalone engine: the model contract plus how it was built."""
    return {
        "format": SIDECAR_FORMAT,
        "version": 1,
        "engine": engine_name,
        "metadata": contract.to_metadata(),
        "build": {
            "tensorrt": tensorrt_version,
            "fp16": opts.fp16,
            "input": contract.input.name,
            "profile": {k: list(v) for k, v in profile_shapes(contract, opts.max_batch).items()},
        },
    }


def write_sidecar(path: Path, sidecar: dict) -> None:
    from swapstream.common.atomic_files import atomic_write_bytes

    atomic_write_bytes(path, (json.dumps(sidecar, indent=2) + "\n").encode())


def warm_ep_cache(model_path: Path, opts: TensorRTOptions, contract) -> Path:
    """Build ONNX Runtime TensorRT EP engines into the cache by running batch 1 and max_batch."""
    from swapstream.engine.runtime.swap_model import load_swap_model

    model = load_swap_model(model_path, runtime_config(opts))
    if model.provider != "tensorrt":
        raise user_error(model_path, f"TensorRT execution provider did not start (running on {model.provider})")
    for batch in sorted({1, opts.max_batch}):
        model.warmup(batch)
    return opts.cache_dir


def build_engine(model_path: Path, opts: TensorRTOptions, contract, trt) -> bytes:
    """Serialized TensorRT engine for the ONNX model, via the TensorRT builder API (module `trt`)."""
    logger = trt.Logger(trt.Logger.WARNING)
    builder = trt.Builder(logger)
    network = builder.create_network(0)  # TensorRT 10: networks are always explicit-batch
    parser = trt.OnnxParser(network, logger)
    if not parser.parse(model_path.read_bytes()):
        errors = "; ".join(str(parser.get_error(i)) for i in range(parser.num_errors))
        raise user_error(model_path, f"TensorRT cannot parse the model: {errors}")
    config = builder.create_builder_config()
    config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, opts.workspace_bytes)
    if opts.fp16:
        config.set_flag(trt.BuilderFlag.FP16)
    shapes = profile_shapes(contract, opts.max_batch)
    profile = builder.create_optimization_profile()
    profile.set_shape(contract.input.name, shapes["min"], shapes["opt"], shapes["max"])
    config.add_optimization_profile(profile)
    timing_path = opts.cache_dir / "timing.cache"
    timing = config.create_timing_cache(timing_path.read_bytes() if timing_path.is_file() else b"")
    config.set_timing_cache(timing, False)
    serialized = builder.build_serialized_network(network, config)
    if serialized is None:
        raise user_error(model_path, "TensorRT engine build failed (see the TensorRT log above)")
    opts.cache_dir.mkdir(parents=True, exist_ok=True)
    timing_path.write_bytes(bytes(memoryview(config.get_timing_cache().serialize())))
    return bytes(memoryview(serialized))


def prepare_tensorrt(model_path: str | Path, opts: TensorRTOptions) -> TensorRTReport:
    """Run every TensorRT route available here; UserError when none is (CPU-only machine)."""
    import onnxruntime as ort
    from swapstream.engine.runtime.swap_model import inspect_model

    from swapstream.common.atomic_files import atomic_write_bytes

    model_path = Path(model_path)
    contract = inspect_model(model_path)
    report = TensorRTReport()
    has_ep = "TensorrtExecutionProvider" in ort.get_available_providers()
    try:
        import tensorrt as trt
    except ImportError:
        trt = None
    if not has_ep and trt is None:
        raise user_error(
            model_path,
            "--tensorrt needs onnxruntime-gpu with the TensorRT execution provider or the `tensorrt` "
            "Python package (NVIDIA GPU machines only); neither is installed here. The .onnx model is written "
            "and runs on CPU/CUDA as is",
        )
    if has_ep:
        report.ep_cache = warm_ep_cache(model_path, opts, contract)
    else:
        report.notes.append("onnxruntime has no TensorRT execution provider: engine cache not built")
    if trt is not None:
        engine_path = model_path.with_suffix(".engine")
        atomic_write_bytes(engine_path, build_engine(model_path, opts, contract, trt))
        report.engine = engine_path
        report.sidecar = engine_path.with_name(engine_path.name + ".json")
        write_sidecar(report.sidecar, sidecar_metadata(contract, opts, trt.__version__, engine_path.name))
    else:
        report.notes.append("the tensorrt Python package is not installed: no standalone engine")
    return report
