"""Assemble the device frame path's stages (engine/stages/device.py): the CPU stages' order and
configuration, one DeviceContext for the pipeline, IO binding where the sessions are on the GPU."""

from __future__ import annotations

from swapstream.engine.engine_config import EngineConfig
from swapstream.engine.gpu.availability import GPU_PROVIDERS
from swapstream.engine.image.target_detail import DRIVER_DETAIL
from swapstream.engine.stages.device import (
    DeviceAlignStage,
    DeviceColorStage,
    DeviceContext,
    DeviceInferStage,
    DeviceSteadyStage,
)
from swapstream.engine.stages.device_blend import DeviceBlendStage
from swapstream.engine.stages.faces import DetectStage

# Frames on the device at once beyond the offline batch: one per stage between align and blend
# and one per link between them, so no stage waits for a free frame while the device works.
FRAMES_IN_FLIGHT = 6


def device_swap_stages(model, cfg: EngineConfig, offline: bool, references, others: dict, refiner, io_binding: bool):
    """detect (CPU) -> align, infer, color, steady, blend on the device (see swap_stages)."""
    contract = model.contract
    batch = cfg.offline.batch_size if offline else 1
    context = DeviceContext(FRAMES_IN_FLIGHT + (batch if offline else 0))
    runners = {}
    if io_binding:
        from swapstream.engine.runtime.device_io import DeviceRunner

        for m in (model, *others.values()):
            if m.provider in GPU_PROVIDERS:
                runners[id(m)] = DeviceRunner(m, m.runtime.device_id if m.runtime is not None else 0)
    size = contract.output_resolution
    device = [
        DeviceAlignStage(contract.face_type, size, context),
        DeviceInferStage(model, batch_size=batch, mask=cfg.swap.mask_use, others=others, runners=runners),
        DeviceColorStage(cfg.swap, context),
        DeviceSteadyStage(cfg.swap, size),
    ]
    driver = cfg.swap.detail_from == DRIVER_DETAIL  # the driver's detail only when asked for by name
    blend = DeviceBlendStage(cfg.swap, size, refiner, contract.grid_resolution, pool=context.pool, driver_detail=driver)
    blend.device_stages = device
    return [DetectStage(cfg.detect, offline=offline, references=references), *device, blend]
