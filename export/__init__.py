"""Checkpoint -> verified, self-describing ONNX model (fp32/fp16/int8) and TensorRT builds.

Imports torch and trainer; the engine never imports this package (it reads the models).
"""
