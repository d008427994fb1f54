"""export.tensorrt: what can be tested without TensorRT or a GPU.

The error path (neither the TensorRT execution provider nor the `tensorrt` package here), the
execution-provider options the engine will use with the caches built at export, and the
standalone route's builder call sequence and metadata sidecar, driven by a stand-in `tensorrt`
module that records the calls the real Python API (TensorRT 10) would receive.
"""

from __future__ import annotations

import json
import sys
import types
from dataclasses import replace

import pytest
from model_fixtures import swapstream_contract, write_inverting_model
from swapstream.engine.runtime.providers import TrtProfile, provider_options
from swapstream.export.tensorrt import SIDECAR_FORMAT, TensorRTOptions, prepare_tensorrt, runtime_config

from swapstream.common.errors import UserError


@pytest.fixture
def model_path(tmp_path):
    return write_inverting_model(tmp_path / "m.onnx", swapstream_contract().to_metadata())


def test_clear_error_when_tensorrt_is_absent(model_path, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "tensorrt", None)  # import tensorrt -> ImportError
    with pytest.raises(UserError, match=r"--tensorrt needs onnxruntime-gpu .* neither is installed here"):
        prepare_tensorrt(model_path, TensorRTOptions(tmp_path / "cache"))


def test_engine_options_match_the_export_caches(tmp_path):
    opts = TensorRTOptions(tmp_path / "cache", fp16=True, max_batch=4)
    cfg = runtime_config(opts)
    assert cfg.providers == ("tensorrt", "cuda", "cpu")
    trt = provider_options("tensorrt", cfg, TrtProfile("face", (64, 64, 3), cfg.trt_max_batch))
    assert trt["trt_engine_cache_path"] == trt["trt_timing_cache_path"] == str(tmp_path / "cache")
    assert trt["trt_fp16_enable"] == "True"
    assert trt["trt_profile_min_shapes"] == "face:1x64x64x3"
    assert trt["trt_profile_max_shapes"] == "face:4x64x64x3"
    with pytest.raises(ValueError):
        TensorRTOptions(tmp_path, max_batch=0)


def _fake_tensorrt(calls: list) -> types.ModuleType:
    """Stand-in for the TensorRT 10 Python API surface export.tensorrt uses."""
    trt = types.ModuleType("tensorrt")
    trt.__version__ = "10.0-fake"

    class Logger:
        WARNING = 2

        def __init__(self, level):
            calls.append(("logger", level))

    class Parser:
        num_errors = 0

        def __init__(self, network, logger):
            pass

        def parse(self, data):
            calls.append(("parse", len(data)))
            return True

    class Profile:
        def set_shape(self, name, lo, opt, hi):
            calls.append(("profile", name, lo, opt, hi))

    class Cache:
        def serialize(self):
            return b"timing"

    class Config:
        def set_memory_pool_limit(self, pool, size):
            calls.append(("workspace", size))

        def set_flag(self, flag):
            calls.append(("flag", flag))

        def add_optimization_profile(self, profile):
            pass

        def create_timing_cache(self, data):
            return Cache()

        def set_timing_cache(self, cache, ignore_mismatch):
            pass

        def get_timing_cache(self):
            return Cache()

    class Builder:
        def __init__(self, logger):
            pass

        def create_network(self, flags):
            return object()

        def create_builder_config(self):
            return Config()

        def create_optimization_profile(self):
            return Profile()

        def build_serialized_network(self, network, config):
            calls.append(("build",))
            return b"ENGINE"

    trt.Logger, trt.Builder, trt.OnnxParser = Logger, Builder, Parser
    trt.MemoryPoolType = types.SimpleNamespace(WORKSPACE="workspace")
    trt.BuilderFlag = types.SimpleNamespace(FP16="fp16")
    return trt


def test_standalone_engine_and_metadata_sidecar(model_path, tmp_path, monkeypatch):
    calls: list = []
    monkeypatch.setitem(sys.modules, "tensorrt", _fake_tensorrt(calls))
    report = prepare_tensorrt(model_path, TensorRTOptions(tmp_path / "cache", fp16=True, max_batch=8))
    assert report.engine == model_path.with_suffix(".engine")
    assert report.engine.read_bytes() == b"ENGINE"
    assert ("flag", "fp16") in calls and ("build",) in calls
    assert ("profile", "face", (1, 64, 64, 3), (1, 64, 64, 3), (8, 64, 64, 3)) in calls
    assert (tmp_path / "cache" / "timing.cache").read_bytes() == b"timing"
    sidecar = json.loads(report.sidecar.read_text())
    assert sidecar["format"] == SIDECAR_FORMAT and sidecar["engine"] == "m.engine"
    stated = sidecar["metadata"]["swapstream.weights_sha256"]  # the model's own (model_fixtures.seal)
    assert sidecar["metadata"] == replace(swapstream_contract(), weights_sha256=stated).to_metadata()
    assert sidecar["build"]["tensorrt"] == "10.0-fake" and sidecar["build"]["fp16"] is True
    assert any("no TensorRT execution provider" in line for line in report.lines())
