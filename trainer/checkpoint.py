"""Training checkpoints: one `checkpoint.pt` per run dir, written atomically, loaded with weights_only=True.

The dict holds only plain types and tensors, so `torch.load(weights_only=True)` can read it:
  "format": "swapstream-checkpoint", "version": 1,
  "model_config": ModelConfig.to_dict(), "train_config": TrainConfig.to_dict(), "preset": str,
  "model": state_dict, "optimizer": state_dict, "iteration": int,
  "losses": {name: float} (latest smoothed), "rng": {"torch": ByteTensor, "numpy": dict},
  plus optional entries (discriminator, faceset paths, validation history).

model_from_checkpoint() is the one place a model is rebuilt from a checkpoint (the trainer's
resume and the exporter both call it).
"""

from __future__ import annotations

import os
import pickle
import zipfile
from pathlib import Path
from typing import Any

import torch
from swapstream.trainer.config import ModelConfig
from swapstream.trainer.model import SwapAutoencoder, build_model

from swapstream.common.atomic_files import atomic_open, remove_stale_temp_files
from swapstream.common.errors import user_error

CHECKPOINT_NAME = "checkpoint.pt"
KEPT_DIR = "checkpoints"  # RUN_DIR/checkpoints/: the periodic checkpoints `train --keep-checkpoints` keeps
FORMAT = "swapstream-checkpoint"
VERSION = 1
REQUIRED_KEYS = {
    "model_config": dict,
    "train_config": dict,
    "preset": str,
    "model": dict,
    "optimizer": dict,
    "iteration": int,
    "losses": dict,
    "rng": dict,
}


def save_checkpoint(path: str | Path, state: dict[str, Any]) -> None:
    """Write `state` to `path` atomically: temp file in the same dir, fsync, os.replace, fsync the dir.

    A crash or Ctrl-C mid-write leaves the previous checkpoint intact.
    """
    path = Path(path)
    missing = [k for k in REQUIRED_KEYS if k not in state]
    if missing:
        raise ValueError(f"checkpoint state lacks {missing}")
    state = {"format": FORMAT, "version": VERSION, **state}
    remove_stale_temp_files(path)  # a killed save's leftover (.checkpoint.pt.*.tmp, ~50 MB)
    with atomic_open(path, "wb") as f:
        torch.save(state, f)
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def keep_copy(path: Path, minutes: float, iteration: int) -> Path:
    """Keep the checkpoint just written at `path` as PATH_DIR/checkpoints/minute_MMMM_iter_NNNNNNN.pt.

    A hard link where the file system allows (save_checkpoint replaces checkpoint.pt by a rename, so
    the kept name goes on pointing at this state), else a copy written atomically.
    """
    kept = path.parent / KEPT_DIR / f"minute_{round(minutes):04d}_iter_{iteration:07d}.pt"
    kept.parent.mkdir(exist_ok=True)
    kept.unlink(missing_ok=True)
    try:
        os.link(path, kept)
    except OSError:
        with open(path, "rb") as src, atomic_open(kept, "wb") as dst:
            while chunk := src.read(1 << 22):
                dst.write(chunk)
    return kept


def load_checkpoint(path: str | Path) -> dict[str, Any]:
    """Load and validate a checkpoint on the CPU. UserError naming the file if missing, corrupt or foreign."""
    path = Path(path)
    remove_stale_temp_files(path)
    if not path.is_file():
        raise user_error(path, "no such checkpoint")
    # torch.save writes a zip archive; a truncated or overwritten file fails here with a clear reason.
    if not zipfile.is_zipfile(path):
        raise user_error(path, "corrupt checkpoint (not a complete torch zip archive)")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError, zipfile.BadZipFile, OSError, ValueError) as e:
        raise user_error(path, f"corrupt or unreadable checkpoint ({first_line(e)})") from None
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise user_error(path, "not a swapstream training checkpoint")
    if state.get("version") != VERSION:
        raise user_error(path, f"checkpoint version {state.get('version')!r} is not supported (expected {VERSION})")
    for key, kind in REQUIRED_KEYS.items():
        if not isinstance(state.get(key), kind) or (kind is int and isinstance(state.get(key), bool)):
            raise user_error(path, f"checkpoint entry {key!r} is missing or not a {kind.__name__}")
    if state["iteration"] < 0:
        raise user_error(path, f"checkpoint iteration {state['iteration']} is negative")
    return state


def find_checkpoint(run_dir: str | Path) -> Path:
    """RUN_DIR/checkpoint.pt (or the checkpoint file itself, e.g. one kept under RUN_DIR/checkpoints/),
    or UserError when the run dir or its checkpoint is missing."""
    run_dir = Path(run_dir)
    if run_dir.is_file():
        return run_dir
    if not run_dir.is_dir():
        raise user_error(run_dir, "no such run directory")
    path = run_dir / CHECKPOINT_NAME
    if not path.is_file():
        raise user_error(run_dir, f"no {CHECKPOINT_NAME} in this run directory (train first)")
    return path


def first_line(error: BaseException) -> str:
    """The first line of an exception's message (torch's state_dict errors run to dozens of lines)."""
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


def model_from_checkpoint(state: dict[str, Any], path: str | Path) -> tuple[ModelConfig, SwapAutoencoder]:
    """The model a loaded checkpoint describes, built on the CPU with its weights in (train mode).

    state: what load_checkpoint returned; path: the checkpoint file, named in errors.
    UserError when its model_config is invalid or its weights do not fit that config.
    """
    try:
        cfg = ModelConfig.from_dict(state["model_config"])
    except ValueError as e:
        raise user_error(path, f"model_config: {e}") from None
    model = build_model(cfg)
    try:
        model.load_state_dict(state["model"])
    except (RuntimeError, ValueError, KeyError) as e:
        raise user_error(path, f"weights do not fit model_config ({first_line(e)})") from None
    return cfg, model
