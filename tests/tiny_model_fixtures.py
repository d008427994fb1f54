"""What the tests that train, export and run tiny models share: one torch thread, the CPU runtime
with one thread, a fast fp32 training config and the run options of a test run.

A test module uses the torch-thread fixture with
    from tiny_model_fixtures import one_torch_thread  # noqa: F401 (a fixture, found by name)
    pytestmark = pytest.mark.usefixtures("one_torch_thread")
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from swapstream.engine.runtime import RuntimeConfig
from swapstream.trainer.config import TrainConfig
from swapstream.trainer.train import RunOptions

CPU = RuntimeConfig(providers=("cpu",), intra_op_threads=1)
# Tiny models learn enough in a few iterations at this rate; fp32, so any CPU gives the same numbers.
FAST = TrainConfig(batch_size=4, lr=4e-4, lr_warmup_iters=2, validation_faces=4, precision="fp32")


@pytest.fixture(scope="module")
def one_torch_thread():
    """Two cores shared by several processes: torch's spinning worker threads make tiny models ~15x slower."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def run_options(facesets: tuple[Path, Path], run_dir: Path, **kw) -> RunOptions:
    """A quiet, one-thread training run of faceset A and B into run_dir (kw: iters, resume, ...)."""
    a, b = facesets
    return RunOptions(faceset_a=a, faceset_b=b, run_dir=run_dir, preset="test", progress=False, threads=1, **kw)


def run_both_ways(model, x: torch.Tensor) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
    """(model(x, x): both identities' faces and masks, the first swap direction's face and mask),
    without gradients; x: float (N, 3, H, W) in [0, 1]."""
    with torch.no_grad():
        return list(model(x, x)), list(model.swap_module(model.swap_directions()[0])(x))


def params_reshaped(model, plain_config) -> list[str]:
    """Names of the model's tensors whose shape differs from a model built from plain_config."""
    from swapstream.trainer.model import build_model

    plain = build_model(plain_config).state_dict()
    return sorted(k for k, v in model.state_dict().items() if plain[k].shape != v.shape)
