"""The threaded pipeline's policies, with synthetic parts (no model, no MediaPipe): fast.

Offline: order kept, nothing dropped, batches formed. Live: stale frames dropped and counted,
links never grow, latency bounded, stop() ends every thread within a second. Faults: a worker's
exception reaches the caller and the sink discards its output; Ctrl-C keeps it.
"""

from __future__ import annotations

import signal
import threading
import time

import numpy as np
import pytest
from pipeline_fixtures import CountingSource, RecordingSink
from swapstream.engine.pipeline.channels import Channel, LatestSlot, Stopped
from swapstream.engine.pipeline.metrics import PipelineStats, percentiles
from swapstream.engine.pipeline.runner import Pipeline, PipelinePolicy, run_sequential, start_unbroken

from swapstream.common.pipeline_contract import Control, Stage


class SleepStage(Stage):
    """Sleeps a random 0..max_s per call (out-of-step threads would reorder frames if they could)."""

    def __init__(self, name: str, max_s: float, batch_size: int = 1, fail_at: int | None = None):
        self.name, self.max_s, self.batch_size, self.fail_at = name, max_s, batch_size, fail_at
        self.rng = np.random.default_rng(1)
        self.batches: list[int] = []

    def process_batch(self, packets):
        self.batches.append(len(packets))
        if self.fail_at is not None and any(p.seq == self.fail_at for p in packets):
            raise RuntimeError(f"boom at {self.fail_at}")
        time.sleep(self.rng.uniform(0, self.max_s))
        return packets


def no_worker_threads() -> bool:
    return not [t for t in threading.enumerate() if t.name.startswith("swapstream-") and t.is_alive()]


def test_offline_keeps_order_drops_nothing_and_batches():
    infer = SleepStage("infer", 0.004, batch_size=4)
    sink = RecordingSink()
    pipe = Pipeline(
        CountingSource(120),
        [SleepStage("detect", 0.003), infer, SleepStage("blend", 0.001)],
        sink,
        PipelinePolicy(live=False, queue_depth=4),
    )
    stats = pipe.run()
    assert sink.seqs == list(range(120))
    assert sink.pixels == [s % 256 for s in range(120)]
    assert stats.dropped == 0 and stats.frames == 120
    assert sum(infer.batches) == 120 and max(infer.batches) > 1, "the infer stage never received a batch"
    assert max(link.max_seen for link in pipe.links) <= 4
    assert sink.closed_with is True
    assert {"detect", "infer", "blend", "sink"} <= set(stats.snapshot().stage_ms)
    assert no_worker_threads()


def test_live_drops_stale_frames_and_keeps_latency_bounded():
    # Source at ~500 fps, processing at ~50 fps: without dropping, latency would grow without bound.
    sink = RecordingSink()
    stage_s = 0.02
    pipe = Pipeline(
        CountingSource(10_000, period_s=0.002),
        [SleepStage("detect", 0.0), FixedSleep("infer", stage_s)],
        sink,
        PipelinePolicy(live=True, queue_depth=1),
    )
    pipe.start()
    assert not pipe.wait(1.5)
    t0 = time.perf_counter()
    pipe.stop()
    pipe.join()
    assert time.perf_counter() - t0 < 1.0, "threads took more than a second to stop"
    assert no_worker_threads()
    snap = pipe.stats.snapshot()
    assert snap.dropped > 100, snap
    assert sink.seqs == sorted(sink.seqs) and len(sink.seqs) >= 20
    assert max(link.max_seen for link in pipe.links) <= 1
    # Latency: the frame in flight + one waiting per link, each at most one stage time.
    assert snap.latency_ms["p99"] < 1000 * stage_s * 6, snap.latency_ms
    assert sink.closed_with is True


class FixedSleep(Stage):
    def __init__(self, name: str, seconds: float):
        self.name, self.seconds = name, seconds

    def process(self, packet):
        time.sleep(self.seconds)
        return packet


