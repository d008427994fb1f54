"""Warm start (`swapstream train --base RUN`): a new run begins from an earlier run's weights.

Every tensor of the new model whose name and shape match a tensor of the base is copied; the
rest keep their fresh initialisation. Typical bases: a run of the same preset on other people
(every tensor fits), or the 64 px `live` model for the 64 -> 128 px one (everything but the two
output convolutions of each decoder fits). The optimiser, iteration count and schedule start
afresh. The checkpoint records where the weights came from (entry "base"): a base trained on
test media is for measurement only, and so is every model started from it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
from swapstream.trainer.checkpoint import find_checkpoint, load_checkpoint

from swapstream.common.errors import user_error


@dataclass(frozen=True)
class WarmStart:
    """What --base did. loaded / skipped: tensor names of the new model (skipped with the reason);
    unused: tensors of the base the new model has no place for."""

    source: str
    base_iterations: int
    loaded: tuple[str, ...]
    skipped: tuple[str, ...]
    unused: tuple[str, ...]
    loaded_values: int
    total_values: int

    def summary(self) -> str:
        share = self.loaded_values / max(self.total_values, 1)
        lines = [
            f"warm start from {self.source} (iteration {self.base_iterations}): loaded {len(self.loaded)} tensors "
            f"({share:.1%} of the weights), skipped {len(self.skipped)}, base tensors unused {len(self.unused)}"
        ]
        lines += [f"  skipped {s}" for s in self.skipped]
        return "\n".join(lines)

    def to_dict(self) -> dict:
        """Plain types only (the checkpoint is read with weights_only=True)."""
        return {
            "source": self.source,
            "base_iterations": self.base_iterations,
            "loaded": list(self.loaded),
            "skipped": list(self.skipped),
            "unused": list(self.unused),
        }


def _base_state(base: Path) -> tuple[Path, dict]:
    """(checkpoint path, state) of a run directory or a checkpoint file."""
    path = base if base.is_file() else find_checkpoint(base)
    return path, load_checkpoint(path)


def load_matching(model: torch.nn.Module, weights: dict[str, torch.Tensor]) -> tuple[list, list, list]:
    """Copy into `model` every tensor of `weights` whose name and shape match; (loaded, skipped, unused)."""
    own = model.state_dict()
    loaded, skipped = [], []
    with torch.no_grad():
        for name, target in own.items():
            source = weights.get(name)
            if source is None:
                skipped.append(f"{name} (not in the base)")
            elif tuple(source.shape) != tuple(target.shape):
                skipped.append(f"{name} (shape {tuple(source.shape)} in the base, {tuple(target.shape)} here)")
            else:
                target.copy_(source.to(target.dtype))
                loaded.append(name)
    unused = sorted(set(weights) - set(own))
    return loaded, skipped, unused


def warm_start(model: torch.nn.Module, base: str | Path) -> WarmStart:
    """Load the matching weights of `base` (run dir or checkpoint.pt) into `model`, in place.

    UserError when the base is unreadable or nothing at all fits (another architecture entirely).
    """
    path, state = _base_state(Path(base))
    weights = state["model"]
    loaded, skipped, unused = load_matching(model, weights)
    if not loaded:
        raise user_error(path, "no weight of this base fits the new model (other architecture or widths)")
    own = model.state_dict()
    return WarmStart(
        source=str(path),
        base_iterations=int(state["iteration"]),
        loaded=tuple(loaded),
        skipped=tuple(skipped),
        unused=tuple(unused),
        loaded_values=sum(own[n].numel() for n in loaded),
        total_values=sum(t.numel() for t in own.values()),
    )
