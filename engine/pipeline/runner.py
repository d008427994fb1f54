"""Run Source -> Stages -> Sink with one thread per part and bounded links between them.

Two policies (docs/ARCHITECTURE.md, "The engine loop"):
- live: the source writes into a newest-only slot (stale frames dropped and counted there, and
  only there); every later link blocks (a FIFO of queue_depth), and the first stage takes a
  frame from the slot only while fewer than max_in_flight frames are in the stages
  (channels.InFlight), so no core is spent on a frame that a later stage would drop and latency
  stays near the work plus a frame time or two. max_in_flight 0 keeps the older design, every
  link newest-only, for side-by-side measurements (benchmarks/live_policy.py);
- offline: every link blocks when full, nothing is dropped, and because each part is one
  thread reading one FIFO, output order equals input order. Stages with batch_size > 1 take
  whatever is already waiting (up to their batch size) so inference batches across frames.
A failure in any thread is stored, stops every thread, discards the output and is re-raised on
the caller's thread by `join()`; `stop()` (Ctrl-C) stops everything but keeps what was written.

Live controls (engine/pipeline/controls.py): with a ControlBoard, the capture thread stamps the
current settings onto each packet, each stage and the sink apply a packet's settings before
processing it (so changes land between frames), a packet captured with the swap off passes the
stages untouched, and the sink thread holds each frame until its target delay (pacing.py).
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from swapstream.engine.pipeline.channels import Channel, InFlight, LatestSlot, Stopped
from swapstream.engine.pipeline.controls import ControlBoard, apply_settings
from swapstream.engine.pipeline.frame_size import scale_packet
from swapstream.engine.pipeline.metrics import PipelineStats
from swapstream.engine.pipeline.pacing import Pacer

from swapstream.common.pipeline_contract import DEVICE_TIMING, Control, FramePacket, Sink, Source, SourceInfo, Stage
from swapstream.common.stop_signals import HELD_SIGNALS

log = logging.getLogger(__name__)

JOIN_TIMEOUT_S = 5.0


# Frames a live pipeline works on at once: one in the stages before inference and one in or
# after it keeps both cores of a small machine busy without a frame ever queueing behind two.
LIVE_IN_FLIGHT = 2


@dataclass(frozen=True)
class PipelinePolicy:
    """live: newest-only source; queue_depth: capacity of every other link; max_in_flight (live):
    frames between the first stage and the sink at once (0: every link newest-only instead)."""

    live: bool
    queue_depth: int
    max_in_flight: int = LIVE_IN_FLIGHT

    def __post_init__(self) -> None:
        if self.queue_depth < 1 or self.max_in_flight < 0:
            raise ValueError("queue_depth must be >= 1 and max_in_flight >= 0")


class Pipeline:
    """Threads for one source, its stages and one sink. Use `run()`, or start/wait/stop/join."""

    def __init__(
        self,
        source: Source,
        stages: Sequence[Stage],
        sink: Sink,
        policy: PipelinePolicy,
        *,
        stats: PipelineStats | None = None,
        on_output: Callable[[FramePacket], None] | None = None,
        controls: ControlBoard | None = None,
        on_capture: Callable[[FramePacket], None] | None = None,
    ):
        """on_output(packet): called on the sink thread after each write; on_capture(packet): on the
        capture thread before the packet moves on. Both must return at once (e.g. keep a reference)."""
        self.source, self.stages, self.sink, self.policy = source, list(stages), sink, policy
        self.stats = stats or PipelineStats()
        self._on_output = on_output
        self._on_capture = on_capture
        self.controls = controls
        self.pacer = Pacer() if controls is not None else None
        self._applied: dict[int, object] = {}
        self._stop = threading.Event()
        self._finished = threading.Event()
        self._error: BaseException | None = None
        self._error_lock = threading.Lock()
        self._threads: list[threading.Thread] = []
        self._opened: list = []
        self._joined = False
        self.info: SourceInfo | None = None
        # Live: the source always writes into a newest-only slot; the frames in flight are bounded
        # at the first stage (InFlight), so the later links block instead of dropping work done.
        first = LatestSlot(self._stop) if policy.live else Channel(policy.queue_depth, self._stop)
        gated = policy.live and policy.max_in_flight > 0 and bool(self.stages)
        self.in_flight = InFlight(policy.max_in_flight, self._stop) if gated else None
        newest_only = policy.live and not gated and policy.queue_depth == 1
        self.links: list[Channel | LatestSlot] = [first] + [
            LatestSlot(self._stop) if newest_only else Channel(policy.queue_depth, self._stop) for _ in self.stages
        ]

    # -- life cycle -------------------------------------------------------------------------
    def setup(self) -> SourceInfo:
        """Open every part on the calling thread, so bad input fails here, before any thread runs."""
        try:
            self.info = self.source.setup()
            self._opened.append(self.source)
            # The sink before the stages: a missing virtual camera or an unwritable output fails
            # in milliseconds instead of after the detector and the kernels have loaded.
            self.sink.setup(self.info)
            self._opened.append(self.sink)
            for st in self.stages:
                st.setup()
                self._opened.append(st)
        except BaseException:
            self.close_all(complete=False)
            raise
        return self.info

    def start(self) -> None:
        if self.info is None:
            self.setup()
        self.stats.start()
        self._spawn("capture", self._capture_loop)
        for i, st in enumerate(self.stages):
            gate = self.in_flight if i == 0 else None
            self._spawn(st.name, self._stage_loop, st, self.links[i], self.links[i + 1], gate)
        self._spawn("sink", self._sink_loop if self.controls is None else self._paced_sink_loop, self.links[-1])

    def stop(self) -> None:
        """Ask every thread to stop; what the sink already wrote is kept (Ctrl-C)."""
        self._stop.set()
        self._finished.set()

    def wait(self, timeout: float | None = None) -> bool:
        """True once the stream ended, failed or was stopped."""
        return self._finished.wait(timeout)

    @property
    def failed(self) -> bool:
        return self._error is not None

    def join(self) -> None:
        """Wait for all threads, close every part, re-raise a worker's exception here."""
        if self._joined:
            return
        self._joined = True
        if not self._finished.is_set() or self._error is not None:
            self._stop.set()
        deadline = time.monotonic() + JOIN_TIMEOUT_S
        for t in self._threads:
            t.join(max(0.0, deadline - time.monotonic()))
            if t.is_alive():
                log.warning("pipeline thread %s did not stop within %.0f s", t.name, JOIN_TIMEOUT_S)
        close_error = self.close_all(complete=self._error is None)
        if self._error is not None:
            raise self._error
        if close_error is not None:
            raise close_error

    def run(self, tick: Callable[[PipelineStats], None] | None = None, tick_s: float = 1.0) -> PipelineStats:
        """setup + start + wait (calling `tick` every tick_s) + join. Ctrl-C finalizes, then re-raises.

        start() is inside the try: Ctrl-C/SIGTERM can land while it starts the threads (Thread.start
        waits for each), and what setup opened must still be closed (a sink's temporary file)."""
        try:
            self.start()
            while not self.wait(tick_s):
                if tick is not None:
                    tick(self.stats)
        except KeyboardInterrupt:
            self.stop()
            notify = getattr(self.sink, "interrupted", None)
            if notify is not None:
                notify()  # e.g. convert keeps the finished part as NAME.partial.EXT
            self.join()
            raise
        self.join()
        return self.stats

    # -- workers ------------------------------------------------------------------------------
    def _spawn(self, name: str, fn, *args) -> None:
        t = threading.Thread(target=self._guard, args=(fn, *args), name=f"swapstream-{name}", daemon=True)
        self._threads.append(t)
        start_unbroken(t)

    def _guard(self, fn, *args) -> None:
        try:
            fn(*args)
        except Stopped:
            pass
        except BaseException as e:
            with self._error_lock:
                if self._error is None:
                    self._error = e
            self._stop.set()
            self._finished.set()

    def _capture_loop(self) -> None:
        out = self.links[0]
        for packet in self.source.frames(self._stop):
            if self.controls is not None:
                packet.settings = self.controls.current
                scale_packet(packet)  # the output_size control: fewer pixels for every stage
            if self._on_capture is not None:
                self._on_capture(packet)
            self._put(out, packet, "capture")
            if "capture" in packet.timings:
                self.stats.record_stage("capture", packet.timings["capture"])
        if not self._stop.is_set():
            out.put(Control.END)

    def _put(self, out: Channel | LatestSlot, packet: FramePacket, where: str) -> None:
        """Hand a packet on; a newest-only link that replaced an unread packet counts a drop
        against `where`, the part that made the dropped packet."""
        if out.put(packet):
            self.stats.record_drop(where=where)

    def _stage_loop(
        self, stage: Stage, inp: Channel | LatestSlot, out: Channel | LatestSlot, gate: InFlight | None
    ) -> None:
        """gate: the live pipeline's InFlight, for its first stage (a frame is taken only with room)."""
        while True:
            if gate is not None:
                gate.acquire()
            item = inp.get()
            if item is Control.END:
                out.put(Control.END)
                return
            batch = [item]
            ended = False
            while gate is None and len(batch) < stage.batch_size:
                more = inp.get_nowait()
                if more is None:
                    break
                if more is Control.END:
                    ended = True
                    break
                batch.append(more)
            t0 = time.perf_counter()
            done = stage.process_batch(batch) if self.controls is None else self._controlled(stage, batch)
            share = (time.perf_counter() - t0) / len(batch)
            for p in done:
                p.timings[stage.name] = share
                self.stats.record_stage(stage.name, share)
                self._put(out, p, stage.name)
            if ended:
                out.put(Control.END)
                return

    def _controlled(self, stage: Stage, batch: list[FramePacket]) -> list[FramePacket]:
        """process_batch under each packet's own settings: runs of packets that share settings go
        together; packets captured with the swap off pass through untouched."""
        done: list[FramePacket] = []
        start = 0
        while start < len(batch):
            settings = batch[start].settings
            end = start + 1
            while end < len(batch) and batch[end].settings is settings:
                end += 1
            run = batch[start:end]
            if settings is not None and not getattr(settings, "swap", True):
                done.extend(run)
            else:
                self._apply(stage, settings)
                done.extend(stage.process_batch(run))
            start = end
        return done

    def _apply(self, part, settings) -> None:
        """Bring `part` in line with `settings` (once per change); a failure is reported, not raised."""
        if settings is None or self._applied.get(id(part)) is settings:
            return
        self._applied[id(part)] = settings
        try:
            apply_settings(part, settings)
        except Exception as e:
            log.warning("applying live settings to %s failed: %s", part.name, e)
            self.controls.note(f"{part.name}: could not apply the change ({e})", "error")

    def _write(self, item: FramePacket) -> None:
        t0 = time.perf_counter()
        self.sink.write(item)
        item.timings[self.sink.name] = time.perf_counter() - t0
        self.stats.record_stage(self.sink.name, item.timings[self.sink.name])
        record_device_timings(self.stats, item)
        self.stats.record_output(item.t_capture, len(item.faces))
        if self._on_output is not None:
            self._on_output(item)

    def _left_stages(self) -> None:
        """A frame reached the sink thread: room for the next one in the stages."""
        if self.in_flight is not None:
            self.in_flight.release()

    def _sink_loop(self, inp: Channel | LatestSlot) -> None:
        while True:
            item = inp.get()
            if item is Control.END:
                self._finished.set()
                return
            self._left_stages()
            self._write(item)

    def _paced_sink_loop(self, inp: Channel | LatestSlot) -> None:
        """The sink under live controls: settings applied, each frame held until its target delay."""
        pacer = self.pacer
        while True:
            item = inp.get_until(pacer.next_due())
            if item is Control.END:
                for p in pacer.drain():
                    if self._stop.wait(max(0.0, pacer.due(p) - time.perf_counter())):
                        return
                    self._paced_write(p)
                self._finished.set()
                return
            if item is not None:
                self._left_stages()
                self.stats.record_drop(pacer.add(item, time.perf_counter()), where="pacing")
            for p in pacer.pop_due(time.perf_counter()):
                self._paced_write(p)

    def _paced_write(self, item: FramePacket) -> None:
        self._apply(self.sink, item.settings)
        self.pacer.record(item, time.perf_counter())
        self._write(item)

    def close_all(self, complete: bool) -> BaseException | None:
        """Close what setup opened, in reverse order; returns the first failure (all are closed)."""
        first: BaseException | None = None
        for part in reversed(self._opened):
            try:
                if part is self.sink:
                    part.close(complete=complete)
                else:
                    part.close()
            except Exception as e:
                log.debug("closing %s failed", type(part).__name__, exc_info=True)
                first = first or e
        self._opened.clear()
        return first


