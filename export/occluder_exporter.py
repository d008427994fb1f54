"""Export a trained occlusion model to ONNX with its contract (engine/runtime/occluder.py), verified.

The graph takes uint8 NHWC BGR crops and returns uint8 NHWC occlusion (255 = covered), scaling
and transposes inside the graph, like the swap models. Before anything is written, the ONNX
file is loaded the way the engine loads it (contract validated) and compared with torch on
real faces: every output pixel within 1 level. The file is written atomically.
"""

from __future__ import annotations

import io
import warnings
from pathlib import Path

import numpy as np
import onnx
import torch
from swapstream.engine.runtime.occluder import OccluderContract, OccluderModel, occluder_contract_from_metadata
from swapstream.engine.runtime.providers import RuntimeConfig, create_session
from swapstream.trainer.occluder_model import OccluderExport, OccluderNet

from swapstream.common.atomic_files import atomic_write_bytes
from swapstream.common.errors import UserError

OPSET = 17
MAX_DIFF = 1  # uint8 levels: rounding of the last sigmoid may differ by one


def occluder_onnx(net: OccluderNet, contract: OccluderContract) -> bytes:
    """Serialized ONNX of `net` with a dynamic batch axis and the contract's metadata."""
    r = contract.resolution
    buf = io.BytesIO()
    batch = {0: "batch"}
    names = contract.input.name, contract.output.name
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            OccluderExport(net.eval()),
            (torch.zeros((1, r, r, 3), dtype=torch.uint8),),
            buf,
            input_names=[names[0]],
            output_names=[names[1]],
            dynamic_axes={names[0]: batch, names[1]: batch},
            opset_version=OPSET,
            dynamo=False,
            do_constant_folding=True,
        )
    model = onnx.load_from_string(buf.getvalue())
    for k, v in contract.to_metadata().items():
        model.metadata_props.add(key=k, value=v)
    onnx.checker.check_model(model)
    return model.SerializeToString()


def export_occluder(net: OccluderNet, contract: OccluderContract, out: Path, faces: np.ndarray) -> float:
    """Write the verified ONNX to `out`; faces: uint8 (N, R, R, 3) BGR crops to verify on.
    Returns the largest |onnx - torch| in uint8 levels; raises UserError (nothing written) above MAX_DIFF."""
    data = occluder_onnx(net, contract)
    session, provider = create_session(data, RuntimeConfig(providers=("cpu",), intra_op_threads=1))
    meta = session.get_modelmeta().custom_metadata_map
    model = OccluderModel(out, session, occluder_contract_from_metadata(meta, out), provider)
    got = model.occlusion(faces)
    with torch.no_grad():
        want = OccluderExport(net.eval())(torch.from_numpy(faces)).numpy()[..., 0].astype(np.float32) / 255
    if got.shape[1] != want.shape[1]:  # the engine resizes a half-resolution output to the crop
        import cv2

        r = got.shape[1]
        want = np.stack([cv2.resize(w, (r, r), interpolation=cv2.INTER_LINEAR) for w in want])
    diff = float(np.abs(got - want).max() * 255)
    if diff > MAX_DIFF + 1e-3:
        raise UserError(f"{out}: ONNX export differs from torch by {diff:.1f} levels (> {MAX_DIFF}); nothing written")
    atomic_write_bytes(out, data)
    return diff
