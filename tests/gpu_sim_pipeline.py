"""The device frame path's orchestration under Numba's CUDA simulator: the same clip through the
engine's pipeline (threads, bounded links, offline batching) on the CPU stages and on the device
stages must give the same faces, the frames in order, the same pixels (within a level or two of
rounding where kernels round in another order), and nothing changed outside the blend mask.

Run by tests/test_gpu_sim.py in a subprocess with NUMBA_ENABLE_CUDASIM=1.
"""

from __future__ import annotations

import os
import threading

import cv2
import numpy as np
import pytest

if os.environ.get("NUMBA_ENABLE_CUDASIM") != "1":
    pytest.skip("runs under Numba's CUDA simulator only (tests/test_gpu_sim.py)", allow_module_level=True)

from model_fixtures import seal, swapstream_contract
from onnx import TensorProto, helper
from swap_fixtures import outside_blend

from swapstream.common.pipeline_contract import DEVICE_TIMING, FramePacket, Sink, Source, SourceInfo

IN, OUT = 16, 32  # a depth-to-space model: reads 16 px, renders 32 px (the live preset's shape, small)


def _write_d2s_model(path) -> str:
    """uint8 NHWC BGR: face = (255 - x) enlarged 2x bilinearly, mask all 255 (the hull limits it)."""
    nodes = [
        helper.make_node("Cast", ["face"], ["xf"], to=TensorProto.FLOAT),
        helper.make_node("Sub", ["c255", "xf"], ["inv"]),
        helper.make_node("Transpose", ["inv"], ["nchw"], perm=[0, 3, 1, 2]),
        helper.make_node("Resize", ["nchw", "", "scales"], ["big"], mode="linear"),
        helper.make_node("Transpose", ["big"], ["nhwc"], perm=[0, 2, 3, 1]),
        helper.make_node("Cast", ["nhwc"], ["swapped"], to=TensorProto.UINT8),
        helper.make_node("Slice", ["nhwc", "c0", "c1", "c3"], ["one_channel"]),
        helper.make_node("Mul", ["one_channel", "zero"], ["zeros"]),
        helper.make_node("Add", ["zeros", "c255"], ["full"]),
        helper.make_node("Cast", ["full"], ["mask"], to=TensorProto.UINT8),
    ]
    inits = [
        helper.make_tensor("c255", TensorProto.FLOAT, [], [255.0]),
        helper.make_tensor("zero", TensorProto.FLOAT, [], [0.0]),
        helper.make_tensor("scales", TensorProto.FLOAT, [4], [1.0, 1.0, 2.0, 2.0]),
        helper.make_tensor("c0", TensorProto.INT64, [1], [0]),
        helper.make_tensor("c1", TensorProto.INT64, [1], [1]),
        helper.make_tensor("c3", TensorProto.INT64, [1], [3]),
    ]
    graph = helper.make_graph(
        nodes,
        "d2s",
        [helper.make_tensor_value_info("face", TensorProto.UINT8, ["N", IN, IN, 3])],
        [
            helper.make_tensor_value_info("swapped", TensorProto.UINT8, ["N", OUT, OUT, 3]),
            helper.make_tensor_value_info("mask", TensorProto.UINT8, ["N", OUT, OUT, 1]),
        ],
        initializer=inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    model.ir_version = 8
    contract = swapstream_contract(IN, output_resolution=OUT, grid_resolution=IN)
    for k, v in contract.to_metadata().items():
        model.metadata_props.add(key=k, value=v)
    seal(model)
    import onnx

    onnx.save(model, str(path))
    return str(path)


class ClipSource(Source):
    def __init__(self, frames):
        self.frames_ = frames

    def setup(self) -> SourceInfo:
        h, w = self.frames_[0].shape[:2]
        return SourceInfo("clip", w, h, 25.0, len(self.frames_))

    def frames(self, stop):
        for i, frame in enumerate(self.frames_):
            yield FramePacket(i, i / 25.0, frame.copy())


class KeepSink(Sink):
    def __init__(self):
        self.packets: list[FramePacket] = []

    def write(self, packet):
        self.packets.append(packet)


@pytest.fixture(autouse=True)
def one_simulated_kernel_at_a_time(monkeypatch):
    """The simulator runs one kernel at a time in a process (a GPU runs the stages' kernels
    concurrently, each frame on its own stream): launches from the stage threads take turns."""
    from numba.cuda.simulator.kernel import FakeCUDAKernel

    turn = threading.Lock()
    launch = FakeCUDAKernel.__call__

    def one_at_a_time(self, *args):
        if self._device:  # a device function called inside a running kernel
            return launch(self, *args)
        with turn:
            return launch(self, *args)

    monkeypatch.setattr(FakeCUDAKernel, "__call__", one_at_a_time)


@pytest.fixture(scope="module")
def clip(astronaut_bgr):
    """Three frames of the astronaut, 140 px wide (its face pasted 1.3x enlarged: the direct
    bicubic warp and --detail), the camera drifting a pixel a frame."""
    frame = cv2.resize(astronaut_bgr, (140, 140), interpolation=cv2.INTER_AREA)
    return [cv2.warpAffine(frame, np.float64([[1, 0, t], [0, 1, 0.5 * t]]), (140, 140)) for t in range(3)]


def _run(model_path, clip, device: str):
    from swapstream.engine.engine_config import load_engine_config
    from swapstream.engine.pipeline.build import swap_stages
    from swapstream.engine.pipeline.runner import Pipeline, PipelinePolicy
    from swapstream.engine.runtime.providers import RuntimeConfig
    from swapstream.engine.runtime.swap_model import load_swap_model

    model = load_swap_model(model_path, RuntimeConfig(providers=("cpu",), frame_device=device))
    swap = {"color": "rct", "steady": 1.0, "detail": 1.0, "keep_mouth": True}
    cfg = load_engine_config().replace(swap=swap, offline={"batch_size": 2}, detect={"min_face_px": 12.0})
    stages = swap_stages(model, cfg, offline=True)
    sink = KeepSink()
    stats = Pipeline(ClipSource(clip), stages, sink, PipelinePolicy(False, 2)).run()
    return stages, sink.packets, stats


def test_device_path_gives_the_cpu_path_frames(tmp_path, clip):
    from swapstream.engine.stages.device import DeviceAlignStage

    model_path = _write_d2s_model(tmp_path / "d2s.onnx")
    _, cpu, _ = _run(model_path, clip, "cpu")
    stages, gpu, stats = _run(model_path, clip, "cuda")
    assert isinstance(stages[1], DeviceAlignStage)
    assert [p.seq for p in gpu] == [p.seq for p in cpu] == list(range(len(clip)))
    for source, c, g in zip(clip, cpu, gpu, strict=True):
        assert len(g.faces) == len(c.faces) == 1
        assert np.allclose(g.faces[0].matrix, c.faces[0].matrix)
        diff = np.abs(g.frame.astype(np.int16) - c.frame.astype(np.int16)).max(axis=2)
        changed = (c.frame != source).any(axis=2)
        assert changed.sum() > 500  # the face was really swapped
        assert diff.max() <= 2 and (diff[changed] <= 1).mean() >= 0.99
        outside = outside_blend(c.faces[0], source.shape)
        assert np.array_equal(g.frame[outside], source[outside])
        assert g.device is None and f"blend {DEVICE_TIMING}" in g.timings
    snapshot = stats.snapshot()
    assert f"infer {DEVICE_TIMING}" in snapshot.stage_ms
    pool = stages[1].context.pool
    assert pool._free.qsize() == pool._made  # every device frame came back


def test_warm_up_runs_every_device_stage_and_ends_its_track(tmp_path, monkeypatch):
    """The blend stage's setup compiles the device path on synthetic faces (skipped in the
    simulator, where nothing compiles: forced here to see that it runs through and cleans up)."""
    from numba import config
    from swapstream.engine.engine_config import load_engine_config
    from swapstream.engine.pipeline.build import swap_stages
    from swapstream.engine.runtime.providers import RuntimeConfig
    from swapstream.engine.runtime.swap_model import load_swap_model
    from swapstream.engine.stages import device_warmup

    model = load_swap_model(_write_d2s_model(tmp_path / "d2s.onnx"), RuntimeConfig(("cpu",), frame_device="cuda"))
    swap = {"color": "hist", "steady": 1.0, "detail": 1.0, "keep_mouth": True}
    stages = swap_stages(model, load_engine_config().replace(swap=swap), offline=False)
    launched = []
    run = device_warmup.FramePacket

    def counted(*args, **kw):
        packet = run(*args, **kw)
        launched.append(packet)
        return packet

    monkeypatch.setattr(device_warmup, "FramePacket", counted)
    monkeypatch.setattr(config, "ENABLE_CUDASIM", 0)
    monkeypatch.setattr(device_warmup, "WARMUP_UPSCALES", (1.3, 1.35))  # the staged warp is slow simulated
    for stage in stages[1:]:
        stage.setup()
    assert len(launched) == 3 and all("blend (device)" in p.timings for p in launched[:2])
    assert stages[4]._states == {}  # the synthetic track ended
    assert launched[0].frame.shape[0] < launched[1].frame.shape[0]  # two sizes of frame (a new pool)
