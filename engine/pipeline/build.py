"""Assemble the swap stages for a model from the engine configuration."""

from __future__ import annotations

from swapstream.engine.engine_config import EngineConfig
from swapstream.engine.gpu.availability import frame_path, report
from swapstream.engine.runtime.occluder import load_occluder
from swapstream.engine.stages.blend_stage import BlendStage
from swapstream.engine.stages.color_stage import ColorStage
from swapstream.engine.stages.faces import AlignStage, DetectStage
from swapstream.engine.stages.infer import InferStage
from swapstream.engine.stages.mask_refine import MaskRefiner
from swapstream.engine.stages.steady_stage import SteadyStage

from swapstream.common.errors import UserError


def swap_stages(model, cfg: EngineConfig, offline: bool, references: tuple = (), others: dict | None = None):
    """detect -> align -> infer -> color -> steady -> blend for `model` (an engine.runtime SwapModel); blend
    also keeps the open mouth and removes occluders from the mask when cfg.swap asks for it.

    Face type and crop size come from the model's contract, never from flags, so crops always
    match what the model was trained on; crops are aligned at the model's output resolution.
    offline=True batches faces across frames. On the GPU frame path (engine/gpu/availability.py)
    the same stages run on the device (engine.pipeline.build_device). references (engine.face.people.Reference): swap
    only these people, each by `model` (target 0) or others[target] (same face type and sizes).
    """
    contract = model.contract
    others = dict(others or {})
    check_same_crops(model, others)
    batch = cfg.offline.batch_size if offline else 1
    refiner = mask_refiner(cfg, contract.face_type)
    choice = frame_path(model, cfg.swap.blend)
    report(choice)
    if choice.use:
        from swapstream.engine.pipeline.build_device import device_swap_stages

        return device_swap_stages(model, cfg, offline, references, others, refiner, choice.io_binding)
    return [
        DetectStage(cfg.detect, offline=offline, references=references),
        AlignStage(contract.face_type, contract.output_resolution),  # the model input is resized in InferStage
        InferStage(model, batch_size=batch, mask=cfg.swap.mask_use, others=others),
        ColorStage(cfg.swap),
        SteadyStage(cfg.swap),
        BlendStage(cfg.swap, contract.output_resolution, refiner, contract.grid_resolution),
    ]


def check_same_crops(model, others: dict) -> None:
    """Every model of one run reads crops of one face type at one size (one align stage serves all)."""
    want = (model.contract.face_type, model.contract.output_resolution)
    for other in others.values():
        got = (other.contract.face_type, other.contract.output_resolution)
        if got != want:
            raise UserError(
                f"{other.path}: swaps {got[0]} faces at {got[1]} px, the main model {want[0]} at {want[1]} px; "
                "every --reference model must match -m (train them with the same preset)"
            )


def mask_refiner(cfg: EngineConfig, face_type: str) -> MaskRefiner:
    """Keep-mouth and occlusion settings of `cfg`, with its occlusion model loaded (if any)."""
    s = cfg.swap
    occluder = load_occluder(s.occluder) if s.occluder else None
    return MaskRefiner(face_type, s.keep_mouth, occluder, occlusion=s.mask_use.occlusion)
