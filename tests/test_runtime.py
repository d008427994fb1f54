"""engine.runtime: session factory, model contract validation and refusals, SwapModel I/O adaptation.

The models here are small ONNX graphs the tests build with onnx.helper in the exact I/O layouts
of a swapstream export (uint8 NHWC BGR + metadata) and of a DeepFaceLive .dfm (float NHWC
in_face:0 -> out_face_mask:0, out_celeb_face:0, out_celeb_face_mask:0), fed real face crops.
"""

from __future__ import annotations

import json
import logging
import signal
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
import onnx
import pytest
from model_fixtures import swapstream_contract, write_inverting_model
from onnx import TensorProto, helper
from swapstream.engine.runtime import RuntimeConfig, inspect_model, load_swap_model
from swapstream.engine.runtime import providers as providers_mod
from swapstream.engine.runtime.contract import TensorSpec
from swapstream.engine.runtime.providers import TrtProfile, create_session, provider_options, resolve_providers

from swapstream.common.errors import UserError

OPSET = [helper.make_opsetid("", 18)]
CPU = RuntimeConfig(providers=("cpu",), intra_op_threads=1)
R = 64


def real_faces(n: int, size: int = R) -> np.ndarray:
    """uint8 (n, size, size, 3) BGR: crops of the astronaut photo's face at a few offsets."""
    from skimage.data import astronaut

    bgr = cv2.cvtColor(astronaut(), cv2.COLOR_RGB2BGR)
    crops = [cv2.resize(bgr[20 + 6 * i : 220 + 6 * i, 140:340], (size, size)) for i in range(n)]
    return np.stack(crops)


def write_dfm(path: Path, resolution: int = R, batch: int | str = "N", morph: bool = False) -> Path:
    """A DeepFaceLive-layout model: in_face:0 float32 NHWC BGR [0,1] -> celeb face = 1 - x.

    out_celeb_face_mask:0 = mean over channels; out_face_mask:0 = constant 0.5 (or morph_value).
    """
    shape = [batch, resolution, resolution, 3]
    inputs = [helper.make_tensor_value_info("in_face:0", TensorProto.FLOAT, shape)]
    outputs = [
        helper.make_tensor_value_info("out_face_mask:0", TensorProto.FLOAT, [batch, resolution, resolution, 1]),
        helper.make_tensor_value_info("out_celeb_face:0", TensorProto.FLOAT, shape),
        helper.make_tensor_value_info("out_celeb_face_mask:0", TensorProto.FLOAT, [batch, resolution, resolution, 1]),
    ]
    inits = [
        helper.make_tensor("one", TensorProto.FLOAT, [], [1.0]),
        helper.make_tensor("zero", TensorProto.FLOAT, [], [0.0]),
        helper.make_tensor("half", TensorProto.FLOAT, [], [0.5]),
        helper.make_tensor("axes", TensorProto.INT64, [1], [3]),
    ]
    factor = "half"
    if morph:
        inputs.append(helper.make_tensor_value_info("morph_value:0", TensorProto.FLOAT, [1]))
        factor = "morph_value:0"
    nodes = [
        helper.make_node("Sub", ["one", "in_face:0"], ["out_celeb_face:0"]),
        helper.make_node("ReduceMean", ["in_face:0", "axes"], ["out_celeb_face_mask:0"], keepdims=1),
        helper.make_node("Mul", ["out_celeb_face_mask:0", "zero"], ["zeros"]),
        helper.make_node("Add", ["zeros", factor], ["out_face_mask:0"]),
    ]
    graph = helper.make_graph(nodes, "dfm", inputs, outputs, initializer=inits)
    model = helper.make_model(graph, opset_imports=OPSET)
    onnx.checker.check_model(model)
    onnx.save(model, path)
    return path


