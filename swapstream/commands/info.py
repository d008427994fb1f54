"""Describe a faceset, a training run or a model: what it is and its contract.

  swapstream info FACESET            faces, sources, face type and size, yaw histogram
  swapstream info RUN_DIR            preset, iterations, losses, model configuration
  swapstream info MODEL.onnx|.dfm    alignment contract, I/O, direction, precision, training figures

--json prints the same as one JSON object.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from swapstream.common.choices import sizes_text
from swapstream.common.errors import user_error


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("path", type=Path, metavar="PATH", help="a faceset dir, a run dir, or a .onnx/.dfm model")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of text")
    parser.add_argument("--face-type", help="face type of a .dfm model (DeepFaceLive models do not record it)")


def describe_model(path: Path, face_type: str | None = None) -> dict:
    """JSON-ready description of a model file (validated through engine.runtime)."""
    from swapstream.engine.runtime.swap_model import inspect_model

    contract = inspect_model(path, face_type)
    return {"kind": "model", "path": str(path), "size_bytes": path.stat().st_size, **contract.describe()}


def describe_run(path: Path) -> dict:
    """JSON-ready description of a training run dir, from its checkpoint."""
    from swapstream.trainer.checkpoint import find_checkpoint, load_checkpoint

    checkpoint = find_checkpoint(path)
    state = load_checkpoint(checkpoint)
    n_params = sum(int(t.numel()) for t in state["model"].values())
    return {
        "kind": "run",
        "path": str(path),
        "checkpoint": str(checkpoint),
        "checkpoint_bytes": checkpoint.stat().st_size,
        "preset": state["preset"],
        "iterations": state["iteration"],
        "losses": {str(k): float(v) for k, v in state["losses"].items()},
        "model_config": state["model_config"],
        "parameters": n_params,
        "train_config": state["train_config"],
        "facesets": state.get("facesets") or {},
    }


def _format_spec(spec: dict) -> str:
    lo, hi = spec["range"]
    return f"{spec['name']}: {spec['layout']} {spec['dtype']} {spec['channels']} [{lo:g}, {hi:g}]"


def format_model(d: dict) -> str:
    unknown = "unknown (give --face-type)"
    lines = [
        f"{d['path']}: {'DeepFaceLive .dfm' if d['format'] == 'dfm' else 'swapstream'} model, "
        f"{d['size_bytes'] / 1e6:.1f} MB",
        f"  contract:   v{d['contract_version']}, template {d['template_id']}, "
        f"face type {d['face_type'] or unknown}, "
        f"{sizes_text(d['resolution'], d['grid_resolution'], d['output_resolution'])}",
        f"  input:      {_format_spec(d['input'])}",
        f"  face out:   {_format_spec(d['face_output'])}",
        f"  mask out:   {_format_spec(d['mask_output'])}",
        f"  precision:  {d['precision']}",
    ]
    if d["format"] == "swapstream":
        losses = ", ".join(f"{k} {v:.4g}" for k, v in d["losses"].items()) or "-"
        lines += [
            f"  model:      {d['arch'].upper()} {d['direction']}, preset {d['preset'] or '-'}",
            f"  training:   {d['iterations']} iterations, losses {losses}",
            f"  weights:    sha256 {d['weights_sha256']}",
            f"  synthetic:  {'yes' if d['synthetic'] else 'no'}",
        ]
    return "\n".join(lines)


def _run_sizes(m: dict) -> str:
    grid = m.get("resolution", 0)
    return sizes_text(grid * m.get("input_scale", 1), grid, grid * m.get("output_scale", 1))


def format_run(d: dict) -> str:
    m = d["model_config"]
    losses = ", ".join(f"{k} {v:.4g}" for k, v in d["losses"].items()) or "-"
    lines = [
        f"{d['path']}: training run, preset {d['preset']}, {d['iterations']} iterations",
        f"  model:      {str(m.get('arch', '?')).upper()} {_run_sizes(m)} {m.get('face_type')}, "
        f"ae {m.get('ae_dims')}, e {m.get('e_dims')}, d {m.get('d_dims')}, mask {m.get('d_mask_dims')}, "
        f"{d['parameters'] / 1e6:.2f} M parameters",
        f"  losses:     {losses}",
        f"  checkpoint: {d['checkpoint']} ({d['checkpoint_bytes'] / 1e6:.1f} MB)",
    ]
    lines += [f"  faceset {k.upper()}:  {v}" for k, v in sorted(d["facesets"].items())]
    return "\n".join(lines)


def describe_occluder(path: Path) -> dict | None:
    """JSON-ready description of an occlusion model (`swapstream train-mask`); None for other files."""
    from dataclasses import asdict

    from swapstream.engine.runtime.occluder import inspect_occluder

    contract = inspect_occluder(path)
    if contract is None:
        return None
    return {"kind": "occlusion model", "path": str(path), "size_bytes": path.stat().st_size, **asdict(contract)}


def format_occluder(d: dict) -> str:
    found = ", ".join(f"{k} {v:.3f}" for k, v in d["validation"].items()) or "-"
    return "\n".join(
        [
            f"{d['path']}: swapstream occlusion model (for --mask occlusion), {d['size_bytes'] / 1e6:.2f} MB",
            f"  contract:   v{d['contract_version']}, template {d['template_id']}, face type {d['face_type']}, "
            f"{d['resolution']} px",
            f"  training:   {d['iterations']} iterations; validation {found}",
        ]
    )


def describe(path: Path, face_type: str | None = None) -> tuple[dict, str]:
    """(JSON-ready description, readable text) of whatever PATH is."""
    if path.is_file() and path.suffix.lower() == ".onnx" and (occ := describe_occluder(path)) is not None:
        return occ, format_occluder(occ)
    if path.is_file() and path.suffix.lower() in (".onnx", ".dfm"):
        d = describe_model(path, face_type)
        return d, format_model(d)
    if path.is_dir() and (path / "faceset.json").is_file():
        from swapstream.trainer.faceset_info import describe as describe_faceset
        from swapstream.trainer.faceset_info import format_description

        d = describe_faceset(path)
        return d, format_description(d)
    if path.is_dir() and (path / "checkpoint.pt").is_file():
        d = describe_run(path)
        return d, format_run(d)
    if not path.exists():
        raise user_error(path, "no such file or directory")
    raise user_error(path, "not a model (.onnx/.dfm), a faceset (faceset.json) or a run dir (checkpoint.pt)")


def run(args: argparse.Namespace) -> int:
    d, text = describe(args.path, args.face_type)
    print(json.dumps(d, indent=2, default=str) if args.json else text)
    return 0
