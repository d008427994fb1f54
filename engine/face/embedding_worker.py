"""dlib's ResNet in a process of its own, so an embedding never stalls the pipeline.

The ResNet holds the GIL for its ~60 ms (measured: other Python threads run at 8% of their speed
meanwhile), which in-process would stop every stage of a live pipeline for two frames. Here the
cheap chip is cut in the caller's process and only the (150, 150, 3) chip crosses to one worker
process; the caller gets a Future. Offline callers wait on it (deterministic output); live callers
poll it between frames. At most `max_pending` chips wait at once: submit returns None beyond that.
"""

from __future__ import annotations

import functools
import multiprocessing
from concurrent.futures import Future, ProcessPoolExecutor

import numpy as np


@functools.cache
def _network():
    """The worker process's ResNet, loaded once (by the pool's initializer)."""
    from swapstream.engine.face.embedding import ChipEmbedder

    return ChipEmbedder()


def _describe(chip_rgb: np.ndarray) -> np.ndarray:
    return _network().describe(chip_rgb)


class EmbeddingWorker:
    """submit(chip) -> Future[(128,) float32] or None when max_pending are already waiting."""

    def __init__(self, max_pending: int = 4, timeout_s: float = 30.0):
        from swapstream.engine.face.embedding import model_files

        model_files()  # fail here, on the caller's thread, when the extra is missing
        self.max_pending = max_pending
        self.timeout_s = timeout_s
        self._pending: set[Future] = set()
        self._pool = ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn"), initializer=_network)

    def warmup(self) -> None:
        """Start the process and load the network before the first frame (~1 s)."""
        self.submit(np.zeros((150, 150, 3), np.uint8)).result(self.timeout_s)

    def submit(self, chip_rgb: np.ndarray) -> Future | None:
        self._pending = {f for f in self._pending if not f.done()}
        if len(self._pending) >= self.max_pending:
            return None
        future = self._pool.submit(_describe, np.ascontiguousarray(chip_rgb))
        self._pending.add(future)
        return future

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