def test_swapstream_model_round_trip_on_real_faces(tmp_path):
    path = write_inverting_model(tmp_path / "m.onnx", swapstream_contract().to_metadata())
    model = load_swap_model(path, CPU)
    assert model.provider == "cpu"
    assert model.contract == replace(swapstream_contract(), weights_sha256=model.contract.weights_sha256)
    faces = real_faces(3)
    out, masks = model.swap(faces)
    assert out.dtype == np.uint8 and out.shape == faces.shape
    np.testing.assert_array_equal(out, 255 - faces)
    assert masks.dtype == np.float32 and masks.shape == (3, R, R)
    expected = faces.astype(np.float32).mean(axis=3).astype(np.uint8) / 255.0
    np.testing.assert_allclose(masks, expected, atol=1e-6)
    assert model.swap(faces[:0])[0].shape == (0, R, R, 3)
    with pytest.raises(ValueError, match="uint8"):
        model.swap(faces.astype(np.float32))


def test_contract_metadata_round_trips_and_describes_as_json(tmp_path):
    contract = swapstream_contract(precision="int8")
    path = write_inverting_model(tmp_path / "m.onnx", contract.to_metadata())
    read = inspect_model(path)
    assert read == replace(contract, weights_sha256=read.weights_sha256)
    described = json.loads(json.dumps(contract.describe()))
    assert described["input"]["range"] == [0.0, 255.0] and described["losses"] == {"dssim": 0.25}


def test_dfm_model_runs_through_the_same_call(tmp_path):
    path = write_dfm(tmp_path / "celeb.dfm")
    model = load_swap_model(path, CPU, face_type="whole")
    assert model.contract.format == "dfm" and model.contract.face_type == "whole"
    faces = real_faces(4)
    out, masks = model.swap(faces)
    # 1 - x in [0, 1] float, back to uint8 with rounding: exactly 255 - x.
    np.testing.assert_array_equal(out, 255 - faces)
    celeb_mask = faces.astype(np.float32).mean(axis=3) / 255.0
    np.testing.assert_allclose(masks, celeb_mask * 0.5, atol=1e-5)


def test_dfm_with_fixed_batch_and_morph_input(tmp_path):
    path = write_dfm(tmp_path / "amp.dfm", batch=1, morph=True)
    model = load_swap_model(path, CPU, face_type="full", dfm_morph=0.25)
    faces = real_faces(3)
    out, masks = model.swap(faces)  # fed one by one: the model's batch is fixed at 1
    np.testing.assert_array_equal(out, 255 - faces)
    np.testing.assert_allclose(masks, faces.astype(np.float32).mean(axis=3) / 255.0 * 0.25, atol=1e-5)


def test_dfm_needs_a_face_type(tmp_path):
    path = write_dfm(tmp_path / "celeb.dfm")
    with pytest.raises(UserError, match=r"celeb\.dfm: .*face type"):
        load_swap_model(path, CPU)
    assert inspect_model(path).face_type == ""


def _bad_meta(**changes: str) -> dict[str, str]:
    meta = swapstream_contract().to_metadata()
    meta.update({"swapstream." + k: v for k, v in changes.items()})
    return meta


@pytest.mark.parametrize(
    ("metadata", "kwargs", "message"),
    [
        (None, {}, "without swapstream metadata"),
        (_bad_meta(contract_version="99"), {}, "contract version 99 is unknown"),
        (_bad_meta(template_id="other-template"), {}, "template 'other-template' is unknown"),
        (_bad_meta(face_type="torso"), {}, "face type 'torso' is unknown"),
        (_bad_meta(input='{"name": "face"}'), {}, "input spec is malformed"),
        (_bad_meta(input=json.dumps({**TensorSpec("face").to_json(), "name": "x"})), {}, "no input 'x'"),
        (_bad_meta(resolution="128"), {}, "contract says"),
        (_bad_meta(losses='{"dssim": "low"}'), {}, "losses is not a JSON object of numbers"),
        (_bad_meta(), {"face_type": "full"}, "trained on 'whole' crops but 'full'"),
        (_bad_meta(), {"max_resolution": 32}, "exceeds the maximum 32"),
    ],
)
def test_refusals_name_the_file_and_the_problem(tmp_path, metadata, kwargs, message):
    path = write_inverting_model(tmp_path / "bad.onnx", metadata)
    with pytest.raises(UserError, match=message) as info:
        load_swap_model(path, CPU, **kwargs)
    assert str(info.value).startswith(f"{path}: ")


