"""The device frame path's stages: the CPU stages' contracts, run on a frame that stays on the GPU.

engine.pipeline.build puts these in place of align, infer, color and steady (and
device_blend.DeviceBlendStage in place of blend) when the frame path runs on the device
(engine.gpu.availability). Each is a subclass of its CPU twin, so configuration and live
controls reach it unchanged. A frame with faces is copied to the device once by the align stage
(pinned host buffer, asynchronous copy on the frame's own CUDA stream) and travels as
`packet.device` (an engine.gpu.buffers.DeviceFrame); every stage enqueues its kernels on that
stream and marks where its device work ended; the blend stage pastes on the device and copies
the finished frame back once. A frame without faces never leaves the host. On the device path
FaceSlot.crop and .swapped stay None (the crops are in packet.device.faces); matrix, hull,
landmarks and mask semantics are the CPU path's.
"""

from __future__ import annotations

import numpy as np
from numba import cuda
from swapstream.engine.face.align import MAX_UPSCALE, alignment_matrix, invert, scale_of, transform_points
from swapstream.engine.face.mask import hull_mask
from swapstream.engine.gpu import warp
from swapstream.engine.gpu.buffers import FramePool
from swapstream.engine.gpu.color import DeviceColor
from swapstream.engine.gpu.launch import grid_2d
from swapstream.engine.gpu.mask import mask_source, mask_source_kernel, mix_kernel
from swapstream.engine.gpu.steady import DeviceSteady
from swapstream.engine.gpu.tables import remap_table
from swapstream.engine.image.lab import lab_tables
from swapstream.engine.stages.color_stage import ColorStage
from swapstream.engine.stages.faces import AlignStage
from swapstream.engine.stages.infer import InferStage
from swapstream.engine.stages.steady_stage import SteadyStage

from swapstream.common.pipeline_contract import FramePacket


class DeviceContext:
    """What the device stages of one pipeline share: the pool of frames in flight, the lookup
    tables on the device. pool_size bounds the frames on the device at once."""

    def __init__(self, pool_size: int):
        self.pool = FramePool(pool_size)
        self.linear_table = cuda.to_device(remap_table(2))
        self.lab = type(lab_tables())(*(cuda.to_device(a) for a in lab_tables()))


def _launch(kernel, shape, stream, *args) -> None:
    blocks, threads = grid_2d(shape[0], shape[1])
    kernel[blocks, threads, stream](*args)


class DeviceAlignStage(AlignStage):
    """AlignStage's matrix and hull (host), the frame's upload and the crop's warp (device)."""

    def __init__(self, face_type: str, resolution: int, context: DeviceContext):
        super().__init__(face_type, resolution)
        self.context = context

    def process(self, packet: FramePacket) -> FramePacket:
        if not packet.faces:
            return packet
        dev = self.context.pool.acquire(packet.frame.shape)
        packet.device = dev
        dev.mark("start")
        np.copyto(dev.host, packet.frame)
        dev.frame.copy_to_device(dev.host, stream=dev.stream)
        dev.mark("upload")
        r = self.resolution
        for i, slot in enumerate(packet.faces):
            m = alignment_matrix(slot.landmarks, self.face_type, r)
            slot.matrix = m
            slot.hull = hull_mask(transform_points(slot.landmarks, m), r, self.face_type)
            buffers = dev.face(i, r)
            buffers.hull.copy_to_device(slot.hull, stream=dev.stream)
            inverse = dev.arena.view(f"align{i}", (6,), np.float64)  # warp_face's inverse map
            inverse.copy_to_device(invert(m).reshape(-1), stream=dev.stream)
            table = self.context.linear_table
            _launch(warp.warp_affine_kernel, (r, r), dev.stream, dev.frame, buffers.crop, inverse, table, 2, True)
            if scale_of(m) > MAX_UPSCALE:
                self._warn_small(slot.landmarks, scale_of(m))
        dev.mark("align")
        return packet


