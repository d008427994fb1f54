"""The one place ONNX Runtime inference sessions are built.

Every model the engine or the exporter runs goes through `create_session`, so provider order,
per-provider options and thread counts are decided here and nowhere else.

Provider names used in configuration are short: 'tensorrt', 'cuda', 'cpu' (or 'auto': every
accelerator this onnxruntime build offers, fastest first, then CPU). ONNX Runtime does not fail
when an accelerator cannot start (e.g. onnxruntime-gpu without CUDA libraries or without a GPU):
it logs and runs on CPU. `create_session` therefore reads `session.get_providers()` after
creation, returns the provider really in use and warns when it is not the one asked for.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path

import onnxruntime as ort

from swapstream.common.choices import FRAME_DEVICES

log = logging.getLogger(__name__)

# short name -> ONNX Runtime execution provider name
EXECUTION_PROVIDERS = {
    "tensorrt": "TensorrtExecutionProvider",
    "cuda": "CUDAExecutionProvider",
    "cpu": "CPUExecutionProvider",
}
# 'auto' tries these in this order (fastest first); CPU always ends the list.
AUTO_ORDER = ("tensorrt", "cuda", "cpu")
_SHORT_NAMES = {v: k for k, v in EXECUTION_PROVIDERS.items()}
_GRAPH_OPTIMIZATION = {
    "disable": ort.GraphOptimizationLevel.ORT_DISABLE_ALL,
    "basic": ort.GraphOptimizationLevel.ORT_ENABLE_BASIC,
    "extended": ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED,
    "all": ort.GraphOptimizationLevel.ORT_ENABLE_ALL,
}
_CUDNN_SEARCH = ("EXHAUSTIVE", "HEURISTIC", "DEFAULT")
SPIN_WAIT_KEY = "session.intra_op.allow_spinning"  # ONNX Runtime's session config key
# /proc/cpuinfo flags of an INT8 dot-product unit (VNNI, AMX), which ONNX Runtime's INT8 kernels use.
INT8_DOT_FLAGS = frozenset({"avx512_vnni", "avx_vnni", "amx_int8"})
# Hosts of at most this many usable cores get the thread rules measured on 2-core machines
# (auto_intra_op_threads, concurrent_runs); larger ones keep ONNX Runtime's default.
SMALL_HOST_CORES = 2


@dataclass(frozen=True)
class RuntimeConfig:
    """How to run a model. Built once at the edge (CLI flags or YAML), then passed down.

    providers: short names in order of preference, or ('auto',).
    intra_op_threads / inter_op_threads: 0 picks a default: intra-op by the CPU and the work
        (auto_intra_op_threads), inter-op by ONNX Runtime.
    offline: the session serves an offline conversion (every frame kept, as fast as possible),
        not a live stream: on a host of at most 2 cores each batch then runs as one one-thread run
        per core, at once (concurrent_runs, auto_intra_op_threads).
    spin_wait: let the intra-op threads busy-wait for work between runs. Off by default: the
        engine runs every stage on its own thread, and spinning inference threads took the cores
        from them (2-core Xeon, live 1280x720: glass-to-glass p99 48-60 ms off, 66-100 ms on;
        benchmarks/results_log/2026-11-to-2026-12-06.md, "Inference threads that sleep").
        Worth it only when inference runs alone.
    device_id: GPU index for the CUDA and TensorRT providers.
    trt_fp16: let TensorRT build FP16 kernels (the model file can stay fp32).
    trt_cache_dir: where TensorRT engines and timing caches are kept, so only the first run of a
        model on a GPU pays the build (minutes); None disables both caches.
    trt_max_workspace_bytes: TensorRT builder scratch memory.
    trt_max_batch: the largest batch the TensorRT optimisation profile covers.
    cudnn_conv_algo_search: EXHAUSTIVE benchmarks convolutions once (best for fixed shapes).
    graph_optimization: 'disable' | 'basic' | 'extended' | 'all'.
    frame_device: where the swap's per-pixel work runs: 'auto' | 'cpu' | 'cuda'
        (common.choices.FRAME_DEVICES; engine/gpu/availability.py decides and says why).
    cuda_graph: let the CUDA (or TensorRT) provider capture its run as a CUDA graph and replay
        it; needs inputs and outputs bound to fixed device buffers (the device frame path's IO
        binding) and one fixed shape (live, batch 1).
    """

    providers: tuple[str, ...] = ("auto",)
    intra_op_threads: int = 0
    inter_op_threads: int = 0
    offline: bool = False
    spin_wait: bool = False
    device_id: int = 0
    trt_fp16: bool = False
    trt_cache_dir: Path | None = None
    trt_max_workspace_bytes: int = 2 << 30
    trt_max_batch: int = 8
    cudnn_conv_algo_search: str = "EXHAUSTIVE"
    graph_optimization: str = "all"
    frame_device: str = "auto"
    cuda_graph: bool = False

    def __post_init__(self) -> None:
        names = tuple(p.strip().lower() for p in self.providers)
        if not names:
            raise ValueError("RuntimeConfig.providers is empty")
        unknown = [p for p in names if p != "auto" and p not in EXECUTION_PROVIDERS]
        if unknown:
            known = ", ".join(EXECUTION_PROVIDERS)
            raise ValueError(f"unknown execution provider {unknown[0]!r}; known: auto, {known}")
        if "auto" in names and len(names) > 1:
            raise ValueError("'auto' cannot be combined with explicit providers")
        object.__setattr__(self, "providers", names)
        if self.intra_op_threads < 0 or self.inter_op_threads < 0:
            raise ValueError("thread counts must be >= 0 (0 = let ONNX Runtime decide)")
        if self.trt_max_batch < 1:
            raise ValueError("trt_max_batch must be >= 1")
        if self.cudnn_conv_algo_search not in _CUDNN_SEARCH:
            raise ValueError(f"cudnn_conv_algo_search must be one of {', '.join(_CUDNN_SEARCH)}")
        if self.graph_optimization not in _GRAPH_OPTIMIZATION:
            raise ValueError(f"graph_optimization must be one of {', '.join(_GRAPH_OPTIMIZATION)}")
        if self.trt_cache_dir is not None:
            object.__setattr__(self, "trt_cache_dir", Path(self.trt_cache_dir))
        if self.frame_device not in FRAME_DEVICES:
            raise ValueError(f"frame device must be one of {', '.join(FRAME_DEVICES)}, got {self.frame_device!r}")


@dataclass(frozen=True)
class TrtProfile:
    """A TensorRT optimisation profile for one dynamic-batch input of shape (batch, *dims).

    Without it TensorRT rebuilds its engine every time a new batch size appears.
    """

    input_name: str
    dims: tuple[int, ...]
    max_batch: int
    opt_batch: int = 1

    def options(self) -> dict[str, str]:
        def shape(batch: int) -> str:
            return f"{self.input_name}:" + "x".join(str(d) for d in (batch, *self.dims))

        return {
            "trt_profile_min_shapes": shape(1),
            "trt_profile_opt_shapes": shape(min(self.opt_batch, self.max_batch)),
            "trt_profile_max_shapes": shape(self.max_batch),
        }


def short_name(execution_provider: str) -> str:
    """'CUDAExecutionProvider' -> 'cuda'; unknown providers keep their full name."""
    return _SHORT_NAMES.get(execution_provider, execution_provider)


def provider_options(name: str, cfg: RuntimeConfig, trt_profile: TrtProfile | None = None) -> dict[str, str]:
    """ONNX Runtime options for one provider (short name). Values are strings, as ORT documents."""
    if name == "tensorrt":
        opts = {
            "device_id": str(cfg.device_id),
            "trt_fp16_enable": str(cfg.trt_fp16),
            "trt_max_workspace_size": str(cfg.trt_max_workspace_bytes),
        }
        if cfg.trt_cache_dir is not None:
            cache = str(cfg.trt_cache_dir)
            opts |= {
                "trt_engine_cache_enable": "True",
                "trt_engine_cache_path": cache,
                "trt_timing_cache_enable": "True",
                "trt_timing_cache_path": cache,
            }
        if trt_profile is not None:
            opts |= trt_profile.options()
        if cfg.cuda_graph:
            opts["trt_cuda_graph_enable"] = "True"
        return opts
    if name == "cuda":
        return {
            "device_id": str(cfg.device_id),
            "cudnn_conv_algo_search": cfg.cudnn_conv_algo_search,
            # Tensors of the next frame are copied on the stream the kernels run on: no sync gap.
            "do_copy_in_default_stream": "True",
            "arena_extend_strategy": "kSameAsRequested",
        } | ({"enable_cuda_graph": "1"} if cfg.cuda_graph else {})
    if name == "cpu":
        return {}
    raise ValueError(f"unknown execution provider {name!r}")


def resolve_providers(cfg: RuntimeConfig, available: list[str] | None = None) -> list[str]:
    """The short provider names to ask ONNX Runtime for, in order; CPU always last.

    Providers this onnxruntime build does not have are dropped (`create_session` reports it).
    """
    available = ort.get_available_providers() if available is None else available
    wanted = list(AUTO_ORDER) if cfg.providers == ("auto",) else list(cfg.providers)
    chosen = [name for name in wanted if EXECUTION_PROVIDERS[name] in available]
    if "cpu" not in chosen:
        chosen.append("cpu")
    return chosen


def cpu_flags(cpuinfo: str | Path = "/proc/cpuinfo") -> frozenset[str]:
    """The instruction-set flags of the first CPU in a /proc/cpuinfo file (empty where there is none)."""
    try:
        with open(cpuinfo) as f:
            line = next((ln for ln in f if ln.startswith("flags")), "")
    except OSError:
        return frozenset()
    return frozenset(line.partition(":")[2].split())


def auto_intra_op_threads(flags: frozenset[str], cores: int, offline: bool = False) -> int:
    """Intra-op threads when RuntimeConfig.intra_op_threads is 0: 1 on a host of at most 2 cores
    for an offline conversion (its batches run concurrently instead: concurrent_runs) and for a
    live stream where the CPU has an INT8 dot-product unit; else 0 (ONNX Runtime's choice: one per
    physical core).

    Live: with VNNI the `live` INT8 model takes ~6 ms per face on one core, and the engine's other
    stages (decode, detect, blend, encode) need the second core. Measured interleaved on a shared
    2-core Zen 4 (AVX-512 VNNI), `live` INT8, 1 thread against 2 (medians of 3-4 rounds,
    benchmarks/results_log/2026-12-07-inference.md): live glass-to-glass p99 29 / 37 ms (1280x720,
    30 fps source), 45 / 54 and 105 / 120 ms (1280x720, 60 fps, two runs), 104 / 107 and 110 / 143
    ms (1920x1080, 30 and 60 fps), frames delivered equal or higher. Without VNNI (AVX2 only)
    INT8 is ~1.5x fp32 and no such measurement exists here: ONNX Runtime's default stays.
    """
    if cores > SMALL_HOST_CORES:
        return 0
    return 1 if offline or flags & INT8_DOT_FLAGS else 0


def concurrent_runs(cfg: RuntimeConfig, provider: str, cores: int) -> int:
    """How many session runs one batch of faces is split into, run at once (SwapModel.swap): one
    per core for an offline conversion on the CPU provider of a host of at most 2 cores, when
    --threads is left to the engine (each run then has one intra-op thread); else 1.

    Offline the inference stage is the bottleneck and the others need a fraction of a core. On the
    idle 2-core Zen 4, issue 29's 15.8 GFLOP recipe INT8 took 26-28 ms per face as two one-thread
    runs of half a batch of 8 at once, 35-36 ms as one run on two intra-op threads and 52 ms on one
    thread (benchmarks/concurrent_runs.py). `convert` against a sequential loop of the same parts,
    3 interleaved rounds: 1.07x on one thread, 1.54x on two intra-op threads, 1.80x with two runs
    at once (fp32 1.77x / 1.81x); the `live` model converts at about the same speed every way
    (benchmarks/results_log/2026-12-07-frame-budget.md).
    """
    if cfg.offline and provider == "cpu" and cfg.intra_op_threads == 0 and cores <= SMALL_HOST_CORES:
        return cores
    return 1


def usable_cores() -> int:
    """CPUs this process may run on (its affinity mask, which containers narrow), else all."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def session_options(cfg: RuntimeConfig) -> ort.SessionOptions:
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = cfg.intra_op_threads or auto_intra_op_threads(cpu_flags(), usable_cores(), cfg.offline)
    opts.inter_op_num_threads = cfg.inter_op_threads
    opts.add_session_config_entry(SPIN_WAIT_KEY, "1" if cfg.spin_wait else "0")
    opts.graph_optimization_level = _GRAPH_OPTIMIZATION[cfg.graph_optimization]
    opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    # ORT prints its own provider-fallback errors at WARNING; we report the outcome ourselves.
    opts.log_severity_level = 3
    return opts


