"""Assemble the swap stages for a model from the engine configuration."""

from __future__ import annotations

import functools
import logging
from pathlib import Path

from swapstream.engine.engine_config import EngineConfig
from swapstream.engine.gpu.availability import frame_path, report
from swapstream.engine.image.target_detail import DETAIL_BANK_SUFFIX, DRIVER_DETAIL, target_detail_from
from swapstream.engine.runtime.occluder import load_occluder
from swapstream.engine.stages.blend_stage import BlendStage
from swapstream.engine.stages.color_stage import ColorStage
from swapstream.engine.stages.faces import AlignStage, DetectStage
from swapstream.engine.stages.infer import InferStage
from swapstream.engine.stages.mask_refine import MaskRefiner
from swapstream.engine.stages.steady_stage import SteadyStage

from swapstream.common.errors import UserError

log = logging.getLogger(__name__)


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

        if cfg.swap.detail > 0 and detail_bank_path(cfg, model) is not None:
            log.warning(
                "--detail: the target's own detail is added on the CPU frame path only; the GPU frame path "
                "pastes the model's pixels without it (--device cpu adds it)"
            )
        return device_swap_stages(model, cfg, offline, references, others, refiner, choice.io_binding)
    blend = BlendStage(
        cfg.swap,
        contract.output_resolution,
        refiner,
        contract.grid_resolution,
        target_detail(cfg, model),
        driver_detail=cfg.swap.detail_from == DRIVER_DETAIL,
    )
    blend.detail_model = model  # the model whose target the detail is of (a live model switch replaces it)
    return [
        DetectStage(cfg.detect, offline=offline, references=references),
        AlignStage(contract.face_type, contract.output_resolution),  # the model input is resized in InferStage
        InferStage(model, batch_size=batch, mask=cfg.swap.mask_use, others=others),
        ColorStage(cfg.swap),
        SteadyStage(cfg.swap),
        blend,
    ]


def detail_bank_path(cfg: EngineConfig, model) -> Path | None:
    """The target faceset whose detail the blend adds: cfg.swap.detail_from, else the model's
    detail bank beside it (MODEL.detail, written by `swapstream export`), else None (then
    --detail adds nothing: the driver's detail only when asked for by name, `driver`)."""
    if cfg.swap.detail_from == DRIVER_DETAIL:
        return None
    if cfg.swap.detail_from:
        return Path(cfg.swap.detail_from)
    beside = Path(model.path).with_suffix(DETAIL_BANK_SUFFIX)
    if beside.is_dir():
        return beside
    if cfg.swap.detail > 0:
        _warn_no_bank(str(model.path), beside.name)
    return None


@functools.cache
def _warn_no_bank(model_path: str, bank_name: str) -> None:
    """Once per model and process: convert builds its stages once per segment."""
    log.warning(
        "%s has no detail bank beside it (%s, written by `swapstream export`): --detail adds nothing; "
        "pass --detail-from FACESET (the target's faces)",
        model_path,
        bank_name,
    )


def target_detail(cfg: EngineConfig, model):
    """The blend's engine.image.target_detail.TargetDetail, or None (detail off, or no target faces)."""
    path = detail_bank_path(cfg, model) if cfg.swap.detail > 0 else None
    return None if path is None else target_detail_from(path, model.contract)


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
