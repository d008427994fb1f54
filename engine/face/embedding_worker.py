"""dlib's ResNet in a process of its own, so an embedding never stalls the pipeline.

The ResNet holds the GIL for its ~60 ms (measured: other Python threads run at 8% of their speed
meanwhile), which in-process would stop every stage of a live pipeline for two frames. Here the
cheap chip is cut in the caller's process and only the raw (150, 150, 3) uint8 chip crosses a
pipe to one child process (`python -m swapstream.engine.face.embedding_worker`), which answers
with 128 raw float32: no pickling, and nothing of the caller's own script is re-imported there.
The caller gets a Future: offline callers wait on it (deterministic output), live callers look
at it between frames. One chip is in flight at a time (submit returns None meanwhile), so a
write never waits behind the child's work.
"""

from __future__ import annotations

import collections
import subprocess
import sys
import threading
from concurrent.futures import Future

import numpy as np
from swapstream.engine.face.embedding import CHIP_SIZE, EMBEDDING_DIM

CHIP_SHAPE = (CHIP_SIZE, CHIP_SIZE, 3)
CHIP_BYTES = CHIP_SIZE * CHIP_SIZE * 3
ANSWER_BYTES = EMBEDDING_DIM * 4  # float32


class EmbeddingWorker:
    """submit(chip) -> Future[(128,) float32], or None while the previous chip is in flight."""

    def __init__(self, timeout_s: float = 30.0):
        from swapstream.engine.face.embedding import model_files

        model_files()  # fail here, on the caller's thread, when the extra is missing
        self.timeout_s = timeout_s
        self._pending: collections.deque[Future] = collections.deque(maxlen=1)
        self._lock = threading.Lock()
        cmd = [sys.executable, "-m", "swapstream.engine.face.embedding_worker"]
        self._proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        self._reader = threading.Thread(target=self._read_answers, name="embedding-answers", daemon=True)
        self._reader.start()

    def warmup(self) -> None:
        """Wait until the process has loaded the network (~1 s), before the first frame."""
        self.submit(np.zeros(CHIP_SHAPE, np.uint8)).result(self.timeout_s)

    def submit(self, chip_rgb: np.ndarray) -> Future | None:
        if chip_rgb.shape != CHIP_SHAPE or chip_rgb.dtype != np.uint8:
            raise ValueError(f"a chip is uint8 {CHIP_SHAPE}, got {chip_rgb.dtype} {chip_rgb.shape}")
        with self._lock:
            if self._pending:
                return None
            future: Future = Future()
            self._pending.append(future)
        try:
            self._proc.stdin.write(np.ascontiguousarray(chip_rgb).tobytes())
            self._proc.stdin.flush()
        except (BrokenPipeError, ValueError):
            future.set_exception(RuntimeError("the embedding process has ended"))
        return future

    def _read_answers(self) -> None:
        """Reader thread: each answer resolves the chip in flight; at EOF any waiter gets an error."""
        out = self._proc.stdout
        while len(data := out.read(ANSWER_BYTES)) == ANSWER_BYTES:
            with self._lock:
                future = self._pending.popleft()
            future.set_result(np.frombuffer(data, np.float32).copy())
        with self._lock:
            for future in self._pending:
                if not future.done():
                    future.set_exception(RuntimeError("the embedding process has ended"))
            self._pending.clear()

    def close(self) -> None:
        """End the child (it exits when its input closes) and the reader thread. Safe twice."""
        if self._proc.stdin and not self._proc.stdin.closed:
            self._proc.stdin.close()
        try:
            self._proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()
        self._reader.join(timeout=5)


def serve() -> None:
    """The child: read chips from stdin, write embeddings to stdout, until stdin closes."""
    from swapstream.engine.face.embedding import ChipEmbedder

    net = ChipEmbedder()
    inp, out = sys.stdin.buffer, sys.stdout.buffer
    while len(data := inp.read(CHIP_BYTES)) == CHIP_BYTES:
        chip = np.frombuffer(data, np.uint8).reshape(CHIP_SHAPE)
        out.write(net.describe(chip).astype(np.float32).tobytes())
        out.flush()


if __name__ == "__main__":
    serve()