class DeviceInferStage(InferStage):
    """InferStage on device crops: through IO binding where the session is on the GPU
    (engine.runtime.device_io.DeviceRunner), else the crops at the model's input size come to
    the host (pinned, a few KB each) for the CPU session and its outputs go back."""

    def __init__(self, model, batch_size: int = 1, mask=None, others=None, runners=None):
        super().__init__(model, batch_size, mask, others)
        self.runners = dict(runners or {})  # id(model) -> DeviceRunner
        self._pinned: dict[tuple, np.ndarray] = {}

    def process_batch(self, packets: list[FramePacket]) -> list[FramePacket]:
        for target in sorted({s.target for p in packets for s in p.faces}):
            model = self.others[target] if target else self.model
            work = [(p, i) for p in packets for i, s in enumerate(p.faces) if s.target == target]
            runner = self.runners.get(id(model))
            (self._run_on_device if runner is not None else self._run_on_host)(model, runner, work)
        for p in packets:
            if p.device is not None:
                p.device.mark("infer")
        return packets

    def _model_crops(self, model, work, name: str) -> list:
        """Each face's crop at the model's input size (INTER_AREA, as model_inputs), on the device."""
        r = model.resolution
        out = []
        for p, i in work:
            dev = p.device
            crop = dev.faces[i].crop
            if crop.shape[0] == r:
                out.append(crop)
                continue
            small = dev.arena.view(f"{name}{i}", (r, r, 3), np.uint8)
            scale = crop.shape[0] / r
            _launch(warp.resize_area_kernel, (r, r), dev.stream, crop, small, scale, scale, scale == int(scale))
            out.append(small)
        return out

    def _run_on_host(self, model, runner, work) -> None:
        r = model.resolution
        n = len(work)
        batch = self._pinned.get((n, r))
        if batch is None:
            batch = self._pinned[(n, r)] = cuda.pinned_array((n, r, r, 3), np.uint8)
        for k, ((p, _), crop) in enumerate(zip(work, self._model_crops(model, work, "model_in"), strict=True)):
            crop.copy_to_host(batch[k], stream=p.device.stream)
        for p in {id(p): p for p, _ in work}.values():
            p.device.stream.synchronize()
        faces, masks = model.swap(batch)
        for (p, i), face, mask in zip(work, faces, masks, strict=True):
            dev = p.device
            buffers = dev.faces[i]
            buffers.swapped.copy_to_device(face, stream=dev.stream)
            model_mask = dev.arena.view(f"model_mask{i}", mask.shape, np.float32)
            model_mask.copy_to_device(mask, stream=dev.stream)
            self._combine(dev, buffers, model_mask)
            dev.stream.synchronize()  # face and mask are host temporaries: copied before they go

    def _run_on_device(self, model, runner, work) -> None:
        crops = self._model_crops(model, work, "model_in")
        first = work[0][0].device
        r = model.resolution
        stacked = first.arena.view("batch_in", (len(work), r, r, 3), np.uint8)
        for k, ((p, _), crop) in enumerate(zip(work, crops, strict=True)):
            p.device.stream.synchronize()
            stacked[k].copy_to_device(crop, stream=first.stream)
        faces, masks = runner.run(stacked, first.stream)
        first.stream.synchronize()
        for k, (p, i) in enumerate(work):
            buffers = p.device.faces[i]
            buffers.swapped.copy_to_device(faces[k], stream=p.device.stream)
            self._combine(p.device, buffers, masks[k])
            p.device.stream.synchronize()  # the runner's outputs are reused by the next batch

    def _combine(self, dev, buffers, model_mask) -> None:
        """buffers.mask = the blend mask self.mask asks for, from the model's mask and the hull."""
        source = mask_source(self.mask)
        shape = buffers.mask.shape
        _launch(mask_source_kernel, shape, dev.stream, model_mask, buffers.hull, buffers.mask, source)


class DeviceColorStage(ColorStage):
    """ColorStage on device crops (engine.gpu.color.DeviceColor), mixed by color_strength."""

    def __init__(self, knobs, context: DeviceContext):
        super().__init__(knobs)
        self.context = context
        self._device_color = None

    def setup(self) -> None:
        super().setup()
        self._device_color = DeviceColor(self.context.lab)

    def process(self, packet: FramePacket) -> FramePacket:
        dev = packet.device
        if dev is None:
            return packet
        mode, strength = self.knobs.color, self.knobs.color_strength
        if mode != "none" and strength > 0:
            for i, buffers in enumerate(dev.faces[: len(packet.faces)]):
                before = None
                if strength < 1:
                    before = dev.arena.view(f"color_before{i}", buffers.swapped.shape, np.uint8)
                    before.copy_to_device(buffers.swapped, stream=dev.stream)
                self._device_color.transfer(buffers.swapped, buffers.crop, buffers.mask, mode, dev.stream)
                if before is not None:
                    shape = buffers.swapped.shape[:2]
                    _launch(mix_kernel, shape, dev.stream, buffers.swapped, before, np.float32(strength))
        dev.mark("color")
        return packet


class DeviceSteadyStage(SteadyStage):
    """SteadyStage on device crops: per-track state kept on the device (engine.gpu.steady)."""

    def __init__(self, knobs, resolution: int):
        super().__init__(knobs)
        self._device = DeviceSteady(resolution)

    def setup(self) -> None:
        """Nothing to compile on the host: the device kernels compile on their first launch."""

    def process(self, packet: FramePacket) -> FramePacket:
        dev = packet.device
        states = {}
        strength = self.knobs.steady
        if strength > 0 and dev is not None:
            for i, slot in enumerate(packet.faces):
                if slot.track < 0 or slot.track in states:
                    continue
                b = dev.faces[i]
                prior = self._states.pop(slot.track, None)
                if prior is not None and prior.face.shape[0] != b.crop.shape[0]:
                    prior = None
                if b.crop.shape[0] != self._device.size:
                    self._device = DeviceSteady(b.crop.shape[0])
                states[slot.track] = self._device.step(prior, b.crop, b.hull, b.swapped, b.mask, strength, dev.stream)
            dev.mark("steady")
        for ended in self._states.values():
            self._device.release(ended)
        self._states = states
        return packet
