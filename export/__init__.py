"""Checkpoint -> verified, self-describing ONNX model (fp32/fp16/int8) and TensorRT builds.

The one entry point is swapstream.export.exporter.export_model (every command that writes a
model calls it); tensorrt.prepare_tensorrt prebuilds engines for a written model. Imports torch
and trainer; the engine never imports this package (it reads the models).
"""
