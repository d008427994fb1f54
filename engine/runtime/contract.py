"""The model contract: what a swap model expects and returns, read from the model file itself.

A swapstream model is an ONNX file whose `metadata_props` (all values strings) are:

    swapstream.contract_version  "1"             alignment contract (swapstream.common.alignment_ids)
    swapstream.template_id       "mp478-sym-v1"  alignment template (swapstream.common.alignment_ids)
    swapstream.face_type         "whole"         half | mid | full | whole | head
    swapstream.resolution        "64"            input crop size R in pixels
    swapstream.output_resolution "128"           size of the faces and masks the model returns; optional,
                                                 absent = resolution (models exported before it existed)
    swapstream.grid_resolution   "64"            side of the grid the network codes faces on (a depth-to-space
                                                 decoder guesses the detail between it and output_resolution;
                                                 a space-to-depth encoder reads R = 2 x it); optional,
                                                 absent = resolution
    swapstream.input             JSON {"name": "face", "layout": "NHWC", "dtype": "uint8",
                                       "channels": "BGR", "range": [0, 255]}
    swapstream.outputs           JSON {"face": {"name": "swapped", "layout": "NHWC", "dtype": "uint8",
                                                "channels": "BGR", "range": [0, 255]},
                                       "mask": {"name": "mask", "layout": "NHWC", "dtype": "uint8",
                                                "channels": "A", "range": [0, 255]}}
    swapstream.direction         "a2b" | "b2a"
    swapstream.preset            preset name the run was trained with ("live", "balanced", ...)
    swapstream.arch              "df" | "liae"
    swapstream.precision         "fp32" | "fp16" | "int8"
    swapstream.iterations        training iterations, integer
    swapstream.losses            JSON {loss name: value at export}
    swapstream.weights_sha256    hex SHA-256 of the graph (the file without metadata_props) and the
                                 pixel contract (face type, sizes, I/O specs): engine.runtime.model_hash;
                                 verified at load, a model whose hash does not match is refused
    swapstream.synthetic         "true": outputs are synthetic faces

The batch axis (first) is dynamic. Layouts are NHWC or NCHW; dtypes uint8, float32 or float16;
face channels BGR or RGB; mask channels "A" (one channel). `range` is the value that pixel 0
and pixel 255 map to, e.g. [0, 255] for uint8 or [0, 1] / [-1, 1] for floats.

A DeepFaceLive `.dfm` is ONNX without this metadata: NHWC float32 input `in_face:0` (BGR, [0, 1])
and outputs `out_face_mask:0`, `out_celeb_face:0`, `out_celeb_face_mask:0`, optionally a second
input `morph_value:0`. Its face type is not recorded, so the user must give it.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

from swapstream.common.alignment_ids import CONTRACT_VERSION, TEMPLATE_ID
from swapstream.common.choices import DIRECTIONS, FACE_TYPES, MODEL_KINDS
from swapstream.common.choices import MODEL_PRECISIONS as PRECISIONS
from swapstream.common.errors import user_error

PREFIX = "swapstream."
KNOWN_CONTRACT_VERSIONS = (CONTRACT_VERSION,)
KNOWN_TEMPLATE_IDS = (TEMPLATE_ID,)
LAYOUTS = ("NHWC", "NCHW")
DTYPES = ("uint8", "float32", "float16")
FACE_CHANNELS = ("BGR", "RGB")
MASK_CHANNELS = ("A",)
MIN_RESOLUTION, MAX_RESOLUTION = 16, 1024

DFM_INPUT = "in_face:0"
DFM_MORPH_INPUT = "morph_value:0"
DFM_OUTPUT_FACE = "out_celeb_face:0"
DFM_OUTPUT_MASK = "out_celeb_face_mask:0"
DFM_OUTPUT_SOURCE_MASK = "out_face_mask:0"
DFM_TEMPLATE_ID = "deepfacelab"


@dataclass(frozen=True)
class TensorSpec:
    """One image tensor of the model's interface. range: (value of pixel 0, value of pixel 255)."""

    name: str
    layout: str = "NHWC"
    dtype: str = "uint8"
    channels: str = "BGR"
    range: tuple[float, float] = (0.0, 255.0)

    def to_json(self) -> dict:
        d = asdict(self)
        d["range"] = list(self.range)
        return d

    @classmethod
    def from_json(cls, d: object, what: str, allowed_channels: tuple[str, ...], path: object) -> TensorSpec:
        if not isinstance(d, dict):
            raise user_error(path, f"model metadata: {what} spec is not a JSON object")
        try:
            spec = cls(
                name=str(d["name"]),
                layout=str(d["layout"]),
                dtype=str(d["dtype"]),
                channels=str(d["channels"]),
                range=tuple(float(v) for v in d["range"]),
            )
        except (KeyError, TypeError, ValueError) as e:
            raise user_error(path, f"model metadata: {what} spec is malformed ({e!r})") from None
        for value, allowed, field_name in (
            (spec.layout, LAYOUTS, "layout"),
            (spec.dtype, DTYPES, "dtype"),
            (spec.channels, allowed_channels, "channels"),
        ):
            if value not in allowed:
                raise user_error(path, f"model metadata: {what} {field_name} {value!r} is not one of {allowed}")
        if len(spec.range) != 2 or spec.range[0] == spec.range[1]:
            raise user_error(path, f"model metadata: {what} range {list(spec.range)} is not [low, high]")
        return spec


