"""Checkpoint -> verified, self-describing ONNX model: the whole of `swapstream export`.

export_run(run_dir, output, options) loads the run's checkpoint (weights_only), exports the
chosen swap direction, verifies it against PyTorch on real aligned faces, converts it to the
requested precision (verified again, against fp32), writes the contract into metadata_props,
runs the ONNX checker and writes the file atomically. Any failed check raises UserError and
leaves no output file behind.
"""

from __future__ import annotations

import copy
import hashlib
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import onnx
import torch
from swapstream.engine.runtime.contract import ModelContract
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
    the source identity, if the checkpoint records it). verify_faces / calibration_faces: counts."""

    direction: str = "a2b"
    precision: str = "fp32"
    calibration: Path | None = None
    verify_faces: int = 16
    calibration_faces: int = 64

    def __post_init__(self) -> None:
        if self.direction not in DIRECTIONS:
            raise ValueError(f"direction must be one of {DIRECTIONS}, got {self.direction!r}")
        if self.precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {PRECISIONS}, got {self.precision!r}")
        if self.verify_faces < 1 or self.calibration_faces < 1:
            raise ValueError("verify_faces and calibration_faces must be >= 1")


@dataclass
class ExportReport:
    """What was written and how it was checked (printed by the CLI)."""

    path: Path
    contract: ModelContract
    verifications: list[Verification]
    faces_source: str
    size_bytes: int
    seconds: float
    int8_settings: str = ""
    int8_tried: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class LoadedRun:
    """A run's checkpoint, validated: the model in eval mode plus what goes into the metadata."""

    run_dir: Path
    model: torch.nn.Module
    model_config: object
    preset: str
    iterations: int
    losses: dict[str, float]
    facesets: dict[str, str]
    weights_sha256: str


def weights_sha256(state_dict: dict[str, torch.Tensor]) -> str:
    """SHA-256 over parameter names, dtypes, shapes and bytes, in name order: the weights' identity."""
    h = hashlib.sha256()
    for name in sorted(state_dict):
        t = state_dict[name].detach().cpu().contiguous()
        h.update(f"{name}:{t.dtype}:{tuple(t.shape)};".encode())
        h.update(t.numpy().tobytes() if t.dtype != torch.bfloat16 else t.float().numpy().tobytes())
    return h.hexdigest()


def load_run(run_dir: str | Path) -> LoadedRun:
    """Load RUN_DIR/checkpoint.pt (weights_only) and build its model; UserError on any mismatch."""
    from swapstream.trainer.checkpoint import find_checkpoint, load_checkpoint
    from swapstream.trainer.config import ModelConfig
    from swapstream.trainer.model import build_model

    run_dir = Path(run_dir)
    path = find_checkpoint(run_dir)
    state = load_checkpoint(path)
    try:
        cfg = ModelConfig.from_dict(state["model_config"])
    except ValueError as e:
        raise user_error(path, f"model_config: {e}") from None
    model = build_model(cfg)
    try:
        model.load_state_dict(state["model"])
    except RuntimeError as e:
        raise user_error(path, f"weights do not fit model_config ({str(e).splitlines()[0]})") from None
    facesets = state.get(FACESETS_KEY) or {}
    losses = {str(k): float(v) for k, v in state["losses"].items()}
    return LoadedRun(
        run_dir=run_dir,
        model=model.eval(),
        model_config=cfg,
        preset=state["preset"],
        iterations=state["iteration"],
        losses=losses,
        facesets={str(k): str(v) for k, v in facesets.items()} if isinstance(facesets, dict) else {},
        weights_sha256=weights_sha256(state["model"]),
    )


