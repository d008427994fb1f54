"""Occlusion models: aligned BGR crops in, per-pixel "something is in front of the face" out.

An occlusion model (made by `swapstream train-mask`) is an ONNX file whose metadata_props are:

    swapstream.kind              "occlusion"     (a swap model has no kind, or "swap")
    swapstream.contract_version  "1"             alignment contract it was trained under
    swapstream.template_id       "mp478-sym-v1"  alignment template
    swapstream.face_type         "whole"         crop coverage of its input
    swapstream.resolution        "64"            input crop size R
    swapstream.input             JSON TensorSpec: uint8 NHWC BGR [0, 255], name "face"
    swapstream.output            JSON TensorSpec: uint8 NHWC "A" [0, 255], name "occlusion";
                                 255 = an occluder (hand, object, hair strand) covers the face there
    swapstream.iterations        training iterations
    swapstream.validation        JSON {metric: value} on held-out synthetic occluders

The output may be smaller than the input (a coarse mask is enough: it is resized and feathered);
its side is read from the graph. Every refusal at load is a UserError naming the file.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
from swapstream.engine.runtime.contract import (
    MASK_CHANNELS,
    MAX_RESOLUTION,
    MIN_RESOLUTION,
    PREFIX,
    MetadataReader,
    TensorSpec,
)
from swapstream.engine.runtime.providers import RuntimeConfig

from swapstream.common.alignment_ids import CONTRACT_VERSION, TEMPLATE_ID
from swapstream.common.choices import MODEL_KINDS
from swapstream.common.errors import user_error

OCCLUSION_KIND = MODEL_KINDS[1]
# A tiny model: one thread, so it never competes with the swap model's threads for the cores.
OCCLUDER_RUNTIME = RuntimeConfig(providers=("cpu",), intra_op_threads=1)


INPUT_SPEC = TensorSpec("face")
OUTPUT_SPEC = TensorSpec("occlusion", channels="A")


@dataclass(frozen=True)
class OccluderContract:
    """What an occlusion model reads and returns (see the module docstring)."""

    face_type: str
    resolution: int
    input: TensorSpec = INPUT_SPEC
    output: TensorSpec = OUTPUT_SPEC
    contract_version: int = CONTRACT_VERSION
    template_id: str = TEMPLATE_ID
    iterations: int = 0
    validation: dict[str, float] = field(default_factory=dict)

    def to_metadata(self) -> dict[str, str]:
        meta = {
            "kind": OCCLUSION_KIND,
            "contract_version": str(self.contract_version),
            "template_id": self.template_id,
            "face_type": self.face_type,
            "resolution": str(self.resolution),
            "input": json.dumps(self.input.to_json()),
            "output": json.dumps(self.output.to_json()),
            "iterations": str(self.iterations),
            "validation": json.dumps(self.validation),
        }
        return {PREFIX + k: v for k, v in meta.items()}


def occluder_contract_from_metadata(metadata: dict[str, str], path: object) -> OccluderContract:
    """Parse and validate an occlusion model's metadata; refusals are UserErrors naming `path`."""
    kind = metadata.get(PREFIX + "kind", MODEL_KINDS[0])
    if kind != OCCLUSION_KIND:
        raise user_error(path, f"is a {kind} model, not an occlusion model (make one with `swapstream train-mask`)")

    meta = MetadataReader(metadata, path, "occlusion model")
    get_int, get_json = meta.get_int, meta.get_json

    version, template_id, face_type = meta.alignment()
    resolution = get_int("resolution")
    if not MIN_RESOLUTION <= resolution <= MAX_RESOLUTION:
        raise user_error(path, f"resolution {resolution} is outside {MIN_RESOLUTION}..{MAX_RESOLUTION}")
    validation = json.loads(metadata.get(PREFIX + "validation", "{}") or "{}")
    return OccluderContract(
        face_type=face_type,
        resolution=resolution,
        input=TensorSpec.from_json(get_json("input"), "input", ("BGR",), path),
        output=TensorSpec.from_json(get_json("output"), "output", MASK_CHANNELS, path),
        contract_version=version,
        template_id=template_id,
        iterations=get_int("iterations") if PREFIX + "iterations" in metadata else 0,
        validation={str(k): float(v) for k, v in validation.items()} if isinstance(validation, dict) else {},
    )