@dataclass(frozen=True)
class ModelContract:
    """Everything the engine needs to feed a model and read its outputs.

    format: 'swapstream' (metadata in the file) or 'dfm' (DeepFaceLive; I/O fixed, face type given
    by the user). resolution: the side R of the square aligned crops the model reads;
    output_resolution: the side of the faces and masks it returns (0 given = resolution). The
    engine aligns at the output resolution (colour transfer and blending work there) and resizes
    the crop to R for the model. grid_resolution: the side of the grid the network codes faces on
    (0 given = resolution); detail finer than it is the decoder's guess.
    """

    format: str
    contract_version: int
    face_type: str
    template_id: str
    resolution: int
    input: TensorSpec
    face_output: TensorSpec
    mask_output: TensorSpec
    direction: str = ""
    preset: str = ""
    arch: str = ""
    precision: str = "fp32"
    iterations: int = 0
    losses: dict[str, float] = field(default_factory=dict)
    weights_sha256: str = ""
    synthetic: bool = True
    output_resolution: int = 0
    grid_resolution: int = 0

    def __post_init__(self) -> None:
        for name in ("output_resolution", "grid_resolution"):
            if not getattr(self, name):
                object.__setattr__(self, name, self.resolution)

    def to_metadata(self) -> dict[str, str]:
        """metadata_props for an exported swapstream model (the exporter writes exactly these)."""
        meta = {
            "contract_version": str(self.contract_version),
            "template_id": self.template_id,
            "face_type": self.face_type,
            "resolution": str(self.resolution),
            "output_resolution": str(self.output_resolution),
            "grid_resolution": str(self.grid_resolution),
            "input": json.dumps(self.input.to_json()),
            "outputs": json.dumps({"face": self.face_output.to_json(), "mask": self.mask_output.to_json()}),
            "direction": self.direction,
            "preset": self.preset,
            "arch": self.arch,
            "precision": self.precision,
            "iterations": str(self.iterations),
            "losses": json.dumps(self.losses),
            "weights_sha256": self.weights_sha256,
            "synthetic": "true" if self.synthetic else "false",
        }
        return {PREFIX + k: v for k, v in meta.items()}

    def describe(self) -> dict:
        """A JSON-friendly dict of the whole contract (for `swapstream info`)."""
        d = asdict(self)
        for key in ("input", "face_output", "mask_output"):
            d[key]["range"] = list(d[key]["range"])
        return d


def has_swapstream_metadata(metadata: dict[str, str]) -> bool:
    return any(k.startswith(PREFIX) for k in metadata)