def _edited(src: Path, dst: Path, face_type: str | None = None, sha: str | None = None, weight=None) -> Path:
    """A copy of a model with its face type, stated hash or its first float weight changed."""
    model = onnx.load(str(src))
    for p in model.metadata_props:
        if p.key == "swapstream.face_type" and face_type is not None:
            p.value = face_type
        if p.key == "swapstream.weights_sha256" and sha is not None:
            p.value = sha
    if weight is not None:
        init = next(t for t in model.graph.initializer if t.data_type == TensorProto.FLOAT)
        init.CopyFrom(onnx.numpy_helper.from_array(np.full(init.dims, weight, np.float32), init.name))
    onnx.save(model, str(dst))
    return dst


def test_a_model_is_loaded_only_when_its_weights_and_contract_match_its_hash(tmp_path):
    """swapstream.weights_sha256 covers the graph and the pixel contract (issue 26): a zeroed,
    missing or stale hash, an edited face type (which no tensor shape can contradict) and an
    edited weight are each refused with one line; the untouched model loads."""
    good = write_inverting_model(tmp_path / "m.onnx", swapstream_contract().to_metadata())
    assert load_swap_model(good, CPU).contract.face_type == "whole"
    bad = {
        "zeroed": _edited(good, tmp_path / "zeroed.onnx", sha="0" * 64),
        "missing": _edited(good, tmp_path / "missing.onnx", sha=""),
        "face type": _edited(good, tmp_path / "head.onnx", face_type="head"),
        "weight": _edited(good, tmp_path / "weight.onnx", weight=254.0),
    }
    for what, path in bad.items():
        match = "has no swapstream.weights_sha256" if what == "missing" else "weights_sha256 does not match"
        with pytest.raises(UserError, match=match) as e:
            inspect_model(path)
        assert str(e.value).startswith(str(path)) and "\n" not in str(e.value), what


def test_refuses_files_that_are_not_onnx(tmp_path):
    text = tmp_path / "notes.onnx"
    text.write_text("not a model")
    with pytest.raises(UserError, match="not a loadable ONNX model"):
        load_swap_model(text, CPU)
    with pytest.raises(UserError, match="no such model file"):
        load_swap_model(tmp_path / "missing.onnx", CPU)


def test_cuda_requested_on_a_build_without_it_reports_cpu(tmp_path, caplog):
    path = write_inverting_model(tmp_path / "m.onnx", swapstream_contract().to_metadata())
    with caplog.at_level(logging.WARNING, logger="swapstream.engine.runtime.providers"):
        model = load_swap_model(path, RuntimeConfig(providers=("cuda", "cpu")))
    assert model.provider == "cpu"
    assert "asked for cuda but running on cpu" in caplog.text


def test_silent_onnxruntime_fallback_is_detected(tmp_path, caplog, monkeypatch):
    """onnxruntime-gpu lists CUDA even without a GPU, then runs on CPU: get_providers() tells."""
    path = write_inverting_model(tmp_path / "m.onnx", None)
    real = providers_mod.ort.get_available_providers()
    monkeypatch.setattr(providers_mod.ort, "get_available_providers", lambda: ["CUDAExecutionProvider", *real])
    cfg = RuntimeConfig(providers=("cuda",))
    assert resolve_providers(cfg) == ["cuda", "cpu"]
    with caplog.at_level(logging.WARNING, logger="swapstream.engine.runtime.providers"), pytest.warns(UserWarning):
        _session, in_use = create_session(path, cfg)
    assert in_use == "cpu"
    assert "libraries or the device are missing" in caplog.text


