"""A tiny swap model in the engine's ONNX contract, built with onnx.helper, for engine tests.

It inverts the face's colours (255 - x) and returns an all-255 mask: any pixel the swap touched
is visibly different, so tests can prove exactly where the engine wrote.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
from onnx import TensorProto, helper  # noqa: E402
from swapstream.engine.runtime.contract import ModelContract, TensorSpec  # noqa: E402

from swapstream.common.alignment_ids import CONTRACT_VERSION, TEMPLATE_ID  # noqa: E402


def invert_contract(resolution: int = 64, face_type: str = "whole") -> ModelContract:
    return ModelContract(
        format="swapstream",
        contract_version=CONTRACT_VERSION,
        face_type=face_type,
        template_id=TEMPLATE_ID,
        resolution=resolution,
        input=TensorSpec("face"),
        face_output=TensorSpec("swapped"),
        mask_output=TensorSpec("mask", channels="A"),
        direction="a2b",
        preset="test",
        arch="invert",
    )


def write_invert_model(path: Path, resolution: int = 64, face_type: str = "whole", **metadata: str) -> Path:
    """Write the colour-inverting model; `metadata` overrides swapstream.* entries (e.g. template_id)."""
    r = resolution
    nodes = [
        helper.make_node("Cast", ["face"], ["face_f"], to=TensorProto.FLOAT),
        helper.make_node("Sub", ["c255", "face_f"], ["inv_f"]),
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
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return path


def test_invert_model_loads_and_inverts(tmp_path):
    from swapstream.engine.runtime.model import load_swap_model
    from swapstream.engine.runtime.providers import RuntimeConfig

    model = load_swap_model(write_invert_model(tmp_path / "m.onnx", 32), RuntimeConfig(providers=("cpu",)))
    faces = np.random.default_rng(0).integers(0, 256, (3, 32, 32, 3), dtype=np.uint8)
    out, masks = model.swap(faces)
    assert np.array_equal(out, 255 - faces)
    assert masks.shape == (3, 32, 32) and np.all(masks == 1.0)
    assert model.contract.face_type == "whole" and model.provider == "cpu"