def _torch_outputs(graph: SwapGraph, faces: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    with torch.no_grad():
        face, mask = graph(torch.from_numpy(faces))
    return face.numpy(), mask.numpy()


def _faces_for(run: LoadedRun, options: ExportOptions, count: int, purpose: str) -> tuple[np.ndarray, str]:
    """Real aligned faces of the direction's source identity: (uint8 NHWC BGR, where from)."""
    from swapstream.export.faces import faceset_faces, public_domain_faces

    cfg = run.model_config
    source = options.direction[0]
    recorded = run.facesets.get(source)
    if recorded and Path(recorded).is_dir():
        return faceset_faces(recorded, cfg.face_type, cfg.resolution, count), f"faceset {source.upper()} {recorded}"
    if options.calibration is not None:
        faces = faceset_faces(options.calibration, cfg.face_type, cfg.resolution, count)
        return faces, f"faceset {options.calibration}"
    if purpose == "calibration":
        raise user_error(
            run.run_dir,
            "INT8 needs calibration faces: the checkpoint records no faceset for identity "
            f"{source.upper()}; pass --calibration FACESET",
        )
    return public_domain_faces(cfg.face_type, cfg.resolution, count), "public-domain photos (astronaut, Grace Hopper)"


def _fail(output: Path, check: Verification) -> None:
    raise user_error(output, f"verification failed, nothing written: {check.summary()}")


def build_contract(run: LoadedRun, options: ExportOptions) -> ModelContract:
    """The metadata contract of the shipped (uint8 I/O) graph."""
    cfg = run.model_config
    input_spec, face_spec, mask_spec = tensor_specs("uint8")
    return ModelContract(
        format="swapstream",
        contract_version=CONTRACT_VERSION,
        face_type=cfg.face_type,
        template_id=TEMPLATE_ID,
        resolution=cfg.resolution,
        input=input_spec,
        face_output=face_spec,
        mask_output=mask_spec,
        direction=options.direction,
        preset=run.preset,
        arch=cfg.arch,
        precision=options.precision,
        iterations=run.iterations,
        losses=run.losses,
        weights_sha256=run.weights_sha256,
    )


def with_metadata(model_bytes: bytes, contract: ModelContract) -> bytes:
    """The model with the contract in metadata_props, checked by the ONNX checker."""
    model = onnx.load_from_string(model_bytes)
    del model.metadata_props[:]
    for key, value in contract.to_metadata().items():
        model.metadata_props.add(key=key, value=value)
    model.producer_name = "swapstream"
    onnx.checker.check_model(model)
    return model.SerializeToString()


def export_model_bytes(run: LoadedRun, options: ExportOptions, output: Path) -> tuple[bytes, ExportReport]:
    """Export + verify + convert in memory; returns (final model bytes with metadata, report)."""
    started = time.perf_counter()
    model, cfg = run.model, run.model_config
    if options.direction not in model.swap_directions():
        raise user_error(
            run.run_dir,
            f"a {cfg.arch.upper()} model cannot swap {options.direction} "
            f"(it can: {', '.join(model.swap_directions())})",
        )
    faces, faces_source = _faces_for(run, options, options.verify_faces, "verification")
    swap = model.swap_module(options.direction)
    shipped = SwapGraph(swap, "uint8")
    twin = SwapGraph(swap, "float")
    fp32_bytes = export_graph(shipped, cfg.resolution)
    reference = _torch_outputs(shipped, faces)
    float_faces = np.ascontiguousarray(faces.transpose(0, 3, 1, 2), np.float32) / np.float32(255.0)
    fp32_check = compare_fp32(
        run_onnx(export_graph(twin, cfg.resolution), float_faces),
        _torch_outputs(twin, float_faces),
        run_onnx(fp32_bytes, faces),
        reference,
    )
    checks = [fp32_check]
    if not fp32_check.passed:
        _fail(output, fp32_check)
    final, int8_name, int8_tried = fp32_bytes, "", []
    if options.precision == "fp16":
        half = SwapGraph(copy.deepcopy(swap).half(), "uint8", compute_dtype=torch.float16)
        final = export_graph(half, cfg.resolution)
        checks.append(compare_by_ssim("fp16", run_onnx(final, faces), reference))
    elif options.precision == "int8":
        from swapstream.export.quantize import best_int8

        calibration, calibration_source = _faces_for(run, options, options.calibration_faces, "calibration")
        log.info("calibrating INT8 on %d faces from %s", len(calibration), calibration_source)

        def passes(candidate: bytes) -> tuple[bool, str]:
            check = compare_by_ssim("int8", run_onnx(candidate, faces), reference)
            checks.append(check)
            return check.passed, check.summary()

        try:
            final, settings, int8_tried = best_int8(fp32_bytes, calibration, passes)
        except ValueError as e:
            raise user_error(output, f"verification failed, nothing written: {e}") from None
        int8_name = settings.name
        checks = [fp32_check, checks[-1]]
    if not checks[-1].passed:
        _fail(output, checks[-1])
    contract = build_contract(run, options)
    final = with_metadata(final, contract)
    report = ExportReport(
        path=output,
        contract=contract,
        verifications=checks,
        faces_source=faces_source,
        size_bytes=len(final),
        seconds=time.perf_counter() - started,
        int8_settings=int8_name,
        int8_tried=int8_tried,
    )
    return final, report


def export_run(run_dir: str | Path, output: str | Path, options: ExportOptions) -> ExportReport:
    """Export RUN_DIR's checkpoint to `output` (verified, with metadata, written atomically)."""
    output = Path(output)
    if output.suffix.lower() != ".onnx":
        raise user_error(output, "the output model must end in .onnx")
    run = load_run(run_dir)
    data, report = export_model_bytes(run, options, output)
    atomic_write_bytes(output, data)
    return report