def test_auto_resolves_to_what_the_build_offers():
    cfg = RuntimeConfig()
    assert resolve_providers(cfg, ["CPUExecutionProvider"]) == ["cpu"]
    available = ["TensorrtExecutionProvider", "CUDAExecutionProvider", "CPUExecutionProvider"]
    assert resolve_providers(cfg, available) == ["tensorrt", "cuda", "cpu"]
    assert resolve_providers(RuntimeConfig(providers=("cuda",)), available) == ["cuda", "cpu"]


def test_provider_options_and_config_validation(tmp_path):
    cfg = RuntimeConfig(providers=("tensorrt", "cuda", "cpu"), trt_fp16=True, trt_cache_dir=tmp_path, device_id=1)
    profile = TrtProfile("face", (128, 128, 3), max_batch=8, opt_batch=4)
    trt = provider_options("tensorrt", cfg, profile)
    assert trt["trt_fp16_enable"] == "True" and trt["device_id"] == "1"
    assert trt["trt_engine_cache_enable"] == "True" and trt["trt_engine_cache_path"] == str(tmp_path)
    assert trt["trt_timing_cache_enable"] == "True"
    assert trt["trt_profile_max_shapes"] == "face:8x128x128x3"
    assert trt["trt_profile_opt_shapes"] == "face:4x128x128x3"
    assert "trt_engine_cache_enable" not in provider_options("tensorrt", RuntimeConfig())
    assert provider_options("cuda", cfg)["cudnn_conv_algo_search"] == "EXHAUSTIVE"
    assert RuntimeConfig(providers=("CUDA", " cpu")).providers == ("cuda", "cpu")
    for bad in ({"providers": ("rocm",)}, {"providers": ("auto", "cpu")}, {"intra_op_threads": -1}):
        with pytest.raises(ValueError):
            RuntimeConfig(**bad)


def test_inference_threads_do_not_spin_unless_asked(tmp_path):
    """The engine's other stages need the cores: idle ONNX Runtime threads sleep by default, and
    --spin-wait reaches the session a model is loaded into."""
    import argparse

    from swapstream.commands.swap_flags import add_runtime_arguments
    from swapstream.swap_session.from_args import runtime_config_from_args

    key = providers_mod.SPIN_WAIT_KEY
    assert providers_mod.session_options(RuntimeConfig()).get_session_config_entry(key) == "0"
    parser = argparse.ArgumentParser()
    add_runtime_arguments(parser)
    cfg = runtime_config_from_args(parser.parse_args(["--spin-wait", "--providers", "cpu"]))
    assert cfg.spin_wait
    model = load_swap_model(write_inverting_model(tmp_path / "m.onnx", swapstream_contract().to_metadata()), cfg)
    assert model.session.get_session_options().get_session_config_entry(key) == "1"
    assert not runtime_config_from_args(parser.parse_args([])).spin_wait


def test_offline_batches_run_concurrently_and_come_back_in_order(tmp_path, monkeypatch):
    """Offline on the CPU of a <= 2-core host with threads left to the engine, a batch is split
    into one run per core at once (concurrent_runs); every face comes back where it was, as one
    run gives it. Elsewhere, on another provider or with --threads, one run."""
    offline, live = RuntimeConfig(providers=("cpu",), offline=True), RuntimeConfig(providers=("cpu",))
    assert providers_mod.concurrent_runs(offline, "cpu", 2) == 2
    assert providers_mod.concurrent_runs(offline, "cuda", 2) == 1
    assert providers_mod.concurrent_runs(offline, "cpu", 8) == 1
    assert providers_mod.concurrent_runs(live, "cpu", 2) == 1
    assert providers_mod.concurrent_runs(replace(offline, intra_op_threads=2), "cpu", 2) == 1
    from swapstream.engine.runtime import swap_model as swap_model_mod

    for module in (providers_mod, swap_model_mod):
        monkeypatch.setattr(module, "usable_cores", lambda: 2)
    path = write_inverting_model(tmp_path / "m.onnx", swapstream_contract().to_metadata())
    split, whole = load_swap_model(path, offline), load_swap_model(path, live)
    assert split._runs == 2 and whole._runs == 1
    faces = np.random.default_rng(0).integers(0, 256, (5, *(2 * [split.resolution]), 3), dtype=np.uint8)
    got, want = split.swap(faces), whole.swap(faces)
    assert np.array_equal(got[0], 255 - faces) and np.array_equal(got[0], want[0])
    assert np.array_equal(got[1], want[1])
    assert [len(a) for a in split.swap(faces[:1])] == [1, 1]
    # The helper that ran a share leaves Ctrl-C and SIGTERM to the main thread.
    masks = split._helpers.submit(signal.pthread_sigmask, signal.SIG_BLOCK, []).result()
    assert {signal.SIGINT, signal.SIGTERM} <= set(masks)


