"""A swap model run on device buffers: ONNX Runtime IO binding, no host copy of a face.

For a session on the CUDA or TensorRT provider (built by providers.create_session, the one place
sessions are made), the aligned crops already on the device are converted to the model's input
tensor by a kernel (layout, channel order, dtype, range: the contract's TensorSpec), bound as the
input, and the outputs are bound to device buffers converted back by kernels to uint8 BGR faces
and float32 masks, exactly as SwapModel.swap converts them on the host. The buffers are
allocated once per batch size, so their addresses stay fixed, which a CUDA graph captured by
the provider (RuntimeConfig.cuda_graph, batch 1 in live) requires.
"""

from __future__ import annotations

import numpy as np
from numba import cuda
from swapstream.engine.gpu.availability import GPU_PROVIDERS
from swapstream.engine.gpu.launch import grid_2d
from swapstream.engine.runtime.contract import DFM_MORPH_INPUT, DFM_OUTPUT_SOURCE_MASK

_NP_DTYPES = {"uint8": np.uint8, "float32": np.float32, "float16": np.float16}


@cuda.jit
def to_model_kernel(crops, out, nchw, rgb, lo, scale):
    """out[n] = the model input of uint8 BGR crops[n] (N, R, R, 3): lo + pixel * scale, in the
    channel order and layout asked (engine.runtime.model._to_model_input)."""
    x, y, n = cuda.grid(3)
    if n >= crops.shape[0] or y >= crops.shape[1] or x >= crops.shape[2]:
        return
    for c in range(3):
        v = crops[n, y, x, 2 - c if rgb else c]
        value = v if scale == 1.0 and lo == 0.0 else np.float32(v) * np.float32(scale) + np.float32(lo)
        if nchw:
            out[n, c, y, x] = value
        else:
            out[n, y, x, c] = value


@cuda.jit(device=True, inline=True)
def _unit(v, lo, inv):
    return min(max((np.float32(v) - np.float32(lo)) * np.float32(inv), np.float32(0.0)), np.float32(1.0))


@cuda.jit
def from_model_kernel(face, mask, source_mask, faces, masks, nchw, rgb, lo, inv, raw_uint8, mask_nchw, mlo, minv):
    """faces[n] (uint8 BGR) and masks[n] (float32 in [0, 1]) of the model's outputs, as
    engine.runtime.model._face_to_bgr_uint8 and _mask_to_unit compute them; source_mask (a .dfm's
    third output) multiplies the mask when it has a batch."""
    x, y, n = cuda.grid(3)
    if n >= faces.shape[0] or y >= faces.shape[1] or x >= faces.shape[2]:
        return
    for c in range(3):
        src_c = 2 - c if rgb else c
        v = face[n, src_c, y, x] if nchw else face[n, y, x, src_c]
        if raw_uint8:
            faces[n, y, x, c] = v
        else:
            faces[n, y, x, c] = np.uint8(_unit(v, lo, inv) * np.float32(255.0) + np.float32(0.5))
    m = _unit(mask[n, 0, y, x] if mask_nchw else mask[n, y, x, 0], mlo, minv)
    if source_mask.shape[0] > 0:
        m *= _unit(source_mask[n, 0, y, x] if mask_nchw else source_mask[n, y, x, 0], mlo, minv)
    masks[n, y, x] = m


def _shape(spec, batch: int, size: int, channels: int) -> tuple[int, ...]:
    return (batch, channels, size, size) if spec.layout == "NCHW" else (batch, size, size, channels)


class DeviceRunner:
    """SwapModel.swap on device arrays through IO binding (a session on CUDA or TensorRT only)."""

    def __init__(self, model, device_id: int = 0):
        if model.provider not in GPU_PROVIDERS:
            raise ValueError(f"IO binding needs a session on {' or '.join(GPU_PROVIDERS)}, not {model.provider}")
        self.model = model
        self.device_id = device_id
        self._buffers: dict[int, tuple] = {}

    def _batch_buffers(self, n: int) -> tuple:
        """(input, face, mask, source mask, faces uint8, masks float32) device arrays for batch n, made once."""
        if n not in self._buffers:
            c = self.model.contract
            r, o = c.resolution, c.output_resolution
            dfm = c.format == "dfm"
            self._buffers[n] = (
                cuda.device_array(_shape(c.input, n, r, 3), _NP_DTYPES[c.input.dtype]),
                cuda.device_array(_shape(c.face_output, n, o, 3), _NP_DTYPES[c.face_output.dtype]),
                cuda.device_array(_shape(c.mask_output, n, o, 1), _NP_DTYPES[c.mask_output.dtype]),
                cuda.device_array(_shape(c.mask_output, n if dfm else 0, o, 1), _NP_DTYPES[c.mask_output.dtype]),
                cuda.device_array((n, o, o, 3), np.uint8),
                cuda.device_array((n, o, o), np.float32),
            )
        return self._buffers[n]

    def run(self, crops, stream):
        """(faces uint8 (N, O, O, 3), masks float32 (N, O, O)) device arrays of crops (uint8 (N, R, R, 3)
        on the device). Waits for `stream` (ONNX Runtime runs on its own stream), then for the run."""
        c = self.model.contract
        n = crops.shape[0]
        tensor, face, mask, source_mask, faces, masks = self._batch_buffers(n)
        blocks, threads = _grid(n, c.resolution)
        to_model_kernel[blocks, threads, stream](crops, tensor, *input_conversion(c))
        stream.synchronize()
        io = self.model.session.io_binding()
        io.bind_input(c.input.name, "cuda", self.device_id, tensor.dtype, tensor.shape, _ptr(tensor))
        if self.model._feeds_morph:
            io.bind_cpu_input(DFM_MORPH_INPUT, np.array([self.model.dfm_morph], np.float32))
        outputs = [(c.face_output.name, face), (c.mask_output.name, mask)]
        if c.format == "dfm":
            outputs.append((DFM_OUTPUT_SOURCE_MASK, source_mask))
        for name, buf in outputs:
            io.bind_output(name, "cuda", self.device_id, buf.dtype, buf.shape, _ptr(buf))
        self.model.session.run_with_iobinding(io)  # returns once the provider's stream is done
        blocks, threads = _grid(n, c.output_resolution)
        from_model_kernel[blocks, threads, stream](face, mask, source_mask, faces, masks, *output_conversion(c))
        return faces, masks


def input_conversion(contract) -> tuple:
    """to_model_kernel's (nchw, rgb, lo, scale) for the contract's input TensorSpec."""
    spec = contract.input
    raw = spec.dtype == "uint8" and spec.range == (0.0, 255.0)
    lo, hi = spec.range
    return spec.layout == "NCHW", spec.channels == "RGB", 0.0 if raw else lo, 1.0 if raw else (hi - lo) / 255.0


def output_conversion(contract) -> tuple:
    """from_model_kernel's (nchw, rgb, lo, inv, raw_uint8, mask_nchw, mask lo, mask inv) for the contract."""
    face, mask = contract.face_output, contract.mask_output
    (lo, hi), (mlo, mhi) = face.range, mask.range
    raw = face.dtype == "uint8" and face.range == (0.0, 255.0)
    return (
        face.layout == "NCHW",
        face.channels == "RGB",
        lo,
        1.0 / (hi - lo),
        raw,
        mask.layout == "NCHW",
        mlo,
        1.0 / (mhi - mlo),
    )


def _grid(n: int, size: int):
    (bx, by), (tx, ty) = grid_2d(size, size)
    return (bx, by, n), (tx, ty, 1)


def _ptr(array) -> int:
    return array.device_ctypes_pointer.value
