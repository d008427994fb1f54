"""Checkpoint -> verified, self-describing ONNX model: export_model(), the export package's one entry point.

`swapstream export`, `swapstream demo` and `swapstream bench` all call export_model(source, output,
options). source: a training run's directory (its checkpoint is loaded weights_only and rebuilt by
trainer.checkpoint.model_from_checkpoint) or RandomWeights(preset) (a fresh model, for speed
measurements). The chosen swap direction is exported, verified against PyTorch on real aligned
faces, converted to the requested precision (verified again, against fp32), given the contract in
metadata_props, checked by the ONNX checker and written atomically. Any failed check raises
UserError and leaves no output file behind. options.verify=False skips the comparisons with
PyTorch: only for random weights, whose outputs have no quality to keep.
"""

from __future__ import annotations

import copy
import logging
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import onnx
import torch
from swapstream.engine.runtime.contract import ModelContract
from swapstream.engine.runtime.model_hash import model_sha256
from swapstream.export.graph import SwapGraph, export_graph, tensor_specs
from swapstream.export.verify import Verification, compare_by_ssim, compare_fp32, run_onnx

from swapstream.common.alignment_ids import CONTRACT_VERSION, TEMPLATE_ID
from swapstream.common.atomic_files import atomic_write_bytes
from swapstream.common.choices import DIRECTIONS
from swapstream.common.choices import MODEL_PRECISIONS as PRECISIONS
from swapstream.common.errors import user_error

log = logging.getLogger(__name__)

FACESETS_KEY = "facesets"  # optional checkpoint entry {"a": path, "b": path} written by the trainer


@dataclass(frozen=True)
class ExportOptions:
    """What to export. calibration: faceset for INT8 calibration (default: the run's faceset of
    the source identity, if the checkpoint records it). verify_faces / calibration_faces: counts.
    verify: False skips every comparison with PyTorch, keeps the fastest INT8 recipe and lets the
    public-domain photos calibrate it (random weights have no quality, and no identity, to keep)."""

    direction: str = "a2b"
    precision: str = "fp32"
    calibration: Path | None = None
    verify_faces: int = 16
    calibration_faces: int = 64
    verify: bool = True

    def __post_init__(self) -> None:
        if self.direction not in DIRECTIONS:
            raise ValueError(f"direction must be one of {DIRECTIONS}, got {self.direction!r}")
        if self.precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {PRECISIONS}, got {self.precision!r}")
        if self.verify_faces < 1 or self.calibration_faces < 1:
            raise ValueError("verify_faces and calibration_faces must be >= 1")


@dataclass(frozen=True)
class RandomWeights:
    """An export source without training: the preset's architecture initialised from `seed`.
    For speed measurements only; its contract records 0 iterations."""

    preset: str  # a preset name or YAML path (trainer.config.load_preset)
    seed: int = 0


@dataclass
class ExportReport:
    """What was written and how it was checked. verifications: [fp32 vs PyTorch, converted vs fp32
    (fp16/int8)], empty when not verified."""

    path: Path
    contract: ModelContract
    verifications: list[Verification]
    faces_source: str
    size_bytes: int
    seconds: float
    int8_settings: str = ""
    int8_tried: list[str] = field(default_factory=list)
    detail_bank: Path | None = None  # MODEL.detail: the target's faces --detail draws on (None: not written)

    def lines(self) -> list[str]:
        """What the commands print: each check, each INT8 recipe tried, then one summary line."""
        c = self.contract
        out = "" if c.output_resolution == c.resolution else f" in, {c.output_resolution} px out"
        checked = (
            f"verified on {self.verifications[0].faces} faces from {self.faces_source}"
            if self.verifications
            else "not verified"
        )
        int8 = f"; int8 settings: {self.int8_settings}" if self.int8_settings else ""
        bank = (
            [f"detail bank: {self.detail_bank} (the target's own faces: --detail's detail and --mouth's mouths)"]
            if self.detail_bank
            else ["detail bank: none (the run records no target faceset): pass --detail-from FACESET to convert/live"]
        )
        return [
            *(f"verified {check.summary()}" for check in self.verifications),
            *(f"int8 tried {line}" for line in self.int8_tried),
            *bank,
            f"{self.path}: {c.arch.upper()} {c.direction} {c.precision}, {c.face_type} faces at {c.resolution} px"
            f"{out}, preset {c.preset or '-'}, {c.iterations} iterations, {self.size_bytes / 1e6:.1f} MB, "
            f"{checked}, {self.seconds:.1f} s{int8}",
        ]


@dataclass(frozen=True)
class LoadedRun:
    """An export source, ready: the model in eval mode plus what goes into the metadata.
    origin: the run directory (or the preset, for random weights), named in errors."""

    origin: Path
    model: torch.nn.Module
    model_config: object
    preset: str
    iterations: int
    losses: dict[str, float]
    facesets: dict[str, str]


