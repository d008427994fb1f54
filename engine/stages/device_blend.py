"""The device frame path's blend: BlendStage's feather, mask refinement and paste on the device
frame, then the one copy of the finished frame back to the host (engine/stages/device.py).

--keep-mouth and the detail mask's lips are drawn on the host from the landmarks (a filled
polygon, a few KB) and multiplied into the device mask; an occlusion model runs where its session
runs (the CPU here: the crops it reads come to the host). Device milliseconds per stage, from the
CUDA events the stages recorded, land in packet.timings under '<stage> (device)'.
"""

from __future__ import annotations

import numpy as np
from numba import cuda
from swapstream.engine.face.align import transform_points
from swapstream.engine.face.mask import lips_mask, mouth_interior_mask
from swapstream.engine.gpu.launch import grid_2d
from swapstream.engine.gpu.mask import feather, keep_out_kernel, multiply_kernel
from swapstream.engine.gpu.paste import DevicePaste
from swapstream.engine.gpu.tables import gaussian_taps
from swapstream.engine.stages.blend_stage import BlendStage
from swapstream.engine.stages.device_warmup import warm_up

from swapstream.common.pipeline_contract import DEVICE_TIMING, FaceSlot, FramePacket


def _launch(kernel, shape, stream, *args) -> None:
    blocks, threads = grid_2d(shape[0], shape[1])
    kernel[blocks, threads, stream](*args)


class DeviceBlendStage(BlendStage):
    """BlendStage's feather mode on the device frame; `pool` gets the frame back after the download.
    Poisson cloning is OpenCV's, on the CPU: a run started with it takes the CPU path
    (engine.gpu.availability), and a live switch to it on the device path keeps feathering."""

    def __init__(
        self, knobs, resolution: int, refiner=None, grid_resolution: int | None = None, pool=None, driver_detail=False
    ):
        super().__init__(knobs, resolution, refiner, grid_resolution, driver_detail=driver_detail)
        self.pool = pool
        self.device_stages: list = []  # align, infer, color, steady: set by engine.pipeline.build_device
        self._paste = None
        self._taps: dict[int, object] = {}

    def setup(self) -> None:
        """The paste's buffers, then the device path's kernels compiled (device_warmup): the blend
        stage is set up last, after every device stage before it (`device_stages`)."""
        self._paste = DevicePaste()
        warm_up([*self.device_stages, self])

    def _gaussian(self, blur_px: int):
        if blur_px <= 0:
            return None
        if blur_px not in self._taps:
            self._taps[blur_px] = cuda.to_device(gaussian_taps(blur_px))
        return self._taps[blur_px]

    def process(self, packet: FramePacket) -> FramePacket:
        dev = packet.device
        if dev is None:
            return packet
        faces = dev.faces[: len(packet.faces)]
        erode_px, blur_px = self.erode_px, self.blur_px
        for i, b in enumerate(faces):
            size = b.mask.shape
            scratch = (dev.arena.view("feather_a", size, np.uint8), dev.arena.view("feather_b", size, np.uint8))
            feather(
                b.mask,
                erode_px,
                self._gaussian(blur_px),
                scratch,
                dev.arena.view(f"feather_f{i}", size, np.float32),
                dev.stream,
            )
        self._refine(packet, faces)
        for i, (slot, b) in enumerate(zip(packet.faces, faces, strict=True)):
            keep = None
            if self.knobs.detail > 0 and self.driver_detail:
                lips = lips_mask(transform_points(slot.landmarks, slot.matrix), b.mask.shape[0])
                keep = self._host_mask_product(dev, b.mask, lips, f"keep{i}")
                if self.detail_cell > 1:
                    self._paste.restore_band(dev, b.swapped, b.crop, keep, self.detail_cell, self.knobs.detail)
            roi = self._paste.roi(b.mask, slot.matrix, packet.frame.shape, dev.stream)
            amount = self.knobs.detail if keep is not None else 0.0
            self._paste.paste(dev, b.swapped, b.mask, slot.matrix, amount, keep, roi)
        dev.mark("blend")
        dev.frame.copy_to_host(dev.host, stream=dev.stream)
        dev.mark("download")
        dev.stream.synchronize()
        np.copyto(packet.frame, dev.host)
        for name, ms in dev.device_ms().items():
            packet.timings[f"{name} {DEVICE_TIMING}"] = packet.timings.get(f"{name} {DEVICE_TIMING}", 0.0) + ms / 1000
        packet.device = None
        self.pool.release(dev)
        return packet

    def _host_mask_product(self, dev, mask, keep_out: np.ndarray, name: str):
        """A device array mask * (1 - keep_out) (keep_out: float32 (R, R) from the host)."""
        staged = dev.arena.view(f"{name}_host", keep_out.shape, np.float32)
        staged.copy_to_device(np.ascontiguousarray(keep_out, np.float32), stream=dev.stream)
        out = dev.arena.view(name, keep_out.shape, np.float32)
        _launch(keep_out_kernel, keep_out.shape, dev.stream, mask, staged, out)
        dev.stream.synchronize()  # keep_out is a host temporary
        return out

    def _refine(self, packet: FramePacket, faces) -> None:
        """MaskRefiner.refine on the device masks: occlusion first, then the open mouth."""
        refiner = self.refiner
        if refiner is None or not packet.faces or not refiner.active:
            return
        dev = packet.device
        if refiner.occlusion and refiner.occluder is not None:
            dev.stream.synchronize()
            slots = [
                FaceSlot(
                    s.landmarks,
                    s.target,
                    s.track,
                    s.matrix,
                    b.crop.copy_to_host(),
                    s.hull,
                    None,
                    np.empty(b.mask.shape, np.float32),
                )
                for s, b in zip(packet.faces, faces, strict=True)
            ]
            visible = 1.0 - refiner.occlusion_masks(packet.frame, slots)
            for i, b in enumerate(faces):
                factor = dev.arena.view(f"visible{i}", b.mask.shape, np.float32)
                factor.copy_to_device(np.ascontiguousarray(visible[i], np.float32), stream=dev.stream)
                _launch(multiply_kernel, b.mask.shape, dev.stream, b.mask, factor)
            dev.stream.synchronize()
        if refiner.keep_mouth:
            for i, (slot, b) in enumerate(zip(packet.faces, faces, strict=True)):
                mouth = mouth_interior_mask(transform_points(slot.landmarks, slot.matrix), b.mask.shape[0])
                kept = self._host_mask_product(dev, b.mask, mouth, f"mouth{i}")
                b.mask.copy_to_device(kept, stream=dev.stream)