def test_worker_exception_reaches_caller_and_discards_output():
    sink = RecordingSink()
    pipe = Pipeline(
        CountingSource(200),
        [SleepStage("detect", 0.001, fail_at=37)],
        sink,
        PipelinePolicy(live=False, queue_depth=2),
    )
    with pytest.raises(RuntimeError, match="boom at 37"):
        pipe.run()
    assert sink.closed_with is False
    assert pipe.failed and no_worker_threads()
    assert all(s < 37 for s in sink.seqs)


def test_interrupt_finalizes_and_reraises():
    sink = RecordingSink()
    pipe = Pipeline(CountingSource(10_000, period_s=0.001), [FixedSleep("x", 0.002)], sink, PipelinePolicy(False, 2))
    calls = []

    def tick(stats):
        calls.append(stats.frames)
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        pipe.run(tick, tick_s=0.2)
    assert sink.closed_with is True, "Ctrl-C must keep (finalize) what was written"
    assert calls and no_worker_threads()
    assert sink.seqs == list(range(len(sink.seqs)))


def test_setup_failure_closes_what_was_opened():
    class BadStage(Stage):
        name = "bad"

        def setup(self):
            raise ValueError("no model")

    sink = RecordingSink()
    closed = []

    class Src(CountingSource):
        def close(self):
            closed.append("source")

    pipe = Pipeline(Src(5), [BadStage()], sink, PipelinePolicy(False, 2))
    with pytest.raises(ValueError, match="no model"):
        pipe.run()
    assert closed == ["source"] and sink.closed_with is False and no_worker_threads()


def test_sequential_runner_matches_pipeline():
    sink = RecordingSink()
    stats = run_sequential(CountingSource(30), [SleepStage("a", 0.0), SleepStage("b", 0.0, batch_size=4)], sink)
    assert sink.seqs == list(range(30)) and stats.frames == 30 and sink.closed_with is True


def test_latest_slot_keeps_newest_and_end():
    stop = threading.Event()
    slot = LatestSlot(stop)
    assert slot.put(1) is False
    assert slot.put(2) is True and slot.dropped == 1
    slot.put(Control.END)
    assert slot.put(3) is False, "nothing is accepted after END"
    assert slot.get() == 2
    assert slot.get() is Control.END
    stop.set()
    with pytest.raises(Stopped):
        LatestSlot(stop).get()


def test_channel_put_blocks_until_stopped():
    stop = threading.Event()
    ch = Channel(1, stop)
    ch.put("a")
    threading.Timer(0.1, stop.set).start()
    t0 = time.perf_counter()
    with pytest.raises(Stopped):
        ch.put("b")
    assert time.perf_counter() - t0 < 0.5


def test_percentiles_and_snapshot():
    p = percentiles([0.001 * i for i in range(1, 101)])
    assert p["p50"] == pytest.approx(50.5) and p["p99"] == pytest.approx(99.01)
    assert np.isnan(percentiles([])["p95"])
    stats = PipelineStats(provider="cpu")
    stats.start()
    stats.record_output(time.perf_counter() - 0.01, 1)
    stats.record_output(time.perf_counter() - 0.02, 0)
    stats.record_drop(3)
    d = stats.as_dict()
    assert (d["frames"], d["faces_swapped"], d["frames_without_face"], d["dropped"]) == (2, 1, 1, 3)
    assert 9 < d["latency_ms"]["p50"] < 30 and d["provider"] == "cpu"


def test_interrupt_while_threads_start_still_closes_the_sink(monkeypatch):
    """SIGTERM can land inside start() (Thread.start waits for each thread): the parts setup
    opened must still be closed, or a file sink's temporary file stays behind."""
    sink = RecordingSink()
    pipe = Pipeline(CountingSource(50), [FixedSleep("x", 0.001)], sink, PipelinePolicy(False, 2))
    spawn = pipe._spawn
    started = []

    def spawn_then_interrupt(name, fn, *args):
        spawn(name, fn, *args)
        started.append(name)
        if len(started) == 2:
            raise KeyboardInterrupt

    monkeypatch.setattr(pipe, "_spawn", spawn_then_interrupt)
    with pytest.raises(KeyboardInterrupt):
        pipe.run()
    assert sink.closed_with is True, "what setup opened must be closed, keeping what was written"
    assert no_worker_threads()


