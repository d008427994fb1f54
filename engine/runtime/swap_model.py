"""A loaded swap model: aligned BGR crops in, swapped BGR crops and blend masks out.

`SwapModel.swap` hides the model's own I/O conventions (layout, dtype, channel order, value
range, fixed or dynamic batch), so swapstream exports and DeepFaceLive `.dfm` files are used
through the same call. swapstream exports take and return uint8 NHWC BGR, which makes the
adaptation here a no-op: scaling and transposes run inside the graph, where they are fused.
"""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnxruntime as ort
from onnxruntime.capi import onnxruntime_pybind11_state as ort_state
from swapstream.engine.runtime.contract import (
    DFM_INPUT,
    DFM_MORPH_INPUT,
    DFM_OUTPUT_SOURCE_MASK,
    ModelContract,
    TensorSpec,
    check_output_tensors,
    check_servable,
    contract_from_metadata,
    dfm_contract,
    has_swapstream_metadata,
    is_dfm_path,
)
from swapstream.engine.runtime.model_hash import verify_model_hash
from swapstream.engine.runtime.providers import (
    RuntimeConfig,
    TrtProfile,
    concurrent_runs,
    create_session,
    resolve_providers,
    usable_cores,
)

from swapstream.common.errors import user_error
from swapstream.common.stop_signals import block_in_this_thread

log = logging.getLogger(__name__)

# ONNX Runtime's exceptions for a file it cannot load as a model (they share no base class).
_LOAD_ERRORS = (
    ort_state.InvalidProtobuf,
    ort_state.InvalidGraph,
    ort_state.Fail,
    ort_state.NoSuchFile,
    ort_state.NotImplemented,
    ort_state.InvalidArgument,
)
_NP_DTYPES = {"uint8": np.uint8, "float32": np.float32, "float16": np.float16}
_INSPECT_CONFIG = RuntimeConfig(providers=("cpu",), intra_op_threads=1, graph_optimization="disable")


def _open_session(path: Path, cfg: RuntimeConfig, trt_profile: TrtProfile | None = None):
    if not path.is_file():
        raise user_error(path, "no such model file")
    try:
        return create_session(path, cfg, trt_profile)
    except _LOAD_ERRORS as e:
        first_line = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise user_error(path, f"not a loadable ONNX model ({first_line})") from None


def _contract_of(
    session: ort.InferenceSession, path: Path, face_type: str | None, require_face_type: bool = True
) -> ModelContract:
    """Read, validate and cross-check the contract of an open session against its real I/O."""
    metadata = session.get_modelmeta().custom_metadata_map
    inputs = {i.name: i for i in session.get_inputs()}
    output_args = {o.name: (o.type, o.shape) for o in session.get_outputs()}
    outputs = set(output_args)
    if has_swapstream_metadata(metadata):
        contract = contract_from_metadata(metadata, path)
    elif is_dfm_path(path):
        if DFM_INPUT not in inputs:
            raise user_error(path, f"not a DeepFaceLive model: no input {DFM_INPUT}")
        contract = dfm_contract(inputs[DFM_INPUT].shape, face_type, path, require_face_type)
    else:
        raise user_error(path, "ONNX model without swapstream metadata (export it with `swapstream export`)")
    if contract.input.name not in inputs:
        raise user_error(path, f"model has no input {contract.input.name!r} (inputs: {', '.join(inputs)})")
    for spec in (contract.face_output, contract.mask_output):
        if spec.name not in outputs:
            raise user_error(path, f"model has no output {spec.name!r} (outputs: {', '.join(sorted(outputs))})")
    check_output_tensors(contract, output_args, path)
    shape = inputs[contract.input.name].shape
    r = contract.resolution
    expected = (r, r, 3) if contract.input.layout == "NHWC" else (3, r, r)
    if len(shape) != 4 or any(isinstance(d, int) and d != e for d, e in zip(shape[1:], expected, strict=True)):
        raise user_error(path, f"input {contract.input.name!r} has shape {shape}, contract says (N, {expected})")
    if contract.format == "swapstream":  # last: a malformed model gets the message that names its fault
        verify_model_hash(path, contract)
    return contract


