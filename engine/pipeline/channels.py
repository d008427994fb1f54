"""The links between pipeline threads: a bounded FIFO and a newest-only slot, both stoppable.

Every wait has a timeout and checks the pipeline's stop event, so a thread blocked on a full or
empty link notices a stop within `poll_s` and no thread can hang forever.
"""

from __future__ import annotations

import queue
import threading
import time

from swapstream.common.pipeline_contract import Control

POLL_S = 0.05


class Stopped(Exception):
    """The pipeline was asked to stop while this thread waited on a link."""


class Channel:
    """Bounded FIFO: `put` blocks while full (backpressure), `get` blocks while empty."""

    def __init__(self, depth: int, stop: threading.Event, poll_s: float = POLL_S):
        if depth < 1:
            raise ValueError(f"queue depth must be >= 1, got {depth}")
        self._q: queue.Queue = queue.Queue(maxsize=depth)
        self._stop = stop
        self._poll = poll_s
        self.depth = depth
        self.max_seen = 0

    def put(self, item) -> None:
        while True:
            if self._stop.is_set():
                raise Stopped
            try:
                self._q.put(item, timeout=self._poll)
            except queue.Full:
                continue
            self.max_seen = max(self.max_seen, self._q.qsize())
            return

    def get(self):
        while True:
            if self._stop.is_set():
                raise Stopped
            try:
                return self._q.get(timeout=self._poll)
            except queue.Empty:
                continue

    def get_until(self, deadline: float | None):
        """Like get(), but None once time.perf_counter() reaches deadline (None: no deadline)."""
        while True:
            if self._stop.is_set():
                raise Stopped
            wait = self._poll if deadline is None else min(self._poll, deadline - time.perf_counter())
            if wait <= 0:
                return self.get_nowait()
            try:
                return self._q.get(timeout=wait)
            except queue.Empty:
                continue

    def get_nowait(self):
        """The next item, or None when the channel is empty right now."""
        try:
            return self._q.get_nowait()
        except queue.Empty:
            return None

    def qsize(self) -> int:
        return self._q.qsize()


class InFlight:
    """At most `limit` frames between the first stage and the sink at once (live).

    The live source drops stale frames in its newest-only slot; past it every link blocks. The
    first stage takes a frame from the slot only when fewer than `limit` frames are being worked
    on, so no stage spends a core on a frame a later stage would throw away, and a frame, once
    taken, never waits behind more than limit - 1 others: latency stays near the work plus a
    frame time or two, and drops happen at capture only.
    """

    def __init__(self, limit: int, stop: threading.Event, poll_s: float = POLL_S):
        if limit < 1:
            raise ValueError(f"frames in flight must be >= 1, got {limit}")
        self._cond = threading.Condition()
        self._stop = stop
        self._poll = poll_s
        self.limit = limit
        self.count = 0

    def acquire(self) -> None:
        """Wait for room for one more frame (Stopped if the pipeline stops meanwhile)."""
        with self._cond:
            while self.count >= self.limit:
                if self._stop.is_set():
                    raise Stopped
                self._cond.wait(self._poll)
            self.count += 1

    def release(self) -> None:
        """A frame left the stages (reached the sink, or was never taken)."""
        with self._cond:
            self.count = max(0, self.count - 1)
            self._cond.notify()


class LatestSlot:
    """Holds only the newest item: a `put` over an unread item replaces it and counts a drop.

    This is the live source's output: when processing is slower than the camera, stale frames
    are thrown away here instead of queueing up as latency. Control.END is never dropped.
    """

    def __init__(self, stop: threading.Event, poll_s: float = POLL_S):
        self._cond = threading.Condition()
        self._item = None
        self._has = False
        self._ended = False
        self._stop = stop
        self._poll = poll_s
        self.depth = 1
        self.max_seen = 0
        self.dropped = 0

    def put(self, item) -> bool:
        """Store item; True if it replaced an unread one (a dropped frame)."""
        with self._cond:
            if self._ended:
                return False
            replaced = self._has
            if item is Control.END:
                # Keep the pending frame: END is delivered right after it.
                self._ended = True
            else:
                self._item, self._has = item, True
                self.dropped += replaced
                self.max_seen = 1
            self._cond.notify_all()
            return replaced and item is not Control.END

    def get(self):
        return self.get_until(None)

    def get_until(self, deadline: float | None):
        """Like get(), but None once time.perf_counter() reaches deadline (None: no deadline)."""
        with self._cond:
            while not self._has and not self._ended:
                if self._stop.is_set():
                    raise Stopped
                wait = self._poll if deadline is None else min(self._poll, deadline - time.perf_counter())
                if wait <= 0:
                    return None
                self._cond.wait(wait)
            if self._stop.is_set():
                raise Stopped
            if self._has:
                item, self._item, self._has = self._item, None, False
                return item
            return Control.END

    def get_nowait(self):
        with self._cond:
            if self._has:
                item, self._item, self._has = self._item, None, False
                return item
            return Control.END if self._ended else None

    def qsize(self) -> int:
        with self._cond:
            return int(self._has)
