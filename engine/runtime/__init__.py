"""Inference runtime: the one place ONNX Runtime sessions are built, and the model contract.

from swapstream.engine.runtime import RuntimeConfig, load_swap_model
model = load_swap_model("model.onnx", RuntimeConfig(providers=("cuda", "cpu")))
faces_out, masks = model.swap(aligned_bgr_uint8_nhwc)
"""

from swapstream.engine.runtime.contract import ModelContract, TensorSpec
from swapstream.engine.runtime.providers import RuntimeConfig, create_session
from swapstream.engine.runtime.swap_model import SwapModel, inspect_model, load_swap_model

__all__ = [
    "ModelContract",
    "RuntimeConfig",
    "SwapModel",
    "TensorSpec",
    "create_session",
    "inspect_model",
    "load_swap_model",
]
