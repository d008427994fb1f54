"""The exported swap graph: a trained autoencoder's swap direction wrapped for the engine.

The shipped graph takes uint8 NHWC BGR crops, exactly what the engine's aligner produces, and
returns uint8 NHWC BGR faces and uint8 NHWC masks: the /255, the transposes and the final
rounding run inside ONNX Runtime (fused with the first and last convolutions) instead of as
separate NumPy passes on the host for every frame. benchmarks/inference.py measures both
interfaces. A float twin (float32 NCHW in [0, 1], the trainer's convention) is exported only to
verify the network itself at fp32 tolerance, before the last rounding to 8 bits.
"""

from __future__ import annotations

import io
import warnings

import torch
from swapstream.engine.runtime.contract import TensorSpec
from torch import nn

INPUT_NAME = "face"
FACE_OUTPUT = "swapped"
MASK_OUTPUT = "mask"
# ONNX Runtime 1.31 supports up to opset 26; 18 covers every op used here and older runtimes.
OPSET = 18
IO_KINDS = ("uint8", "float")


def tensor_specs(io_kind: str) -> tuple[TensorSpec, TensorSpec, TensorSpec]:
    """(input, face output, mask output) specs of a graph built with `SwapGraph(io_kind=...)`."""
    if io_kind == "uint8":
        return (
            TensorSpec(INPUT_NAME, "NHWC", "uint8", "BGR", (0.0, 255.0)),
            TensorSpec(FACE_OUTPUT, "NHWC", "uint8", "BGR", (0.0, 255.0)),
            TensorSpec(MASK_OUTPUT, "NHWC", "uint8", "A", (0.0, 255.0)),
        )
    if io_kind == "float":
        return (
            TensorSpec(INPUT_NAME, "NCHW", "float32", "BGR", (0.0, 1.0)),
            TensorSpec(FACE_OUTPUT, "NCHW", "float32", "BGR", (0.0, 1.0)),
            TensorSpec(MASK_OUTPUT, "NCHW", "float32", "A", (0.0, 1.0)),
        )
    raise ValueError(f"io_kind must be one of {IO_KINDS}, got {io_kind!r}")


def _to_uint8_nhwc(x: torch.Tensor) -> torch.Tensor:
    return (x.float() * 255.0).round().clamp(0.0, 255.0).to(torch.uint8).permute(0, 2, 3, 1)


class SwapGraph(nn.Module):
    """forward(faces) -> (swapped, mask) around `swap_module` (trainer SwapAutoencoder.swap_module).

    io_kind 'uint8': faces uint8 (N, R, R, 3) BGR -> uint8 (N, R, R, 3) BGR, uint8 (N, R, R, 1).
    io_kind 'float': float32 (N, 3, R, R) BGR [0, 1] -> float32 (N, 3, R, R), (N, 1, R, R) in [0, 1].
    compute_dtype: float32, or float16 for an fp16 export (the swap module must already be .half()).
    """

    def __init__(self, swap_module: nn.Module, io_kind: str = "uint8", compute_dtype: torch.dtype = torch.float32):
        super().__init__()
        if io_kind not in IO_KINDS:
            raise ValueError(f"io_kind must be one of {IO_KINDS}, got {io_kind!r}")
        self.swap = swap_module
        self.io_kind = io_kind
        self.compute_dtype = compute_dtype

    def forward(self, faces: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if self.io_kind == "float":
            face, mask = self.swap(faces.to(self.compute_dtype))
            return face.float(), mask.float()
        x = faces.permute(0, 3, 1, 2).to(self.compute_dtype) * (1.0 / 255.0)
        face, mask = self.swap(x)
        return _to_uint8_nhwc(face), _to_uint8_nhwc(mask)


def example_input(resolution: int, io_kind: str, batch: int = 2) -> torch.Tensor:
    """A batch shaped like the graph's input (values irrelevant: tracing only records shapes)."""
    if io_kind == "uint8":
        return torch.zeros((batch, resolution, resolution, 3), dtype=torch.uint8)
    return torch.zeros((batch, 3, resolution, resolution), dtype=torch.float32)


def export_graph(graph: SwapGraph, resolution: int) -> bytes:
    """Serialized ONNX (opset OPSET) of `graph` with a dynamic batch axis; no metadata yet.

    Uses the TorchScript exporter: for this conv/dense network it gives the same graph as the
    dynamo exporter in ~0.3 s instead of ~6-9 s (measured here), which matters for the export
    -> verify -> quantize loop and the test matrix.
    """
    batch = {0: "batch"}
    buf = io.BytesIO()
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.simplefilter("ignore", torch.jit.TracerWarning)
        torch.onnx.export(
            graph.eval(),
            (example_input(resolution, graph.io_kind),),
            buf,
            input_names=[INPUT_NAME],
            output_names=[FACE_OUTPUT, MASK_OUTPUT],
            dynamic_axes={INPUT_NAME: batch, FACE_OUTPUT: batch, MASK_OUTPUT: batch},
            opset_version=OPSET,
            dynamo=False,
            do_constant_folding=True,
        )
    return buf.getvalue()