def create_session(
    model: str | Path | bytes, cfg: RuntimeConfig, trt_profile: TrtProfile | None = None
) -> tuple[ort.InferenceSession, str]:
    """Build an inference session; returns (session, short name of the provider really in use).

    model: a path to an .onnx/.dfm file or the serialized model bytes.
    Raises whatever ONNX Runtime raises for an unreadable model (contract.py maps it to UserError).
    """
    names = resolve_providers(cfg)
    if cfg.trt_cache_dir is not None and "tensorrt" in names:
        cfg.trt_cache_dir.mkdir(parents=True, exist_ok=True)
        if not any(cfg.trt_cache_dir.glob("*.engine")):
            log.warning(
                "TensorRT builds its engines on this first run (minutes); kept in %s for the next", cfg.trt_cache_dir
            )
    providers = [(EXECUTION_PROVIDERS[n], provider_options(n, cfg, trt_profile)) for n in names]
    source = model if isinstance(model, bytes) else str(model)
    session = ort.InferenceSession(source, sess_options=session_options(cfg), providers=providers)
    in_use = short_name(session.get_providers()[0])
    requested = names[0] if cfg.providers == ("auto",) else cfg.providers[0]
    if in_use != requested:
        why = (
            "the accelerator libraries or the device are missing"
            if requested in names
            else f"this onnxruntime build has only {', '.join(short_name(p) for p in ort.get_available_providers())}"
        )
        log.warning("asked for %s but running on %s: %s", requested, in_use, why)
    else:
        log.debug("session on %s", in_use)
    return session, in_use


def user_trt_cache() -> Path:
    """Where TensorRT engines and timing caches are kept by default: the user's cache folder
    ($XDG_CACHE_HOME or ~/.cache)/swapstream/tensorrt."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "swapstream" / "tensorrt"