class MetadataReader:
    """Typed access to `swapstream.*` metadata_props; every refusal is a UserError naming `path`.

    what: how the message names the artefact ("model", "occlusion model").
    """

    def __init__(self, metadata: dict[str, str], path: object, what: str):
        self.metadata, self.path, self.what = metadata, path, what

    def get(self, key: str) -> str:
        if PREFIX + key not in self.metadata:
            raise user_error(self.path, f"{self.what} metadata has no {PREFIX + key}")
        return self.metadata[PREFIX + key]

    def get_int(self, key: str) -> int:
        try:
            return int(self.get(key))
        except ValueError:
            raise user_error(
                self.path, f"{self.what} metadata {PREFIX + key}={self.get(key)!r} is not an integer"
            ) from None

    def get_json(self, key: str) -> object:
        try:
            return json.loads(self.get(key))
        except json.JSONDecodeError as e:
            raise user_error(self.path, f"{self.what} metadata {PREFIX + key} is not valid JSON ({e.msg})") from None

    def alignment(self) -> tuple[int, str, str]:
        """(contract version, template id, face type), each refused unless this engine knows it."""
        version = self.get_int("contract_version")
        if version not in KNOWN_CONTRACT_VERSIONS:
            raise user_error(
                self.path,
                f"alignment contract version {version} is unknown to this engine (knows {KNOWN_CONTRACT_VERSIONS}); "
                "re-export the model with this swapstream version or upgrade the engine",
            )
        template_id = self.get("template_id")
        if template_id not in KNOWN_TEMPLATE_IDS:
            raise user_error(
                self.path, f"alignment template {template_id!r} is unknown (this engine aligns to {TEMPLATE_ID!r})"
            )
        face_type = self.get("face_type")
        if face_type not in FACE_TYPES:
            raise user_error(self.path, f"face type {face_type!r} is unknown (known: {', '.join(FACE_TYPES)})")
        return version, template_id, face_type


def contract_from_metadata(metadata: dict[str, str], path: object) -> ModelContract:
    """Parse and validate swapstream metadata_props; every refusal is a UserError naming `path`."""

    meta = MetadataReader(metadata, path, "model")
    get_int, get_json = meta.get_int, meta.get_json

    kind = metadata.get(PREFIX + "kind", MODEL_KINDS[0])
    if kind != MODEL_KINDS[0]:
        raise user_error(
            path,
            f"is {'an' if kind[:1] in 'aeiou' else 'a'} {kind} model, not a swap model "
            "(an occlusion model goes to --occluder)",
        )
    version, template_id, face_type = meta.alignment()
    resolution = get_int("resolution")
    sizes = {
        name: get_int(name) if PREFIX + name in metadata else resolution
        for name in ("resolution", "output_resolution", "grid_resolution")
    }
    for name, value in sizes.items():
        if not MIN_RESOLUTION <= value <= MAX_RESOLUTION:
            raise user_error(path, f"{name} {value} is outside {MIN_RESOLUTION}..{MAX_RESOLUTION}")
    if sizes["grid_resolution"] > min(resolution, sizes["output_resolution"]):
        raise user_error(path, f"grid_resolution {sizes['grid_resolution']} exceeds the input or output resolution")
    outputs = get_json("outputs")
    if not isinstance(outputs, dict) or set(outputs) != {"face", "mask"}:
        raise user_error(path, "model metadata swapstream.outputs must have exactly 'face' and 'mask'")
    losses = get_json("losses")
    if not isinstance(losses, dict) or not all(isinstance(v, int | float) for v in losses.values()):
        raise user_error(path, "model metadata swapstream.losses is not a JSON object of numbers")
    precision = metadata.get(PREFIX + "precision", "fp32")
    if precision not in PRECISIONS:
        raise user_error(path, f"precision {precision!r} is not one of {PRECISIONS}")
    direction = metadata.get(PREFIX + "direction", "")
    if direction and direction not in DIRECTIONS:
        raise user_error(path, f"direction {direction!r} is not one of {DIRECTIONS}")
    return ModelContract(
        format="swapstream",
        contract_version=version,
        face_type=face_type,
        template_id=template_id,
        resolution=resolution,
        input=TensorSpec.from_json(get_json("input"), "input", FACE_CHANNELS, path),
        face_output=TensorSpec.from_json(outputs["face"], "face output", FACE_CHANNELS, path),
        mask_output=TensorSpec.from_json(outputs["mask"], "mask output", MASK_CHANNELS, path),
        direction=direction,
        preset=metadata.get(PREFIX + "preset", ""),
        arch=metadata.get(PREFIX + "arch", ""),
        precision=precision,
        iterations=get_int("iterations") if PREFIX + "iterations" in metadata else 0,
        losses={str(k): float(v) for k, v in losses.items()},
        weights_sha256=metadata.get(PREFIX + "weights_sha256", ""),
        synthetic=metadata.get(PREFIX + "synthetic", "true") == "true",
        output_resolution=sizes["output_resolution"],
        grid_resolution=sizes["grid_resolution"],
    )