def inspect_model(path: str | Path, face_type: str | None = None) -> ModelContract:
    """The validated contract of a model file, without preparing it for fast inference.

    For a .dfm without `face_type`, face_type is '' (unknown) instead of a refusal.
    """
    path = Path(path)
    session, _ = _open_session(path, _INSPECT_CONFIG)
    return _contract_of(session, path, face_type, require_face_type=False)


def _to_model_input(faces: np.ndarray, spec: TensorSpec) -> np.ndarray:
    """uint8 (N, R, R, 3) BGR -> the tensor the model declares."""
    x = faces[..., ::-1] if spec.channels == "RGB" else faces
    if spec.dtype != "uint8" or spec.range != (0.0, 255.0):
        lo, hi = spec.range
        x = x.astype(np.float32) * np.float32((hi - lo) / 255.0) + np.float32(lo)
        x = x.astype(_NP_DTYPES[spec.dtype], copy=False)
    if spec.layout == "NCHW":
        x = x.transpose(0, 3, 1, 2)
    return np.ascontiguousarray(x)


def _to_unit(y: np.ndarray, spec: TensorSpec) -> np.ndarray:
    """A model output in its declared range -> float32 in [0, 1], NHWC."""
    if spec.layout == "NCHW":
        y = y.transpose(0, 2, 3, 1)
    lo, hi = spec.range
    return np.clip((y.astype(np.float32) - np.float32(lo)) * np.float32(1.0 / (hi - lo)), 0.0, 1.0)


def _face_to_bgr_uint8(y: np.ndarray, spec: TensorSpec) -> np.ndarray:
    if spec.dtype == "uint8" and spec.range == (0.0, 255.0):
        face = y.transpose(0, 2, 3, 1) if spec.layout == "NCHW" else y
    else:
        face = (_to_unit(y, spec) * 255.0 + 0.5).astype(np.uint8)
    if spec.channels == "RGB":
        face = face[..., ::-1]
    return np.ascontiguousarray(face)


def _mask_to_unit(y: np.ndarray, spec: TensorSpec) -> np.ndarray:
    m = _to_unit(y, spec)
    return np.ascontiguousarray(m.reshape(m.shape[:3]))


