"""The thread that drives the quality governor (governor.py) of a running pipeline.

Twice a second it reads the pipeline's recent metrics (output fps over the last second, each
stage's p50 over about the last second of frames) and the board's current settings, asks the
governor what to change, and submits that through the ControlBoard, exactly as the page would,
with the governor's reason recorded as an event. A refused change is reported, never raised.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable

from swapstream.engine.pipeline.controls import ControlBoard, ControlError
from swapstream.engine.pipeline.governor import Governor, Observation
from swapstream.engine.pipeline.metrics import PipelineStats

from swapstream.common.pipeline_contract import SourceInfo


class GovernorLoop:
    """source_info() -> the current source's SourceInfo (its rate and height), or None."""

    def __init__(
        self,
        governor: Governor,
        board: ControlBoard,
        stats: PipelineStats,
        source_info: Callable[[], SourceInfo | None],
        period_s: float = 0.5,
    ):
        self.governor, self.board, self.stats = governor, board, stats
        self._source_info = source_info
        self.period_s = period_s
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="swapstream-governor", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(2.0)

    def _loop(self) -> None:
        while not self._stop.wait(self.period_s):
            self.tick()

    def tick(self, now: float | None = None) -> None:
        """One look at the metrics; submits what the governor decides."""
        info = self._source_info()
        fps = float(info.fps) if info is not None and info.fps else 0.0
        recent = self.stats.recent(max(8, round(fps or 30)))
        stage_ms = {k: v for k, v in recent["stage_ms"].items() if math.isfinite(v)}
        obs = Observation(
            time.monotonic() if now is None else now,
            recent["fps"],
            stage_ms,
            fps,
            info.height if info is not None else 0,
        )
        with self._lock:
            changes = self.governor.update(obs, self.board.current)
        for change in changes:
            try:
                self.board.submit(change.message)
            except ControlError as e:
                self.board.note(f"governor: {change.message.key} refused ({e})", "error")
                continue
            self.board.note(f"governor: {change.reason}", "governor")

    def snapshot(self) -> dict:
        with self._lock:
            return self.governor.snapshot(time.monotonic())
