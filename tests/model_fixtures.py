"""Tiny swap models in the engine's ONNX contract, built with onnx.helper, shared by the tests.

write_invert_model: faces inverted (255 - x) and an all-255 mask, so any pixel the engine touched
is visibly different. write_inverting_model: the same inversion with mask = the mean of the face,
for tests of channel order and mask handling. Both uint8 NHWC BGR in and out, like an export.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

onnx = pytest.importorskip("onnx")
from onnx import TensorProto, helper  # noqa: E402
from swapstream.engine.runtime.contract import ModelContract, TensorSpec  # noqa: E402

from swapstream.common.alignment_ids import CONTRACT_VERSION, TEMPLATE_ID  # noqa: E402

OPSET = [helper.make_opsetid("", 18)]
R = 64


def invert_contract(resolution: int = 64, face_type: str = "whole") -> ModelContract:
    """The contract of write_invert_model: a test preset with no training record."""
    return swapstream_contract(
        resolution, face_type=face_type, preset="test", arch="invert", iterations=0, losses={}, weights_sha256=""
    )


def write_invert_model(
    path: Path, resolution: int = 64, face_type: str = "whole", darken: bool = False, **metadata: str
) -> Path:
    """Write the colour-inverting model (darken=True: a model that halves the face instead, to
    tell two models apart); `metadata` overrides swapstream.* entries (e.g. template_id)."""
    r = resolution
    nodes = [
        helper.make_node("Cast", ["face"], ["face_f"], to=TensorProto.FLOAT),
        helper.make_node("Mul" if darken else "Sub", ["half" if darken else "c255", "face_f"], ["inv_f"]),
        helper.make_node("Cast", ["inv_f"], ["swapped"], to=TensorProto.UINT8),
        helper.make_node("Shape", ["face"], ["shape"]),
        helper.make_node("Slice", ["shape", "s0", "s3"], ["nhw"]),
        helper.make_node("Concat", ["nhw", "one"], ["mask_shape"], axis=0),
        helper.make_node(
            "ConstantOfShape",
            ["mask_shape"],
            ["mask"],
            value=helper.make_tensor("v", TensorProto.UINT8, [1], [255]),
        ),
    ]
    inits = [
        helper.make_tensor("c255", TensorProto.FLOAT, [], [255.0]),
        helper.make_tensor("half", TensorProto.FLOAT, [], [0.5]),
        helper.make_tensor("s0", TensorProto.INT64, [1], [0]),
        helper.make_tensor("s3", TensorProto.INT64, [1], [3]),
        helper.make_tensor("one", TensorProto.INT64, [1], [1]),
    ]
    graph = helper.make_graph(
        nodes,
        "invert",
        [helper.make_tensor_value_info("face", TensorProto.UINT8, ["N", r, r, 3])],
        [
            helper.make_tensor_value_info("swapped", TensorProto.UINT8, ["N", r, r, 3]),
            helper.make_tensor_value_info("mask", TensorProto.UINT8, ["N", r, r, 1]),
        ],
        initializer=inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    meta = invert_contract(resolution, face_type).to_metadata()
    meta.update({f"swapstream.{k}": v for k, v in metadata.items()})
    for k, v in meta.items():
        model.metadata_props.add(key=k, value=v)
    if "weights_sha256" not in metadata:
        seal(model)
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return path


def seal(model) -> None:
    """Set the model's swapstream.weights_sha256 to what `swapstream export` would write for its
    graph and metadata (engine.runtime.model_hash); metadata the engine refuses is left as it is."""
    from swapstream.engine.runtime.contract import contract_from_metadata
    from swapstream.engine.runtime.model_hash import HASH_KEY, model_sha256

    from swapstream.common.errors import UserError

    meta = {p.key: p.value for p in model.metadata_props}
    try:
        contract = contract_from_metadata(meta, "fixture")
    except UserError:
        return
    digest = model_sha256(model.SerializeToString(), contract)
    meta[HASH_KEY] = digest
    del model.metadata_props[:]
    for k, v in meta.items():
        model.metadata_props.add(key=k, value=v)


def swapstream_contract(resolution: int = R, **changes) -> ModelContract:
    c = ModelContract(
        format="swapstream",
        contract_version=CONTRACT_VERSION,
        face_type="whole",
        template_id=TEMPLATE_ID,
        resolution=resolution,
        input=TensorSpec("face"),
        face_output=TensorSpec("swapped"),
        mask_output=TensorSpec("mask", channels="A"),
        direction="a2b",
        preset="live",
        arch="df",
        iterations=12,
        losses={"dssim": 0.25},
        weights_sha256="ab" * 32,
    )
    return replace(c, **changes)


def write_inverting_model(path: Path, metadata: dict[str, str] | None, resolution: int = R) -> Path:
    """uint8 NHWC BGR in; out face = 255 - x (per channel, so BGR order is observable); mask = mean."""
    x = helper.make_tensor_value_info("face", TensorProto.UINT8, ["N", resolution, resolution, 3])
    face = helper.make_tensor_value_info("swapped", TensorProto.UINT8, ["N", resolution, resolution, 3])
    mask = helper.make_tensor_value_info("mask", TensorProto.UINT8, ["N", resolution, resolution, 1])
    c255 = helper.make_tensor("c255", TensorProto.FLOAT, [], [255.0])
    axes = helper.make_tensor("axes", TensorProto.INT64, [1], [3])
    nodes = [
        helper.make_node("Cast", ["face"], ["xf"], to=TensorProto.FLOAT),
        helper.make_node("Sub", ["c255", "xf"], ["inv"]),
        helper.make_node("Cast", ["inv"], ["swapped"], to=TensorProto.UINT8),
        helper.make_node("ReduceMean", ["xf", "axes"], ["m"], keepdims=1),
        helper.make_node("Cast", ["m"], ["mask"], to=TensorProto.UINT8),
    ]
    graph = helper.make_graph(nodes, "invert", [x], [face, mask], initializer=[c255, axes])
    model = helper.make_model(graph, opset_imports=OPSET)
    for k, v in (metadata or {}).items():
        model.metadata_props.add(key=k, value=v)
    seal(model)
    onnx.checker.check_model(model)
    onnx.save(model, path)
    return path