def load_run(run_dir: str | Path) -> LoadedRun:
    """Load RUN_DIR/checkpoint.pt (weights_only) and rebuild its model; UserError on any mismatch."""
    from swapstream.trainer.checkpoint import find_checkpoint, load_checkpoint, model_from_checkpoint

    run_dir = Path(run_dir)
    path = find_checkpoint(run_dir)
    state = load_checkpoint(path)
    cfg, model = model_from_checkpoint(state, path)
    facesets = state.get(FACESETS_KEY) or {}
    losses = {str(k): float(v) for k, v in state["losses"].items()}
    return LoadedRun(
        origin=run_dir,
        model=model.eval(),
        model_config=cfg,
        preset=state["preset"],
        iterations=state["iteration"],
        losses=losses,
        facesets={str(k): str(v) for k, v in facesets.items()} if isinstance(facesets, dict) else {},
    )


def _random_weights_run(source: RandomWeights) -> LoadedRun:
    """A freshly initialised model of the preset's architecture (the caller's torch RNG is left alone)."""
    from swapstream.trainer.config import load_preset
    from swapstream.trainer.model import build_model

    cfg, _ = load_preset(source.preset)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(source.seed)
        model = build_model(cfg).eval()
    return LoadedRun(
        origin=Path(source.preset),
        model=model,
        model_config=cfg,
        preset=Path(source.preset).stem,
        iterations=0,
        losses={},
        facesets={},
    )


