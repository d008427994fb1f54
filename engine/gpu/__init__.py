"""The engine's device frame path: Numba CUDA kernels for the per-pixel work of the blend path
(warp into the crop, area resize to the model input, colour transfer, mask feather, --detail,
--steady, --keep-mouth and occlusion mask compositing, the paste back), the buffers they reuse,
and the switch that decides whether a run uses them (availability.py).

Every kernel computes what its CPU twin in engine/image (or the OpenCV call it stands for)
computes: OpenCV's fixed-point interpolation tables are rebuilt here bit for bit (tables.py), the
Lab tables and the colour maths of engine.image are shared, and tests/test_gpu_sim_kernels.py
holds each kernel to its twin under Numba's CUDA simulator (within 1 grey level).

Importing this package imports numba.cuda; the CPU path never does (engine.pipeline.build asks
availability.py only when a device was asked for or the model runs on CUDA/TensorRT).
"""
