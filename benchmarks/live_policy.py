"""Live policy side by side: every link newest-only (the older design) against frames in flight
bounded at the first stage (engine.pipeline.runner, max_in_flight), interleaved in one run.

    python benchmarks/live_policy.py [-m MODEL.onnx] [--clip CLIP] [--sizes 1280x720 1920x1080]
        [--fps 30 60] [--frames 300] [--rounds 2] [--threads 0] [--in-flight 0 2] [--json OUT]

For each frame size and source rate the clip is letterboxed and re-timed (every frame kept, its
presentation times set to the rate, cached under /tmp) and played in real time into the live
pipeline with a null sink, once per policy per round. Reported per run: frames delivered per
second of the source, glass-to-glass p50/p99, where frames were dropped, and the blend, infer
and detect stages' p50. --threads compares inference intra-op thread counts (0: ONNX Runtime's
default) the same way, each policy run once per count per round (the order reversed every other
round). Without -m the `live` preset's untrained INT8 export (speed only) is used, as `swapstream
bench` does; without --clip the bench's rendered 640x480 driving clip.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from fractions import Fraction
from pathlib import Path

from swapstream.engine.engine_config import load_engine_config
from swapstream.engine.pipeline.metrics import PipelineStats
from swapstream.engine.pipeline.runner import LIVE_IN_FLIGHT
from swapstream.engine.runtime.providers import RuntimeConfig
from swapstream.engine.runtime.swap_model import load_swap_model
from swapstream.engine.stages.capture import VideoFileSource

from swapstream.bench.inputs import cache_root, default_clip, default_model
from swapstream.bench.report import cpu_name
from swapstream.swap_session.pipelines import SwapSession


def policy_name(in_flight: int) -> str:
    return "newest-only links" if in_flight == 0 else f"{in_flight} in flight"


class NullSink:
    name = "sink"

    def setup(self, info) -> None:
        pass

    def write(self, packet) -> None:
        pass

    def close(self, complete: bool) -> None:
        pass


def retimed_clip(clip: Path, size: tuple[int, int], fps: int, frames: int, out: Path) -> Path:
    """The clip's frames letterboxed to size=(W, H) at `fps` (frames repeated to reach `frames`)."""
    import av
    import cv2
    import numpy as np

    path = out / f"{clip.stem}_{size[0]}x{size[1]}_{fps}fps_{frames}.mp4"
    if path.is_file():
        return path
    with av.open(str(clip)) as src:
        images = [f.to_ndarray(format="bgr24") for f in src.decode(video=0)]
    w, h = size
    tmp = path.with_suffix(".tmp.mp4")
    with av.open(str(tmp), "w") as dst:
        stream = dst.add_stream("libx264", rate=fps, options={"crf": "18", "preset": "veryfast"})
        stream.width, stream.height, stream.pix_fmt = w, h, "yuv420p"
        stream.time_base = Fraction(1, fps)
        for i in range(frames):
            img = images[i % len(images)]
            scale = min(w / img.shape[1], h / img.shape[0])
            small = cv2.resize(img, (round(img.shape[1] * scale), round(img.shape[0] * scale)))
            canvas = np.zeros((h, w, 3), np.uint8)
            y, x = (h - small.shape[0]) // 2, (w - small.shape[1]) // 2
            canvas[y : y + small.shape[0], x : x + small.shape[1]] = small
            frame = av.VideoFrame.from_ndarray(canvas, format="bgr24")
            frame.pts = i
            dst.mux(stream.encode(frame))
        dst.mux(stream.encode(None))
    tmp.rename(path)
    return path


def run_once(session: SwapSession, clip: Path, frames: int, in_flight: int) -> dict:
    stats = PipelineStats(provider=session.model.provider)
    source = VideoFileSource(clip, realtime=True, max_frames=frames)
    session.pipeline(source, NullSink(), live=True, max_in_flight=in_flight, stats=stats).run()
    s = stats.snapshot()
    return {
        "delivered": s.frames,
        "source_frames": s.frames + s.dropped,
        "delivered_fps": s.frames / s.elapsed_s,
        "p50_ms": s.latency_ms["p50"],
        "p99_ms": s.latency_ms["p99"],
        "drops_by_stage": s.drops_by_stage,
        "blend_p50_ms": s.stage_ms.get("blend", {}).get("p50", float("nan")),
        "infer_p50_ms": s.stage_ms.get("infer", {}).get("p50", float("nan")),
        "detect_p50_ms": s.stage_ms.get("detect", {}).get("p50", float("nan")),
    }


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("-m", "--model", type=Path, default=None)
    p.add_argument("--clip", type=Path, default=None)
    p.add_argument("--sizes", nargs="+", default=["1280x720", "1920x1080"])
    p.add_argument("--fps", nargs="+", type=int, default=[30, 60])
    p.add_argument("--frames", type=int, default=300)
    p.add_argument("--rounds", type=int, default=2)
    help_in_flight = f"max_in_flight values to compare (0: every link newest-only; default 0 {LIVE_IN_FLIGHT})"
    p.add_argument("--in-flight", type=int, nargs="+", default=[0, LIVE_IN_FLIGHT], help=help_in_flight)
    p.add_argument("--threads", type=int, nargs="+", default=[0], help="inference intra-op threads to compare")
    p.add_argument("--json", type=Path, default=None)
    args = p.parse_args()
    cache = cache_root(None)
    cache.mkdir(parents=True, exist_ok=True)
    model_path = args.model or default_model("live", "int8", cache)[0]
    clip = args.clip or default_clip(cache, args.frames)
    cfg = load_engine_config(None)
    sessions = {
        t: SwapSession(cfg, load_swap_model(model_path, RuntimeConfig(intra_op_threads=t))) for t in args.threads
    }
    work = Path(tempfile.gettempdir()) / "swapstream-live-policy"
    work.mkdir(exist_ok=True)
    rows = []
    print(f"CPU: {cpu_name()}; model {model_path.name}; clip {clip.name}", file=sys.stderr)
    for size_text in args.sizes:
        size = tuple(int(v) for v in size_text.split("x"))
        for fps in args.fps:
            timed = retimed_clip(clip, size, fps, args.frames, work)
            runs = [(t, f) for t in args.threads for f in args.in_flight]
            for r in range(args.rounds):
                for threads, in_flight in runs if r % 2 == 0 else runs[::-1]:
                    name = policy_name(in_flight)
                    row = {"size": size_text, "source_fps": fps, "round": r, "policy": name, "threads": threads}
                    row.update(run_once(sessions[threads], timed, args.frames, in_flight))
                    rows.append(row)
                    print(
                        f"{size_text} {fps} fps r{r} {name:18s} threads {threads} "
                        f"delivered {row['delivered_fps']:5.1f} fps "
                        f"p50 {row['p50_ms']:6.1f} p99 {row['p99_ms']:6.1f} ms drops {row['drops_by_stage']} "
                        f"blend {row['blend_p50_ms']:.1f} infer {row['infer_p50_ms']:.1f} "
                        f"detect {row['detect_p50_ms']:.1f}",
                        flush=True,
                    )
    if args.json:
        args.json.write_text(json.dumps({"cpu": cpu_name(), "rows": rows}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
