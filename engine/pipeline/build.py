"""Assemble the swap stages for a model from the engine configuration."""

from __future__ import annotations

from swapstream.engine.config import EngineConfig
from swapstream.engine.stages.blend import BlendStage
from swapstream.engine.stages.color import ColorStage
from swapstream.engine.stages.faces import AlignStage, DetectStage
from swapstream.engine.stages.infer import InferStage

from swapstream.common.pipeline_contract import Stage


def swap_stages(model, cfg: EngineConfig, offline: bool) -> list[Stage]:
    """detect -> align -> infer -> color -> blend for `model` (an engine.runtime SwapModel).

    Face type and crop size come from the model's contract, never from flags, so crops always
    match what the model was trained on. offline=True batches faces across frames.
    """
    contract = model.contract
    batch = cfg.offline.batch_size if offline else 1
    return [
        DetectStage(cfg.detect),
        AlignStage(contract.face_type, contract.resolution),
        InferStage(model, batch_size=batch, mask_source=cfg.swap.mask),
        ColorStage(cfg.swap.color),
        BlendStage(cfg.swap.blend_config, contract.resolution),
    ]
