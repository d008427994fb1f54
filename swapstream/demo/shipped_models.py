"""Trained models that ship in swapstream/assets/: <preset>_<precision>.onnx plus its .json record.

One ships today, demo_int8.onnx: the `demo` preset at INT8 (how it was made: swapstream/assets/
README.md), with its training preview and loss plot as demo_preview.png and demo_loss.png.
`swapstream demo` converts with it and `swapstream bench --preset demo` measures it, but only while
it is fresh: trained with the preset's current model config and exported under the current
alignment contract. The record: {"model_config": {...}, "iterations": N, "train_minutes": M,
"command": the command that reproduces it}.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

ASSETS = Path(__file__).resolve().parents[1] / "assets"
PLOTS = ("preview.png", "loss.png")  # a run's training plots, stored as <preset>_<name>


def asset_paths(preset: str, precision: str) -> tuple[Path, Path]:
    """(model, record) paths of the shipped model of `preset` at `precision`, whether or not they exist."""
    stem = f"{Path(preset).stem}_{precision}"
    return ASSETS / f"{stem}.onnx", ASSETS / f"{stem}.json"


def plot_paths(preset: str) -> dict[str, Path]:
    """{'preview.png': path, 'loss.png': path} of the shipped model's training plots."""
    return {name: ASSETS / f"{Path(preset).stem}_{name}" for name in PLOTS}


def preset_model_config(preset: str) -> dict:
    """The preset's model config as a plain dict: what a fresh record must match."""
    from swapstream.trainer.config import load_preset

    return load_preset(preset)[0].to_dict()


def _normalised(model_config: object) -> dict | None:
    """A recorded model_config with today's defaults filled in (keys added later, e.g. output_scale)."""
    from swapstream.trainer.config import ModelConfig

    try:
        return ModelConfig.from_dict(model_config).to_dict()
    except ValueError:
        return None


def find_shipped(preset: str, precision: str) -> tuple[Path, dict] | None:
    """(model path, record) of the shipped model of `preset` at `precision` while it is fresh, else None."""
    from swapstream.common.alignment_ids import CONTRACT_VERSION, TEMPLATE_ID
    from swapstream.engine.runtime.swap_model import inspect_model

    model, record = asset_paths(preset, precision)
    if not (model.is_file() and record.is_file()):
        return None
    info = json.loads(record.read_text())
    contract = inspect_model(model)
    fresh = (
        _normalised(info.get("model_config")) == preset_model_config(preset)
        and contract.template_id == TEMPLATE_ID
        and contract.contract_version == CONTRACT_VERSION
    )
    return (model, info) if fresh else None


def store_shipped(model: Path, run_dir: Path, preset: str, precision: str, train_minutes: float, command: str) -> None:
    """Ship an exported model: copy it and its run's training plots into ASSETS, with the record."""
    from swapstream.engine.runtime.swap_model import inspect_model

    model_path, record_path = asset_paths(preset, precision)
    ASSETS.mkdir(exist_ok=True)
    shutil.copyfile(model, model_path)
    for name, path in plot_paths(preset).items():
        shutil.copyfile(run_dir / name, path)
    info = {
        "model_config": preset_model_config(preset),
        "iterations": inspect_model(model).iterations,
        "train_minutes": train_minutes,
        "command": command,
    }
    record_path.write_text(json.dumps(info, indent=2) + "\n")
