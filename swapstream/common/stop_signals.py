"""Ctrl-C and SIGTERM land on the main thread, the only one whose Python handlers run: every
worker thread the engine starts keeps them blocked (engine.pipeline.runner.start_unbroken, the
inference helpers of engine.runtime.swap_model). A worker that accepts them can take the signal
while the main thread sleeps in a wait that only a signal delivered to it would cut short."""

from __future__ import annotations

import signal

HELD_SIGNALS = frozenset({signal.SIGINT, signal.SIGTERM})


def block_in_this_thread() -> None:
    """Block HELD_SIGNALS in the calling thread (a ThreadPoolExecutor initializer); a no-op where
    threads have no signal masks (Windows)."""
    if hasattr(signal, "pthread_sigmask"):
        signal.pthread_sigmask(signal.SIG_BLOCK, HELD_SIGNALS)