def test_convert_asks_for_offline_inference_and_live_does_not():
    """The commands say which work their inference serves: convert's session may take every core
    (auto_intra_op_threads), live's, studio's and bench's live mode leave one to the other stages."""
    from swapstream.cli import _available_commands, build_parser
    from swapstream.swap_session.from_args import runtime_config_from_args

    parser = build_parser(_available_commands())
    convert = parser.parse_args(["convert", "in.mp4", "-o", "out.mp4", "-m", "m.onnx"])
    live = parser.parse_args(["live", "-m", "m.onnx"])
    assert runtime_config_from_args(convert).offline
    assert not runtime_config_from_args(live).offline
    assert not runtime_config_from_args(parser.parse_args(["bench"])).offline  # bench decides by --mode


def test_intra_op_threads_follow_the_cpus_int8_unit_and_the_work(tmp_path, monkeypatch):
    """Unset threads (0) become 1 on a <= 2-core host for a live stream where the CPU has VNNI/AMX
    and offline (whose batches run concurrently instead), ONNX Runtime's choice (0) elsewhere;
    flags are read from a cpuinfo file; an explicit count always wins."""
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text(
        "processor\t: 0\nvendor_id\t: AuthenticAMD\nmodel name\t: AMD EPYC\n"
        "flags\t\t: fpu sse2 avx2 fma avx512f avx512_vnni avx512_bf16\n\n"
        "processor\t: 1\nflags\t\t: fpu sse2 avx2\n"
    )
    zen4 = providers_mod.cpu_flags(cpuinfo)
    assert {"avx2", "avx512_vnni", "avx512_bf16"} <= zen4 and "fpu" in zen4
    assert providers_mod.cpu_flags(tmp_path / "absent") == frozenset()
    avx2_only = frozenset({"sse2", "avx2", "fma"})
    assert providers_mod.auto_intra_op_threads(zen4, 2) == 1
    assert providers_mod.auto_intra_op_threads(frozenset({"avx2", "avx_vnni"}), 1) == 1  # Alder Lake class
    assert providers_mod.auto_intra_op_threads(avx2_only, 2) == 0
    assert providers_mod.auto_intra_op_threads(zen4, 16) == 0
    assert providers_mod.auto_intra_op_threads(avx2_only, 2, offline=True) == 1
    assert providers_mod.auto_intra_op_threads(zen4, 16, offline=True) == 0

    path = write_inverting_model(tmp_path / "m.onnx", swapstream_contract().to_metadata())
    monkeypatch.setattr(providers_mod, "usable_cores", lambda: 2)
    for flags, threads in ((zen4, 1), (avx2_only, 0)):
        monkeypatch.setattr(providers_mod, "cpu_flags", lambda flags=flags: flags)
        assert providers_mod.session_options(RuntimeConfig()).intra_op_num_threads == threads
        assert providers_mod.session_options(RuntimeConfig(intra_op_threads=2)).intra_op_num_threads == 2
        assert providers_mod.session_options(RuntimeConfig(offline=True)).intra_op_num_threads == 1
        assert providers_mod.session_options(RuntimeConfig(intra_op_threads=2, offline=True)).intra_op_num_threads == 2
        session, _ = create_session(path, RuntimeConfig(providers=("cpu",)))
        assert session.get_session_options().intra_op_num_threads == threads