def test_ctrl_c_during_a_thread_start_lands_after_the_start():
    """A Ctrl-C that arrives while Thread.start waits for the new thread used to break the start
    and leave a thread that could not be joined (an interrupted convert then crashed). Now the
    signal is held in the starting thread until start returns, blocked in the new one, and lands
    on the main thread afterwards: every thread the pipeline spawned can be joined."""
    mask = {}

    def body():
        mask["blocked"] = signal.pthread_sigmask(signal.SIG_BLOCK, [])
        # Ctrl-C while the starting thread may still wait, sent to the main thread itself: a signal
        # for the whole process may go to any thread that does not block it (OpenCV's, ONNX
        # Runtime's), and then lands on the main thread only at its next bytecode, maybe after the
        # `with` below (a rare failure of this test).
        signal.pthread_kill(threading.main_thread().ident, signal.SIGINT)

    def ctrl_c(signum, frame):
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGINT, ctrl_c)  # a test run in the background ignores SIGINT
    try:
        t = threading.Thread(target=body)
        with pytest.raises(KeyboardInterrupt):
            start_unbroken(t)
            t.join(5)  # the interrupt lands in start_unbroken's last line or here, never inside start
        t.join(5)
    finally:
        signal.signal(signal.SIGINT, previous)
    assert not t.is_alive() and signal.SIGINT in mask["blocked"] and signal.SIGTERM in mask["blocked"]
    assert signal.SIGINT not in signal.pthread_sigmask(signal.SIG_BLOCK, [])


class CountingStage(Stage):
    """Sleeps like a stage that computes, and counts the frames it worked on."""

    def __init__(self, name: str, seconds: float):
        self.name, self.seconds, self.seen = name, seconds, 0

    def process(self, packet):
        self.seen += 1
        time.sleep(self.seconds)
        return packet


@pytest.mark.parametrize("in_flight", [1, 2])
def test_live_drops_at_capture_only_and_spends_no_work_on_dropped_frames(in_flight):
    """A fast source before a slow stage: every frame a stage works on reaches the sink (the
    capture slot is the only place frames are dropped), and latency stays near the work."""
    sink = RecordingSink()
    detect, infer = CountingStage("detect", 0.004), CountingStage("infer", 0.02)
    pipe = Pipeline(
        CountingSource(10_000, period_s=0.002),
        [detect, infer],
        sink,
        PipelinePolicy(live=True, queue_depth=1, max_in_flight=in_flight),
    )
    pipe.start()
    assert not pipe.wait(1.2)
    pipe.stop()
    pipe.join()
    snap = pipe.stats.snapshot()
    assert set(snap.drops_by_stage) == {"capture"} and snap.dropped > 100, snap.drops_by_stage
    # At most the frames still in flight at the stop never reached the sink.
    assert len(sink.seqs) >= 20 and detect.seen - len(sink.seqs) <= in_flight
    assert sink.seqs == sorted(sink.seqs)
    # Latency: the work (24 ms) plus at most one frame ahead of it in the slow stage.
    assert snap.latency_ms["p50"] < 1000 * (0.004 + 0.02 * in_flight + 0.02), snap.latency_ms


def test_live_without_the_in_flight_bound_works_on_frames_it_then_drops():
    """The older design (every link newest-only) is kept for side-by-side measurements: there a
    fast stage works on frames the slow one never takes (the waste the bound removes)."""
    detect, infer = CountingStage("detect", 0.004), CountingStage("infer", 0.02)
    sink = RecordingSink()
    pipe = Pipeline(
        CountingSource(10_000, period_s=0.002),
        [detect, infer],
        sink,
        PipelinePolicy(live=True, queue_depth=1, max_in_flight=0),
    )
    pipe.start()
    assert not pipe.wait(1.0)
    pipe.stop()
    pipe.join()
    assert detect.seen > 2 * len(sink.seqs)
    assert "detect" in pipe.stats.snapshot().drops_by_stage
