"""The device frame path's proof without a GPU: tests/gpu_sim_kernels.py (each CUDA kernel equal
to its CPU twin) and tests/gpu_sim_pipeline.py (the pipeline on the device stages gives the CPU
path's frames) run under Numba's CUDA simulator, in their own pytest process, because
NUMBA_ENABLE_CUDASIM must be set before numba is imported and this process has imported it.
Also here: the switch's honest fallback on this CPU-only machine, run in this process.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

TESTS = Path(__file__).resolve().parent
SIM_TIMEOUT_S = 900


def _run_simulated(module: str) -> None:
    env = {**os.environ, "NUMBA_ENABLE_CUDASIM": "1"}
    cmd = [sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider", str(TESTS / module)]
    done = subprocess.run(
        cmd, check=False, env=env, cwd=TESTS.parent, capture_output=True, text=True, timeout=SIM_TIMEOUT_S
    )
    tail = "\n".join((done.stdout + done.stderr).splitlines()[-40:])
    assert done.returncode == 0, f"{module} under the CUDA simulator failed:\n{tail}"
    summary = [line for line in done.stdout.splitlines() if line.strip()][-1]
    assert " passed" in summary and "skipped" not in summary, tail  # every test really ran


@pytest.mark.cudasim
def test_device_kernels_equal_their_cpu_twins_under_the_simulator():
    _run_simulated("gpu_sim_kernels.py")


@pytest.mark.cudasim
def test_device_pipeline_gives_the_cpu_frames_under_the_simulator():
    _run_simulated("gpu_sim_pipeline.py")


@pytest.fixture(scope="module")
def cpu_model(tmp_path_factory):
    from model_fixtures import write_invert_model

    return write_invert_model(tmp_path_factory.mktemp("gpu") / "invert.onnx", 64)


def _stages(model_path, device: str, **swap):
    from swapstream.engine.engine_config import load_engine_config
    from swapstream.engine.pipeline.build import swap_stages
    from swapstream.engine.runtime.providers import RuntimeConfig
    from swapstream.engine.runtime.swap_model import load_swap_model

    model = load_swap_model(model_path, RuntimeConfig(providers=("cpu",), frame_device=device))
    return swap_stages(model, load_engine_config().replace(swap=swap), offline=True)


def test_without_a_gpu_cuda_falls_back_to_the_cpu_path_with_one_line(cpu_model, caplog):
    """--device cuda on this CPU-only machine: the CPU stages, and one line saying why."""
    from numba import cuda
    from swapstream.engine.stages.blend_stage import BlendStage

    if cuda.is_available():
        pytest.skip("a CUDA device (or the simulator) is present: the fallback is not reachable here")
    from swapstream.engine.gpu import availability

    availability._say_once.cache_clear()
    with caplog.at_level(logging.INFO):
        stages = _stages(cpu_model, "cuda")
        _stages(cpu_model, "cuda")  # convert builds stages per segment: the line is said once
    assert type(stages[-1]) is BlendStage
    lines = [r.getMessage() for r in caplog.records if "GPU frame path" in r.getMessage()]
    assert len(lines) == 1 and "no CUDA device" in lines[0] and lines[0].endswith("CPU path")


def test_poisson_stays_on_the_cpu_with_its_reason(cpu_model, caplog):
    from swapstream.engine.stages.blend_stage import BlendStage

    with caplog.at_level(logging.INFO):
        stages = _stages(cpu_model, "cuda", blend="poisson")
    assert type(stages[-1]) is BlendStage
    assert any("poisson blending runs on the CPU only" in r.getMessage() for r in caplog.records)


def test_cpu_sessions_keep_the_cpu_path_silently(cpu_model, caplog):
    """'auto' with a model on the CPU: today's stages, no line and no numba.cuda import."""
    code = (
        "import sys, logging; sys.path.insert(0, 'tests'); logging.basicConfig(level=logging.INFO)\n"
        "from test_gpu_sim import _stages\n"
        f"stages = _stages({str(cpu_model)!r}, 'auto')\n"
        "from swapstream.engine.stages.blend_stage import BlendStage\n"
        "assert type(stages[-1]) is BlendStage, stages\n"
        "assert 'numba.cuda' not in sys.modules and 'swapstream.engine.gpu.warp' not in sys.modules\n"
    )
    cmd = [sys.executable, "-c", code]
    done = subprocess.run(cmd, check=False, cwd=TESTS.parent, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "GPU frame path" not in done.stderr


def test_median_of_histogram_is_numpy_median():
    from swapstream.engine.gpu.steady import median_of_histogram

    rng = np.random.default_rng(3)
    for n in (1, 2, 7, 400, 401):
        values = rng.integers(0, 40, n)
        assert median_of_histogram(np.bincount(values, minlength=256)) == np.median(values)


def test_bench_reports_device_ms_and_the_host_share():
    """swapstream bench on the GPU frame path: device ms per stage beside the host's share."""
    from swapstream.bench.report import device_lines

    stage_ms = {"capture": 4.0, "detect": 6.0, "infer": 3.0, "align (device)": 0.25, "blend (device)": 0.5}
    run = {"fps": 50.0, "stage_ms": {k: {"p50": v} for k, v in stage_ms.items()}}
    device, host = device_lines(run)
    assert device == "GPU frame path, device ms p50: align 0.25, blend 0.50 (total 0.75)"
    assert host.startswith("host side (capture + detect): 10.0 ms p50 = 50% of a frame")
    assert device_lines({"fps": 50.0, "stage_ms": {"infer": {"p50": 3.0}}}) == []


def test_runtime_options_of_the_device_path(monkeypatch, tmp_path):
    """--cuda-graph reaches both GPU providers; TensorRT caches default to the user cache folder."""
    import argparse

    from swapstream.engine.runtime import providers

    graph = providers.RuntimeConfig(cuda_graph=True)
    assert providers.provider_options("cuda", graph)["enable_cuda_graph"] == "1"
    assert providers.provider_options("tensorrt", graph)["trt_cuda_graph_enable"] == "True"
    assert "enable_cuda_graph" not in providers.provider_options("cuda", providers.RuntimeConfig())
    from swapstream.commands.swap_flags import add_runtime_arguments
    from swapstream.swap_session.from_args import runtime_config_from_args

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    parser = argparse.ArgumentParser()
    add_runtime_arguments(parser)
    cfg = runtime_config_from_args(parser.parse_args(["--device", "cuda", "--cuda-graph"]))
    assert cfg.trt_cache_dir == tmp_path / "swapstream" / "tensorrt"
    assert (cfg.frame_device, cfg.cuda_graph) == ("cuda", True)
    with pytest.raises(ValueError, match="frame device"):
        providers.RuntimeConfig(frame_device="gpu")
