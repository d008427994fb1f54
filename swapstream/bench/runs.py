"""The measured runs of `swapstream bench`: the same engine components timed three ways on one clip.

measure() warms up, then runs a sequential loop, an unpaced pipeline and (live mode) the clip
paced at its own frame rate into the live policy, and returns the result dict that
swapstream/bench/report.py prints, plots and writes as JSON. Times are seconds inside the
engine's PipelineStats and milliseconds in the result.
"""

from __future__ import annotations

import sys
from pathlib import Path


def _sink(mode: str, out_dir: Path, name: str, cfg):
    """live: frames are discarded (what `swapstream live` does with no output); convert: encoded."""
    from swapstream.engine.stages.sink_file import VideoFileSink
    from swapstream.engine.stages.sink_live import NullSink

    return NullSink() if mode == "live" else VideoFileSink(out_dir / f"{name}.mp4", cfg.output)


class _CaptureTimedSink:
    """Wraps a sink for run_sequential, which times every stage but not the capture: the source
    stamps packet.timings['capture'], and this records it so both runs show the same rows."""

    def __init__(self, sink, stats):
        self.sink, self.stats, self.name = sink, stats, sink.name

    def setup(self, info) -> None:
        self.sink.setup(info)

    def write(self, packet) -> None:
        if "capture" in packet.timings:
            self.stats.record_stage("capture", packet.timings["capture"])
        self.sink.write(packet)

    def close(self, complete: bool) -> None:
        self.sink.close(complete)


def _run_summary(stats) -> dict:
    """PipelineStats -> JSON-ready dict with the glass-to-glass samples (ms) added."""
    import numpy as np

    out = stats.as_dict()
    out["source_frames"] = out["frames"] + out["dropped"]
    samples = np.asarray(stats.latency_samples(), np.float64) * 1000.0
    out["latency_ms"]["mean"] = float(samples.mean()) if samples.size else float("nan")
    out["latency_ms"]["max"] = float(samples.max()) if samples.size else float("nan")
    out["latency_samples_ms"] = [round(float(v), 3) for v in samples]
    return out


def model_info(model, weights_note: str | None) -> dict:
    """What the model is and whether its weights mean anything (from its validated contract)."""
    from swapstream.engine.runtime.providers import EXECUTION_PROVIDERS

    c = model.contract
    if weights_note is None:
        if c.format == "dfm":
            weights_note = "trained (DeepFaceLive .dfm)"
        elif c.iterations > 0:
            weights_note = f"trained ({c.iterations} iterations)"
        else:
            weights_note = "untrained (0 iterations recorded) - speed only"
    return {
        "path": str(model.path),
        "format": c.format,
        "arch": c.arch,
        "preset": c.preset,
        "precision": c.precision,
        "face_type": c.face_type,
        "resolution": c.resolution,
        "weights": weights_note,
        "provider": EXECUTION_PROVIDERS.get(model.provider, model.provider),
    }


def measure(session, clip: Path, mode: str, frames: int, warmup: int, runtime_cfg, out_dir: Path, weights_note):
    """Warm up, then time the same components three ways; returns the bench result dict.
    session: the swap_session.pipelines.SwapSession (model, config, --reference people) measured.

    1. sequential: engine.pipeline.runner.run_sequential, one thread, unpaced;
    2. pipelined: one thread per stage, unpaced, blocking queues (the throughput twin of 1);
    3. live mode only: the file paced at its own rate into the live policy (the headline run:
       stale frames dropped, glass-to-glass latency as a user would feel it).
    In convert mode run 2 is the headline run (it is exactly what `swapstream convert` does).
    """
    from swapstream.bench.report import machine_info
    from swapstream.engine.pipeline.metrics import PipelineStats
    from swapstream.engine.pipeline.runner import run_sequential
    from swapstream.engine.stages.capture import VideoFileSource

    model, cfg = session.model, session.cfg
    offline = mode == "convert"
    depth = cfg.offline.queue_depth if offline else cfg.live.queue_depth

    def stages():
        # Fresh stages per run: trackers start cold on frame 0 each time; the model is shared.
        return session.stages(offline)

    def stats():
        return PipelineStats(provider=model.provider)

    def sequential_run(n: int, name: str):
        s = stats()
        sink = _CaptureTimedSink(_sink(mode, out_dir, name, cfg), s)
        return run_sequential(VideoFileSource(clip, max_frames=n), stages(), sink, s)

    if warmup:
        print(f"bench: warm-up, {warmup} frames", file=sys.stderr)
        sequential_run(warmup, "warmup")
    print(f"bench: sequential loop, {frames} frames", file=sys.stderr)
    sequential = sequential_run(frames, "sequential")
    print(f"bench: pipelined, unpaced, {frames} frames", file=sys.stderr)
    sink = _sink(mode, out_dir, "pipelined", cfg)
    source = VideoFileSource(clip, max_frames=frames)
    pipe = session.pipeline(source, sink, live=False, stages=stages(), queue_depth=depth)
    pipelined = pipe.run()
    info = pipe.info
    headline = pipelined
    if not offline:
        print(f"bench: live, paced at {info.fps:.1f} fps, {frames} frames", file=sys.stderr)
        live = session.pipeline(
            VideoFileSource(clip, realtime=True, max_frames=frames), _sink(mode, out_dir, "live", cfg), live=True
        )
        headline = live.run()
    seq_fps, pipe_fps = sequential.snapshot().fps, pipelined.snapshot().fps
    return {
        "format": "swapstream-bench",
        "version": 1,
        "mode": mode,
        "source": {"path": str(clip), "width": info.width, "height": info.height, "fps": info.fps},
        "model": model_info(model, weights_note),
        "machine": machine_info(runtime_cfg, model),
        "warmup_frames": warmup,
        "run": _run_summary(headline),
        "throughput": {
            "sequential_fps": seq_fps,
            "pipelined_fps": pipe_fps,
            "speedup": pipe_fps / seq_fps if seq_fps > 0 else float("nan"),
            "sequential": _run_summary(sequential),
            "pipelined": _run_summary(pipelined),
        },
    }
