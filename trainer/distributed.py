"""Training on several processes or GPUs: `torchrun --nproc-per-node N -m swapstream train ...`.

torchrun starts N copies of the command with RANK / WORLD_SIZE / LOCAL_RANK / MASTER_ADDR set;
`Team.from_environment()` joins them into one process group (NCCL on CUDA, each rank on the GPU
of its LOCAL_RANK; gloo on CPU). Without torchrun it is a team of one and every hook below is a
no-op, so a single-process run is exactly what it was.

- The autoencoder runs under DistributedDataParallel (gradients averaged across ranks during the
  backward pass); `run.model` stays a view of the plain module for everything else (validation,
  previews, state_dict), so checkpoints hold the same keys as a single-process run's and resume
  either way. A discriminator (--gan-power) has its gradients averaged before its step.
- Batches: iteration i of rank r is batch i * N + r of the run's deterministic stream (batches
  are a pure function of (seed, index), trainer/data.py), so the ranks see disjoint batches and
  each optimiser step learns from N batches. A team of one draws batch i: unchanged.
- Only rank 0 validates and writes checkpoints, previews, history and TensorBoard, and shows the
  progress bar; the other ranks log warnings only.
- Stopping: the ranks agree every step (one small all-reduce) on whether the budget is spent or
  a stop was asked for (Ctrl-C, SIGTERM from torchrun), so they all stop after the same step and
  rank 0 checkpoints it.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.distributed as dist

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Team:
    """This process's place among the training processes (rank 0 of 1 without torchrun)."""

    rank: int = 0
    size: int = 1
    local_rank: int = 0

    @property
    def leader(self) -> bool:
        """Rank 0: the one that validates and writes files."""
        return self.rank == 0

    @property
    def active(self) -> bool:
        return self.size > 1

    @classmethod
    def from_environment(cls) -> Team:
        """Join the process group torchrun describes in the environment (a team of one without it)."""
        size = int(os.environ.get("WORLD_SIZE", "1"))
        if size <= 1:
            return cls()
        rank, local_rank = int(os.environ["RANK"]), int(os.environ.get("LOCAL_RANK", "0"))
        if torch.cuda.is_available():
            torch.cuda.set_device(local_rank)  # torch.device("cuda") is then this rank's GPU
            backend = "nccl"
        else:
            backend = "gloo"
        if not dist.is_initialized():
            dist.init_process_group(backend=backend)
        if rank != 0:
            logging.getLogger("swapstream").setLevel(logging.WARNING)
        log.info("distributed training: %d processes (%s), batch stream split by rank", size, backend)
        return cls(rank, size, local_rank)

    def close(self) -> None:
        if self.active and dist.is_initialized():
            dist.destroy_process_group()

    def batch_maker(self, make: Callable[[int], object]) -> Callable[[int], object]:
        """make(index) -> batch, re-indexed so that this rank draws batch i * size + rank at iteration i."""
        if not self.active:
            return make
        size, rank = self.size, self.rank

        def make_for_rank(iteration: int):
            return make(iteration * size + rank)

        return make_for_rank

    def agree(self, *flags: bool) -> tuple[bool, ...]:
        """Each flag (budget spent, stop asked, loss collapsed) true on any rank, the same on all (one all-reduce)."""
        if not self.active:
            return flags
        values = torch.tensor([int(f) for f in flags], device=_collective_device())
        dist.all_reduce(values, op=dist.ReduceOp.MAX)
        return tuple(bool(v) for v in values)

    def wrap(self, run) -> None:
        """Put run's autoencoder under DistributedDataParallel and average the discriminator's
        gradients; run.model keeps answering like the plain module (see _DistributedModel)."""
        if not self.active:
            return
        module = run.model
        device_ids = [self.local_rank] if run.compute.device.type == "cuda" else None
        ddp = torch.nn.parallel.DistributedDataParallel(module, device_ids=device_ids)
        run.model = _DistributedModel(ddp)
        if run.d_optimizer is not None:
            run.d_optimizer = _AveragedStep(run.d_optimizer, self.size)


def _collective_device() -> torch.device:
    return torch.device("cuda") if dist.get_backend() == "nccl" else torch.device("cpu")


class _DistributedModel:
    """Calls go through DistributedDataParallel (its forward syncs the gradients); every other
    attribute (reconstruct, render, state_dict, parameters, ...) is the plain module's, so
    validation and checkpoints see the same model and keys as in a single process."""

    def __init__(self, ddp: torch.nn.parallel.DistributedDataParallel):
        self._ddp = ddp

    def __call__(self, *args, **kwargs):
        return self._ddp(*args, **kwargs)

    def __getattr__(self, name: str):
        return getattr(self._ddp.module, name)


class _AveragedStep:
    """An optimiser whose step() first averages its parameters' gradients across the ranks."""

    def __init__(self, optimizer: torch.optim.Optimizer, size: int):
        self._optimizer = optimizer
        self._size = size

    def step(self, *args, **kwargs):
        for group in self._optimizer.param_groups:
            for p in group["params"]:
                if p.grad is not None:
                    dist.all_reduce(p.grad)
                    p.grad.div_(self._size)
        return self._optimizer.step(*args, **kwargs)

    def __getattr__(self, name: str):
        return getattr(self._optimizer, name)