def _torch_outputs(graph: SwapGraph, faces: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    with torch.no_grad():
        face, mask = graph(torch.from_numpy(faces))
    return face.numpy(), mask.numpy()


def _faces_for(run: LoadedRun, options: ExportOptions, count: int, purpose: str) -> tuple[np.ndarray, str]:
    """Real aligned faces of the direction's source identity: (uint8 NHWC BGR, where from)."""
    from swapstream.export.sample_faces import faceset_faces, public_domain_faces

    cfg = run.model_config
    size = cfg.input_resolution
    source = options.direction[0]
    recorded = run.facesets.get(source)
    if recorded and Path(recorded).is_dir():
        return faceset_faces(recorded, cfg.face_type, size, count), f"faceset {source.upper()} {recorded}"
    if options.calibration is not None:
        faces = faceset_faces(options.calibration, cfg.face_type, size, count)
        return faces, f"faceset {options.calibration}"
    if purpose == "calibration" and options.verify:
        raise user_error(
            run.origin,
            "INT8 needs calibration faces: the checkpoint records no faceset for identity "
            f"{source.upper()}; pass --calibration FACESET",
        )
    return public_domain_faces(cfg.face_type, size, count), "public-domain photos (astronaut, Grace Hopper)"


def _fail(output: Path, check: Verification) -> None:
    raise user_error(output, f"verification failed, nothing written: {check.summary()}")


def _contract(run: LoadedRun, options: ExportOptions) -> ModelContract:
    """The metadata contract of the shipped (uint8 I/O) graph."""
    cfg = run.model_config
    input_spec, face_spec, mask_spec = tensor_specs("uint8")
    return ModelContract(
        format="swapstream",
        contract_version=CONTRACT_VERSION,
        face_type=cfg.face_type,
        template_id=TEMPLATE_ID,
        resolution=cfg.input_resolution,
        output_resolution=cfg.output_resolution,
        grid_resolution=cfg.resolution,
        input=input_spec,
        face_output=face_spec,
        mask_output=mask_spec,
        direction=options.direction,
        preset=run.preset,
        arch=cfg.arch,
        precision=options.precision,
        iterations=run.iterations,
        losses=run.losses,
    )


def _with_metadata(model_bytes: bytes, contract: ModelContract) -> tuple[bytes, ModelContract]:
    """The model with the contract in metadata_props, checked by the ONNX checker, and the
    contract with its weights_sha256 (engine.runtime.model_hash: the graph and the pixel contract)."""
    model = onnx.load_from_string(model_bytes)
    del model.metadata_props[:]
    model.producer_name = "swapstream"
    contract = replace(contract, weights_sha256=model_sha256(model.SerializeToString(), contract))
    for key, value in contract.to_metadata().items():
        model.metadata_props.add(key=key, value=value)
    onnx.checker.check_model(model)
    return model.SerializeToString(), contract


@dataclass(frozen=True)
class _Reference:
    """What every converted model is compared with: real faces of the source identity (uint8 NHWC
    BGR, from `source`), PyTorch's uint8 outputs on them, and the fp32 export's own check."""

    faces: np.ndarray
    outputs: tuple[np.ndarray, np.ndarray]
    source: str
    fp32_check: Verification


def _check_fp32(run: LoadedRun, options: ExportOptions, swap, fp32_bytes: bytes, output: Path) -> _Reference:
    """The fp32 export against PyTorch (float twin and shipped uint8 graph); UserError when it differs."""
    faces, source = _faces_for(run, options, options.verify_faces, "verification")
    shipped, twin = SwapGraph(swap, "uint8"), SwapGraph(swap, "float")
    reference = _torch_outputs(shipped, faces)
    float_faces = np.ascontiguousarray(faces.transpose(0, 3, 1, 2), np.float32) / np.float32(255.0)
    check = compare_fp32(
        run_onnx(export_graph(twin, run.model_config.input_resolution), float_faces),
        _torch_outputs(twin, float_faces),
        run_onnx(fp32_bytes, faces),
        reference,
    )
    if not check.passed:
        _fail(output, check)
    return _Reference(faces, reference, source, check)


@dataclass(frozen=True)
class _Converted:
    """The model at the requested precision; check: its comparison with fp32 (None for fp32 itself or unverified)."""

    model: bytes
    check: Verification | None = None
    int8_settings: str = ""
    int8_tried: list[str] = field(default_factory=list)
    detail_bank: Path | None = None  # MODEL.detail: the target's faces --detail draws on (None: not written)


def _convert(run: LoadedRun, options: ExportOptions, swap, fp32_bytes: bytes, reference, output: Path) -> _Converted:
    """fp32 bytes -> options.precision. With a _Reference each candidate must reach the SSIM bar
    against PyTorch's fp32 outputs (UserError when none does); without one the first is kept."""
    if options.precision == "fp32":
        return _Converted(fp32_bytes)
    checks = []

    def passes(candidate: bytes) -> tuple[bool, str]:
        if reference is None:
            return True, "not verified"
        checks.append(compare_by_ssim(options.precision, run_onnx(candidate, reference.faces), reference.outputs))
        return checks[-1].passed, checks[-1].summary()

    if options.precision == "fp16":
        half = SwapGraph(copy.deepcopy(swap).half(), "uint8", compute_dtype=torch.float16)
        model = export_graph(half, run.model_config.input_resolution)
        if not passes(model)[0]:
            _fail(output, checks[-1])
        return _Converted(model, checks[-1] if checks else None)
    from swapstream.export.quantize import best_int8

    calibration, calibration_source = _faces_for(run, options, options.calibration_faces, "calibration")
    log.info("calibrating INT8 on %d faces from %s", len(calibration), calibration_source)
    try:
        model, settings, tried = best_int8(fp32_bytes, calibration, passes)
    except ValueError as e:
        raise user_error(output, f"verification failed, nothing written: {e}") from None
    return _Converted(model, checks[-1] if checks else None, settings.name, tried)


def _export_bytes(run: LoadedRun, options: ExportOptions, output: Path) -> tuple[bytes, ExportReport]:
    """Export + verify + convert in memory; returns (final model bytes with metadata, report)."""
    started = time.perf_counter()
    model, cfg = run.model, run.model_config
    if options.direction not in model.swap_directions():
        raise user_error(
            run.origin,
            f"a {cfg.arch.upper()} model cannot swap {options.direction} "
            f"(it can: {', '.join(model.swap_directions())})",
        )
    swap = model.swap_module(options.direction)
    fp32_bytes = export_graph(SwapGraph(swap, "uint8"), cfg.input_resolution)
    reference = _check_fp32(run, options, swap, fp32_bytes, output) if options.verify else None
    converted = _convert(run, options, swap, fp32_bytes, reference, output)
    contract = _contract(run, options)
    final, contract = _with_metadata(converted.model, contract)
    checks = [reference.fp32_check] if reference is not None else []
    report = ExportReport(
        path=output,
        contract=contract,
        verifications=checks + ([converted.check] if converted.check is not None else []),
        faces_source=reference.source if reference is not None else "",
        size_bytes=len(final),
        seconds=time.perf_counter() - started,
        int8_settings=converted.int8_settings,
        int8_tried=converted.int8_tried,
    )
    return final, report


def export_model(source: str | Path | RandomWeights, output: str | Path, options: ExportOptions) -> ExportReport:
    """Export `source` to `output` (.onnx): verified unless options.verify is False, with metadata, atomic.

    source: a training run's directory (holding checkpoint.pt), or RandomWeights(preset).
    UserError on a bad source, an impossible request or a failed check; nothing is written then.
    """
    output = Path(output)
    if output.suffix.lower() != ".onnx":
        raise user_error(output, "the output model must end in .onnx")
    run = _random_weights_run(source) if isinstance(source, RandomWeights) else load_run(source)
    data, report = _export_bytes(run, options, output)
    atomic_write_bytes(output, data)
    target = run.facesets.get(options.direction[-1])
    if target and Path(target).is_dir():  # the identity the model renders: its own detail for --detail
        from swapstream.export.detail_bank import write_detail_bank

        report.detail_bank = write_detail_bank(Path(target), output)
    elif target:
        log.warning(
            "%s: the run's target faceset %s is not there: no detail bank written (convert's --detail adds "
            "nothing; pass --detail-from FACESET there)",
            output,
            target,
        )
    return report
