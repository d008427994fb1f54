"""`swapstream.weights_sha256`: what it covers, and its check when a model is loaded.

The hash is SHA-256 over (1) the ONNX file's bytes without its `metadata_props` (the graph: every
operator and weight, the opsets) and (2) the contract fields that decide pixels, as one line of
canonical JSON: face type, template, contract version, input / output / grid resolution and the
three tensor specs (layout, dtype, channels, range). Nothing in a model's shapes can contradict
its face type (a 'whole' and a 'head' crop are the same R x R image), so the face type is bound
to the weights here instead: editing it, a size, the weights, or the hash itself makes the model
refused at load. It guards against edits and damage, not against forgery: anyone can recompute
it. Models exported before the check existed carry a hash of the torch weights and must be
exported again.

The metadata is removed at the protobuf wire level (ModelProto field 14, `metadata_props`), so
the engine needs no `onnx` package: one pass over the file's top-level fields, the bytes of the
others hashed in place. Cost: about the time to read the file once (benchmarks/results_log/
2026-12-07-reference.md).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from swapstream.engine.runtime.contract import PREFIX, ModelContract

from swapstream.common.errors import user_error

METADATA_FIELD = 14  # ModelProto.metadata_props
HASH_KEY = PREFIX + "weights_sha256"


def _varint(buf: memoryview, i: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        if i >= len(buf) or shift > 63:
            raise ValueError("truncated varint")
        byte = buf[i]
        i += 1
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return value, i
        shift += 7


def _top_level_fields(buf: memoryview):
    """(field number, start, end) of each top-level record of a protobuf message."""
    i = 0
    while i < len(buf):
        start = i
        key, i = _varint(buf, i)
        wire = key & 7
        if wire == 0:
            _, i = _varint(buf, i)
        elif wire == 1:
            i += 8
        elif wire == 2:
            size, i = _varint(buf, i)
            i += size
        elif wire == 5:
            i += 4
        else:
            raise ValueError(f"wire type {wire} at byte {start}")
        if i > len(buf):
            raise ValueError("a field runs past the end")
        yield key >> 3, start, i


def pixel_contract(contract: ModelContract) -> bytes:
    """The contract fields the hash binds to the weights, as canonical JSON bytes."""
    fields = {
        "face_type": contract.face_type,
        "template_id": contract.template_id,
        "contract_version": contract.contract_version,
        "resolution": contract.resolution,
        "output_resolution": contract.output_resolution,
        "grid_resolution": contract.grid_resolution,
        "input": contract.input.to_json(),
        "face": contract.face_output.to_json(),
        "mask": contract.mask_output.to_json(),
    }
    return json.dumps(fields, sort_keys=True, separators=(",", ":")).encode()


def model_sha256(model_bytes: bytes, contract: ModelContract) -> str:
    """The weights_sha256 of a serialised ONNX model (with or without metadata) under `contract`.
    ValueError when the bytes are not a protobuf message."""
    view = memoryview(model_bytes)
    h = hashlib.sha256()
    for field, start, end in _top_level_fields(view):
        if field != METADATA_FIELD:
            h.update(view[start:end])
    h.update(b"\n")
    h.update(pixel_contract(contract))
    return h.hexdigest()


def verify_model_hash(path: Path, contract: ModelContract) -> None:
    """UserError naming `path` unless its swapstream.weights_sha256 matches its bytes and contract."""
    stated = contract.weights_sha256
    if not stated:
        raise user_error(path, f"model metadata has no {HASH_KEY} (export it again with `swapstream export`)")
    try:
        actual = model_sha256(path.read_bytes(), contract)
    except ValueError as e:
        raise user_error(path, f"not a readable ONNX file ({e})") from None
    if actual != stated.lower():
        raise user_error(
            path,
            f"{HASH_KEY} does not match the model: its weights or contract (face type, sizes) were changed "
            "after export, or it was exported before models were verified; export it again",
        )