def record_device_timings(stats: PipelineStats, packet: FramePacket) -> None:
    """The device frame path's GPU seconds per stage ('<stage> (device)' timings) into stats."""
    for name, seconds in packet.timings.items():
        if name.endswith(DEVICE_TIMING):
            stats.record_stage(name, seconds)


def run_sequential(source: Source, stages: Sequence[Stage], sink: Sink, stats: PipelineStats | None = None):
    """The same parts in one plain loop on the calling thread (the baseline the benchmark compares)."""
    stats = stats or PipelineStats()
    pipe = Pipeline(source, stages, sink, PipelinePolicy(live=False, queue_depth=1), stats=stats)
    pipe.setup()
    stop = threading.Event()
    stats.start()
    ok = False
    try:
        for packet in source.frames(stop):
            if "capture" in packet.timings:
                stats.record_stage("capture", packet.timings["capture"])
            for st in stages:
                t0 = time.perf_counter()
                (packet,) = st.process_batch([packet])
                packet.timings[st.name] = time.perf_counter() - t0
                stats.record_stage(st.name, packet.timings[st.name])
            t0 = time.perf_counter()
            sink.write(packet)
            stats.record_stage(sink.name, time.perf_counter() - t0)
            record_device_timings(stats, packet)
            stats.record_output(packet.t_capture, len(packet.faces))
        ok = True
    finally:
        close_error = pipe.close_all(complete=ok)
    if close_error is not None:
        raise close_error
    return stats


def start_unbroken(thread: threading.Thread) -> None:
    """thread.start() with Ctrl-C and SIGTERM held until it returns. Start waits for the new thread
    to run; a KeyboardInterrupt raised inside that wait left a thread Python could neither join nor
    forget, and an interrupted convert crashed instead of keeping its finished part. Held signals
    are delivered the moment start returns; the new thread keeps them blocked, so they go to the
    main thread, the only one whose Python handlers run."""
    if not hasattr(signal, "pthread_sigmask"):  # Windows: no per-thread signal masks
        thread.start()
        return
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, HELD_SIGNALS)
    try:
        thread.start()
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)
