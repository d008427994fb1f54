"""Benchmark the engine loop on ../shared/media clips (run once, by hand; not a test).

Measures, for each clip at its own size and letterboxed to 1280x720 (and 1920x1080):
- offline: the threaded pipeline vs a sequential loop of the same parts (same run, same
  model, same encoder), end-to-end fps, per-stage ms p50/p95/p99, share of time outside inference;
- live: the same file paced at its frame rate through the live policy at 640x480: fps,
  glass-to-glass latency p50/p95/p99, dropped frames.

    PYTHONPATH=. .venv/bin/python benchmarks/pipeline.py [--model M.onnx] [--frames 90] [--json out.json]

Without --model a colour-inverting model in the contract (96 px) is used: inference then costs
~0, so the numbers are the engine's own overhead. Numba-vs-NumPy-vs-OpenCV kernel timings are in
benchmarks/kernels.py (engine/image).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))

from swapstream.engine.engine_config import load_engine_config  # noqa: E402
from swapstream.engine.pipeline.metrics import PipelineStats  # noqa: E402
from swapstream.engine.pipeline.runner import run_sequential  # noqa: E402
from swapstream.engine.runtime.providers import RuntimeConfig  # noqa: E402
from swapstream.engine.runtime.swap_model import load_swap_model  # noqa: E402
from swapstream.engine.stages.capture import VideoFileSource  # noqa: E402
from swapstream.engine.stages.sink_file import VideoFileSink  # noqa: E402
from swapstream.engine.stages.sink_live import NullSink  # noqa: E402

from swapstream.common.pipeline_contract import Source, SourceInfo  # noqa: E402
from swapstream.swap_session.pipelines import SwapSession  # noqa: E402

MEDIA = REPO.parent / "shared" / "media"


class LetterboxSource(Source):
    """A file source whose frames are scaled to fit (w, h) and padded with edge pixels."""

    def __init__(self, inner: VideoFileSource, size: tuple[int, int] | None):
        self.inner, self.size = inner, size

    def setup(self) -> SourceInfo:
        info = self.inner.setup()
        if self.size is None:
            return info
        w, h = self.size
        return SourceInfo(info.name, w, h, info.fps, info.frame_count, info.time_base, info.path, info.realtime)

    def frames(self, stop):
        for p in self.inner.frames(stop):
            if self.size is not None:
                t0 = time.perf_counter()
                p.frame = letterbox(p.frame, self.size)
                p.timings["capture"] += time.perf_counter() - t0
            yield p

    def close(self) -> None:
        self.inner.close()


def letterbox(frame: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    w, h = size
    fh, fw = frame.shape[:2]
    s = min(w / fw, h / fh)
    nw, nh = round(fw * s), round(fh * s)
    scaled = cv2.resize(frame, (nw, nh), interpolation=cv2.INTER_LINEAR)
    x, y = (w - nw) // 2, (h - nh) // 2
    return cv2.copyMakeBorder(scaled, y, h - nh - y, x, w - nw - x, cv2.BORDER_REPLICATE)


def summarize(stats: PipelineStats) -> dict:
    d = stats.as_dict()
    total_stage = {k: float(np.sum(stats.stage_samples(k))) for k in d["stage_ms"]}
    d["stage_total_s"] = total_stage
    return d


def offline(model, cfg, clip: Path, size, frames: int, tmp: Path) -> dict:
    out = {}
    for mode in ("pipelined", "sequential"):
        src = LetterboxSource(VideoFileSource(clip, max_frames=frames), size)
        sink = VideoFileSink(tmp / f"{mode}.mp4", cfg.output, audio_from=clip)
        session = SwapSession(cfg, model)
        stages = session.stages(offline=True)
        stats = PipelineStats(provider=model.provider)
        t0 = time.perf_counter()
        if mode == "pipelined":
            session.pipeline(src, sink, live=False, stages=stages, stats=stats).run()
        else:
            run_sequential(src, stages, sink, stats)
        d = summarize(stats)
        d["wall_s_incl_setup"] = time.perf_counter() - t0
        out[mode] = d
    seq = out["sequential"]
    busy = sum(seq["stage_total_s"].values())
    out["speedup"] = out["pipelined"]["fps"] / seq["fps"]
    out["non_inference_share"] = 1 - seq["stage_total_s"].get("infer", 0.0) / busy
    faces = max(seq["faces_swapped"], 1)
    out["color_blend_ms_per_face"] = 1000 * (seq["stage_total_s"]["color"] + seq["stage_total_s"]["blend"]) / faces
    return out


def live(model, cfg, clip: Path, size, frames: int) -> dict:
    src = LetterboxSource(VideoFileSource(clip, realtime=True, max_frames=frames), size)
    stats = PipelineStats(provider=model.provider)
    SwapSession(cfg, model).pipeline(src, NullSink(), live=True, stats=stats).run()
    return summarize(stats)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", type=Path, default=None)
    ap.add_argument("--clips", nargs="+", default=["d18.mp4"])
    ap.add_argument("--frames", type=int, default=90)
    ap.add_argument("--sizes", nargs="+", default=["native", "1280x720", "1920x1080"])
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()
    cfg = load_engine_config()
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        model_path = args.model
        if model_path is None:
            from test_pipeline_models import write_invert_model

            model_path = write_invert_model(tmp / "invert.onnx", 96)
        model = load_swap_model(model_path, RuntimeConfig(providers=("cpu",)))
        result = {
            "machine": {"cpu": platform.processor() or platform.machine(), "cores": os.cpu_count()},
            "model": {"path": str(model_path), **{k: getattr(model.contract, k) for k in ("resolution", "precision")}},
            "provider": model.provider,
            "runs": {},
        }
        for clip_name in args.clips:
            clip = MEDIA / clip_name
            for size_name in args.sizes:
                size = None if size_name == "native" else tuple(int(v) for v in size_name.split("x"))
                key = f"{clip_name}@{size_name}"
                result["runs"][key] = off = offline(model, cfg, clip, size, args.frames, tmp)
                print(
                    f"{key}: offline pipelined {off['pipelined']['fps']:.1f} fps, sequential "
                    f"{off['sequential']['fps']:.1f} fps (x{off['speedup']:.2f}); outside inference "
                    f"{100 * off['non_inference_share']:.0f}%; "
                    f"colour+blend {off['color_blend_ms_per_face']:.2f} ms/face",
                    flush=True,
                )
                for name, v in off["pipelined"]["stage_ms"].items():
                    print(f"    {name:8s} p50 {v['p50']:6.2f}  p95 {v['p95']:6.2f}  p99 {v['p99']:6.2f} ms")
            key = f"{clip_name}@live640x480"
            result["runs"][key] = lv = live(model, cfg, clip, (640, 480), args.frames)
            lat = lv["latency_ms"]
            print(
                f"{key}: {lv['fps']:.1f} fps, latency p50 {lat['p50']:.1f} p95 {lat['p95']:.1f} "
                f"p99 {lat['p99']:.1f} ms,"
                f" dropped {lv['dropped']} of {lv['frames'] + lv['dropped']}",
                flush=True,
            )
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