@dataclass
class SwapModel:
    """An inference session plus the contract that says how to feed it.

    contract: the validated ModelContract; provider: short name of the execution provider in use.
    dfm_morph: DeepFaceLive's morph factor, fed to `morph_value:0` when the model has it.
    """

    path: Path
    session: ort.InferenceSession
    contract: ModelContract
    provider: str
    dfm_morph: float = 0.75
    runtime: RuntimeConfig | None = None  # how it was loaded (frame_device, device_id, cuda_graph)

    def __post_init__(self) -> None:
        inputs = {i.name: i for i in self.session.get_inputs()}
        batch_dim = inputs[self.contract.input.name].shape[0]
        # Some DFM exports fix the batch at 1: feed them face by face.
        self._max_batch = batch_dim if isinstance(batch_dim, int) and batch_dim > 0 else None
        self._feeds_morph = self.contract.format == "dfm" and DFM_MORPH_INPUT in inputs
        self._output_names = [self.contract.face_output.name, self.contract.mask_output.name]
        if self.contract.format == "dfm":
            self._output_names.append(DFM_OUTPUT_SOURCE_MASK)
        self._runs = concurrent_runs(self.runtime, self.provider, usable_cores()) if self.runtime is not None else 1
        # Shares beyond the caller's own run on these threads (ONNX Runtime releases the GIL in run()),
        # which leave Ctrl-C to the main thread.
        self._helpers = (
            ThreadPoolExecutor(self._runs - 1, "infer-run", initializer=block_in_this_thread)
            if self._runs > 1
            else None
        )

    @property
    def resolution(self) -> int:
        """Side of the crops the model reads."""
        return self.contract.resolution

    @property
    def output_resolution(self) -> int:
        """Side of the faces and masks it returns (2x resolution for depth-to-space models)."""
        return self.contract.output_resolution

    def swap(self, faces: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """faces: uint8 (N, R, R, 3) BGR aligned crops, R = contract.resolution.

        Returns (faces_out uint8 (N, O, O, 3) BGR, masks float32 (N, O, O) in [0, 1]),
        O = contract.output_resolution (= R for most models).
        For a .dfm the mask is DeepFaceLive's learned celeb mask times its learned source-face
        mask (DeepFaceLab's 'learned-prd*learned-dst'): blend only where both faces are.
        """
        r = self.contract.resolution
        if faces.dtype != np.uint8 or faces.ndim != 4 or faces.shape[1:] != (r, r, 3):
            raise ValueError(f"expected uint8 (N, {r}, {r}, 3) BGR faces, got {faces.dtype} {faces.shape}")
        if len(faces) == 0:
            o = self.contract.output_resolution
            return np.empty((0, o, o, 3), np.uint8), np.empty((0, o, o), np.float32)
        if self._helpers is not None and len(faces) > 1:
            # Even shares, the first on this thread and the rest at once on the helpers; in order.
            share = -(-len(faces) // self._runs)
            futures = [
                self._helpers.submit(self._run_all, faces[a : a + share]) for a in range(share, len(faces), share)
            ]
            results = [self._run_all(faces[:share])] + [f.result() for f in futures]
            return np.concatenate([r[0] for r in results]), np.concatenate([r[1] for r in results])
        return self._run_all(faces)

    def _run_all(self, faces: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """swap's result for faces (N >= 1), run by run: none over the model's fixed batch (a DFM
        export's 1)."""
        step = self._max_batch or len(faces)
        results = [self._run(faces[a : a + step]) for a in range(0, len(faces), step)]
        if len(results) == 1:
            return results[0]
        return np.concatenate([r[0] for r in results]), np.concatenate([r[1] for r in results])

    def _run(self, faces: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        c = self.contract
        feeds = {c.input.name: _to_model_input(faces, c.input)}
        if self._feeds_morph:
            feeds[DFM_MORPH_INPUT] = np.array([self.dfm_morph], np.float32)
        results = self.session.run(self._output_names, feeds)
        face = _face_to_bgr_uint8(results[0], c.face_output)
        mask = _mask_to_unit(results[1], c.mask_output)
        if c.format == "dfm":
            mask *= _mask_to_unit(results[2], c.mask_output)
        return face, mask

    def warmup(self, batch: int = 1) -> None:
        """Run once on grey faces so the first real frame does not pay allocation/kernel setup."""
        r = self.contract.resolution
        self.swap(np.full((batch, r, r, 3), 128, np.uint8))


def load_swap_model(
    path: str | Path,
    runtime_cfg: RuntimeConfig,
    face_type: str | None = None,
    max_resolution: int | None = None,
    dfm_morph: float = 0.75,
) -> SwapModel:
    """Load, validate and prepare a swap model (.onnx export or DeepFaceLive .dfm).

    face_type: for a .dfm, its face type (required, the file does not say); for a swapstream
    model, the face type the caller needs (None = accept the model's). max_resolution: refuse
    larger models. Every refusal is a UserError '<path>: <problem>'.
    """
    path = Path(path)
    trt_profile = None
    if "tensorrt" in resolve_providers(runtime_cfg):
        # TensorRT needs the input name and shape before the session exists, for its profile.
        c = inspect_model(path, face_type)
        r = c.resolution
        dims = (r, r, 3) if c.input.layout == "NHWC" else (3, r, r)
        trt_profile = TrtProfile(c.input.name, dims, max_batch=runtime_cfg.trt_max_batch)
    session, provider = _open_session(path, runtime_cfg, trt_profile)
    contract = _contract_of(session, path, face_type)
    check_servable(contract, path, face_type, max_resolution)
    log.info(
        "model %s: %s %s %dpx (out %dpx) %s, %s, on %s",
        path.name,
        contract.format,
        contract.face_type,
        contract.resolution,
        contract.output_resolution,
        contract.direction or "-",
        contract.precision,
        provider,
    )
    return SwapModel(path, session, contract, provider, dfm_morph, runtime_cfg)
