"""INT8 static quantization (QDQ) with ONNX Runtime's tools, calibrated on real aligned faces.

QDQ keeps the graph standard ONNX (QuantizeLinear/DequantizeLinear pairs around Conv/Gemm), so
the same file runs on the CPU provider (VNNI/AMX int8 kernels) and on TensorRT. The settings
are tried fastest first (order from benchmarks/inference.py on this CPU) and the first whose
output reaches the SSIM bar against fp32 is kept.
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnx
from swapstream.export.graph import INPUT_NAME

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Int8Settings:
    """One quantization recipe. calibration: 'minmax' | 'percentile' | 'entropy'.

    keep_float: op types left in float (e.g. the final 1x1 output convs, where 8-bit steps show).
    """

    name: str
    per_channel: bool = True
    calibration: str = "minmax"
    activation_unsigned: bool = True  # u8 activations x s8 weights: the VNNI/AMX fast path
    keep_output_convs_float: bool = False
    keep_dense_float: bool = False  # the bottleneck Gemm/MatMul layers, where errors spread to every pixel


# Fastest first. Per-channel weights cost nothing at run time and fix most SSIM losses; keeping the
# last (1x1) convolutions in float trades a little speed for colour precision.
CANDIDATES = (
    Int8Settings("per-channel minmax"),
    Int8Settings("per-channel percentile", calibration="percentile"),
    Int8Settings("per-channel minmax, float output convs", keep_output_convs_float=True),
    Int8Settings("per-channel percentile, float output convs", calibration="percentile", keep_output_convs_float=True),
    # Last resort, for young models whose low-contrast outputs make SSIM strict: every conv but the
    # output ones in int8, the dense bottleneck in float.
    Int8Settings(
        "per-channel minmax, float dense layers and output convs", keep_output_convs_float=True, keep_dense_float=True
    ),
)


class _FaceReader:
    """onnxruntime.quantization CalibrationDataReader over uint8 NHWC face batches."""

    def __init__(self, faces: np.ndarray, batch: int = 8):
        self._batches = iter([faces[i : i + batch] for i in range(0, len(faces), batch)])

    def get_next(self) -> dict[str, np.ndarray] | None:
        chunk = next(self._batches, None)
        return None if chunk is None else {INPUT_NAME: np.ascontiguousarray(chunk)}


def _output_conv_names(model: onnx.ModelProto) -> list[str]:
    """Conv nodes whose output feeds, through non-conv nodes only, a graph output."""
    producers = {out: n for n in model.graph.node for out in n.output}
    found = []
    for graph_output in model.graph.output:
        frontier = [graph_output.name]
        seen: set[str] = set()
        while frontier:
            node = producers.get(frontier.pop())
            if node is None or node.name in seen:
                continue
            seen.add(node.name)
            if node.op_type == "Conv":
                found.append(node.name)
            else:
                frontier.extend(node.input)
    return found


def quantize_int8(model_fp32: bytes, calibration_faces: np.ndarray, settings: Int8Settings) -> bytes:
    """QDQ int8 model (serialized) from an fp32 export and uint8 (N, R, R, 3) BGR calibration faces."""
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    methods = {
        "minmax": CalibrationMethod.MinMax,
        "percentile": CalibrationMethod.Percentile,
        "entropy": CalibrationMethod.Entropy,
    }
    model = onnx.load_from_string(model_fp32)
    for node_index, node in enumerate(model.graph.node):
        if not node.name:  # quantization addresses nodes by name
            node.name = f"{node.op_type}_{node_index}"
    # The first conv always stays float: it reads the image itself, and quantizing it cost 0.05
    # SSIM on a partly trained `live` model (0.948 -> 0.998 with it in float), for ~3% of the FLOPs.
    first_conv = next((n.name for n in model.graph.node if n.op_type == "Conv"), None)
    exclude = [first_conv] if first_conv else []
    if settings.keep_output_convs_float:
        exclude += _output_conv_names(model)
    with tempfile.TemporaryDirectory(prefix="swapstream-int8-") as tmp:
        src, pre, dst = Path(tmp, "fp32.onnx"), Path(tmp, "pre.onnx"), Path(tmp, "int8.onnx")
        onnx.save(model, src)
        # Shape inference + graph optimisation first: quantization then sees fused Conv+activation.
        quant_pre_process(str(src), str(pre), skip_symbolic_shape=True)
        quantize_static(
            str(pre),
            str(dst),
            _FaceReader(calibration_faces),
            quant_format=QuantFormat.QDQ,
            op_types_to_quantize=["Conv"] if settings.keep_dense_float else ["Conv", "Gemm", "MatMul"],
            per_channel=settings.per_channel,
            activation_type=QuantType.QUInt8 if settings.activation_unsigned else QuantType.QInt8,
            weight_type=QuantType.QInt8,
            calibrate_method=methods[settings.calibration],
            nodes_to_exclude=exclude,
            extra_options={"ActivationSymmetric": False, "WeightSymmetric": True},
        )
        return dst.read_bytes()


def best_int8(
    model_fp32: bytes,
    calibration_faces: np.ndarray,
    passes: Callable[[bytes], tuple[bool, str]],
    candidates: tuple[Int8Settings, ...] = CANDIDATES,
) -> tuple[bytes, Int8Settings, list[str]]:
    """The first candidate (fastest first) whose model `passes` (a verification callback).

    Returns (model bytes, settings, one log line per tried candidate); raises ValueError when
    none passes, with the figures of each attempt.
    """
    tried = []
    for settings in candidates:
        model = quantize_int8(model_fp32, calibration_faces, settings)
        ok, figures = passes(model)
        tried.append(f"{settings.name}: {figures}")
        log.info("int8 %s", tried[-1])
        if ok:
            return model, settings, tried
    raise ValueError("no INT8 setting reaches the quality bar:\n  " + "\n  ".join(tried))