@dataclass
class OccluderModel:
    """A loaded occlusion model. `occlusion(crops)` -> float32 (N, R, R) in [0, 1], 1 = occluded."""

    path: Path
    session: object
    contract: OccluderContract
    provider: str

    def __post_init__(self) -> None:
        for spec in (self.contract.input, self.contract.output):
            if spec.dtype != "uint8" or spec.layout != "NHWC" or spec.range != (0.0, 255.0):
                raise user_error(self.path, f"occlusion model {spec.name!r} must be uint8 NHWC [0, 255]")
        inputs = {i.name: i.shape for i in self.session.get_inputs()}
        outputs = {o.name: o.shape for o in self.session.get_outputs()}
        r = self.contract.resolution
        shape = inputs.get(self.contract.input.name)
        if shape is None or len(shape) != 4 or list(shape[1:]) != [r, r, 3]:
            raise user_error(
                self.path, f"input {self.contract.input.name!r} has shape {shape}, expected (N, {r}, {r}, 3)"
            )
        out = outputs.get(self.contract.output.name)
        if out is None or len(out) != 4 or out[3] != 1 or not isinstance(out[1], int) or out[1] != out[2]:
            raise user_error(self.path, f"output {self.contract.output.name!r} has shape {out}, expected (N, S, S, 1)")

    @property
    def resolution(self) -> int:
        return self.contract.resolution

    def occlusion(self, crops: np.ndarray, resize: bool = True) -> np.ndarray:
        """crops: uint8 (N, R, R, 3) BGR at the model's resolution -> float32 (N, R, R) in [0, 1]
        (resize=False: (N, S, S) at the model's own output size S)."""
        r = self.contract.resolution
        if crops.dtype != np.uint8 or crops.shape[1:] != (r, r, 3):
            raise ValueError(f"expected uint8 (N, {r}, {r}, 3) BGR crops, got {crops.dtype} {crops.shape}")
        (y,) = self.session.run([self.contract.output.name], {self.contract.input.name: np.ascontiguousarray(crops)})
        masks = y[..., 0].astype(np.float32) * np.float32(1 / 255)
        if resize and masks.shape[1] != r:
            masks = np.stack([cv2.resize(m, (r, r), interpolation=cv2.INTER_LINEAR) for m in masks])
        return masks

    def warmup(self) -> None:
        r = self.contract.resolution
        self.occlusion(np.full((1, r, r, 3), 128, np.uint8))


def load_occluder(path: str | Path, runtime_cfg: RuntimeConfig = OCCLUDER_RUNTIME) -> OccluderModel:
    """Load and validate an occlusion model (engine.runtime.providers builds the session)."""
    from swapstream.engine.runtime.swap_model import _open_session

    path = Path(path)
    session, provider = _open_session(path, runtime_cfg)
    contract = occluder_contract_from_metadata(session.get_modelmeta().custom_metadata_map, path)
    model = OccluderModel(path, session, contract, provider)
    model.warmup()
    return model


def inspect_occluder(path: str | Path) -> OccluderContract | None:
    """The validated contract of an occlusion model file; None when the file is another kind."""
    from swapstream.engine.runtime.swap_model import _INSPECT_CONFIG, _open_session

    path = Path(path)
    session, _ = _open_session(path, _INSPECT_CONFIG)
    metadata = session.get_modelmeta().custom_metadata_map
    if metadata.get(PREFIX + "kind") != OCCLUSION_KIND:
        return None
    return occluder_contract_from_metadata(metadata, path)