def dfm_contract(
    input_shape: list, face_type: str | None, path: object, require_face_type: bool = True
) -> ModelContract:
    """The fixed contract of a DeepFaceLive model; input_shape is in_face:0's ONNX shape (N, H, W, 3).

    require_face_type=False (describing a file, not running it) accepts an unknown face type ''.
    """
    if not face_type and require_face_type:
        raise user_error(path, "a .dfm model does not record its face type: give it (e.g. --face-type whole)")
    if face_type and face_type not in FACE_TYPES:
        raise user_error(path, f"face type {face_type!r} is unknown (known: {', '.join(FACE_TYPES)})")
    if len(input_shape) != 4 or input_shape[3] != 3:
        raise user_error(path, f"{DFM_INPUT} has shape {input_shape}, expected (N, H, W, 3)")
    height, width = input_shape[1], input_shape[2]
    if not (isinstance(height, int) and height == width and MIN_RESOLUTION <= height <= MAX_RESOLUTION):
        raise user_error(path, f"{DFM_INPUT} has shape {input_shape}: need a fixed square resolution")
    float_bgr = {"layout": "NHWC", "dtype": "float32", "range": (0.0, 1.0)}
    return ModelContract(
        format="dfm",
        contract_version=CONTRACT_VERSION,
        face_type=face_type or "",
        template_id=DFM_TEMPLATE_ID,
        resolution=height,
        input=TensorSpec(DFM_INPUT, channels="BGR", **float_bgr),
        face_output=TensorSpec(DFM_OUTPUT_FACE, channels="BGR", **float_bgr),
        mask_output=TensorSpec(DFM_OUTPUT_MASK, channels="A", **float_bgr),
        precision="fp32",
    )


def check_servable(contract: ModelContract, path: object, face_type: str | None, max_resolution: int | None) -> None:
    """Refuse a model the caller cannot serve: other face type than required, or too large crops."""
    if face_type is not None and contract.format == "swapstream" and face_type != contract.face_type:
        raise user_error(
            path, f"model was trained on {contract.face_type!r} crops but {face_type!r} crops were asked for"
        )
    largest = max(contract.resolution, contract.output_resolution)
    if max_resolution is not None and largest > max_resolution:
        raise user_error(path, f"model resolution {largest} exceeds the maximum {max_resolution} here")


_ONNX_TYPES = {"uint8": "tensor(uint8)", "float32": "tensor(float)", "float16": "tensor(float16)"}


def check_output_tensors(contract: ModelContract, outputs: dict[str, tuple[str, list]], path: object) -> None:
    """Refuse a model whose face/mask outputs disagree with its contract in dtype or shape.

    outputs: name -> (ONNX type such as 'tensor(uint8)', shape with ints or symbolic dims).
    Checked at load, so `info` and `convert` refuse it with one line instead of failing mid-run.
    """
    o = contract.output_resolution
    for what, spec, channels in (("face", contract.face_output, 3), ("mask", contract.mask_output, 1)):
        onnx_type, shape = outputs[spec.name]
        if onnx_type != _ONNX_TYPES[spec.dtype]:
            raise user_error(path, f"{what} output {spec.name!r} is {onnx_type}, the contract says {spec.dtype}")
        expected = (o, o, channels) if spec.layout == "NHWC" else (channels, o, o)
        fixed = [d if isinstance(d, int) and d > 0 else None for d in shape]
        if len(shape) != 4 or any(d is not None and d != e for d, e in zip(fixed[1:], expected, strict=True)):
            want = ", ".join(map(str, expected))
            raise user_error(
                path, f"{what} output {spec.name!r} has shape {list(shape)}, the contract says (N, {want})"
            )


def is_dfm_path(path: str | Path) -> bool:
    return Path(path).suffix.lower() == ".dfm"
