"""Offline, at equal model FLOPs: the engine's convert pipeline against a plain sequential loop of
off-the-shelf parts (PyAV decode -> MediaPipe FaceMesh -> warp -> ONNX Runtime -> warp back ->
cv2.seamlessClone -> PyAV x264), the same model file in both, rounds interleaved in one process.

    python benchmarks/offline_equal_flops.py [--preset benchmarks/presets/equal_flops_df128.yaml]
        [--precisions fp32 int8] [--threads 0] [--clip ../shared/media/d18.mp4] [--size WxH]
        [--frames 90] [--rounds 3] [--json OUT]

The model is the preset's architecture (default: issue 29's recipe, DF 128 px, e32/ae256/d32/
mask16) with random weights, exported once per precision as `swapstream bench` does (speed only:
weights do not change the work). The engine side is what `swapstream convert` runs: SwapSession's
offline pipeline (threaded stages, frames kept in order) into the file sink, configs/engine.yaml
defaults. The loop is what one writes from the libraries' own examples: one frame at a time,
FaceMesh in video mode, cv2.warpAffine to the model's crop, the model through ONNX Runtime
(default threads), the face and its mask warped back over the whole frame, cv2.seamlessClone
(NORMAL_CLONE) at the mask's centre, libx264 at the engine's crf and preset. After an untimed
warm-up of both sides, each round runs, per precision, the engine then the loop (order alternated
between rounds); fps = frames written / wall seconds, model load and warm-up excluded, the
pipeline's own start (stage threads, detectors) included as `swapstream convert` pays it.
Report: per precision the median over rounds of each side's fps and of the per-round ratio.
--threads runs the engine side once per intra-op thread count (0: the session default of
engine.runtime.providers for an offline conversion, as `swapstream convert` gets it) in every round;
the loop keeps the default.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np
from swapstream.engine.engine_config import load_engine_config
from swapstream.engine.face.align import alignment_matrix
from swapstream.engine.face.landmarks import FaceMesh
from swapstream.engine.pipeline.metrics import PipelineStats
from swapstream.engine.runtime.providers import RuntimeConfig
from swapstream.engine.runtime.swap_model import load_swap_model
from swapstream.engine.stages.capture import VideoFileSource
from swapstream.engine.stages.sink_file import VideoFileSink

from swapstream.bench.inputs import cache_root, default_model, resized_clip
from swapstream.bench.report import cpu_name
from swapstream.swap_session.pipelines import SwapSession

REPO = Path(__file__).resolve().parents[1]
DEFAULT_CLIP = REPO.parent / "shared" / "media" / "d18.mp4"
WARMUP_FRAMES = 6


def engine_run(session: SwapSession, clip: Path, frames: int, out: Path) -> tuple[int, int, float]:
    """(frames written, faces swapped, wall seconds) of the engine's offline pipeline over the clip's
    first frames."""
    cfg = session.cfg
    source = VideoFileSource(clip, max_frames=frames)
    sink = VideoFileSink(out, cfg.output, audio_from=clip)
    stats = PipelineStats(provider=session.model.provider)
    started = time.perf_counter()
    session.pipeline(source, sink, live=False, stats=stats).run()
    elapsed = time.perf_counter() - started
    stages = " ".join(f"{k} {v['p50']:.1f}" for k, v in stats.as_dict()["stage_ms"].items())
    print(f"    engine stage p50 ms: {stages}", file=sys.stderr)
    return stats.snapshot().frames, stats.as_dict()["faces_swapped"], elapsed


def swap_one(frame: np.ndarray, landmarks: np.ndarray, model, face_type: str) -> np.ndarray:
    """The loop's per-face work on a BGR uint8 frame: warp, infer, warp back, seamlessClone."""
    h, w = frame.shape[:2]
    size = model.resolution
    m = alignment_matrix(landmarks, face_type, size)
    crop = cv2.warpAffine(frame, m, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    face, mask = model.swap(crop[None])
    out_size = model.output_resolution
    back = cv2.invertAffineTransform(m * (out_size / size))
    face_full = cv2.warpAffine(face[0], back, (w, h), flags=cv2.INTER_LINEAR)
    mask_full = cv2.warpAffine((mask[0].squeeze() * 255).astype(np.uint8), back, (w, h), flags=cv2.INTER_LINEAR)
    _, mask_full = cv2.threshold(mask_full, 127, 255, cv2.THRESH_BINARY)
    mask_full[[0, -1], :] = 0  # seamlessClone needs the mask inside the frame's border
    mask_full[:, [0, -1]] = 0
    x, y, bw, bh = cv2.boundingRect(mask_full)
    if bw < 4 or bh < 4:
        return frame
    return cv2.seamlessClone(face_full, frame, mask_full, (x + bw // 2, y + bh // 2), cv2.NORMAL_CLONE)


def loop_run(
    model, face_type: str, clip: Path, frames: int, out: Path, crf: int, preset: str
) -> tuple[int, int, float]:
    """(frames written, faces swapped, wall seconds) of the sequential off-the-shelf loop."""
    mesh = FaceMesh(static=False)
    written = swapped = 0
    started = time.perf_counter()
    with av.open(str(clip)) as src, av.open(str(out), "w") as dst:
        stream_in = src.streams.video[0]
        rate = Fraction(stream_in.average_rate or 30).limit_denominator(1001)
        enc = dst.add_stream("libx264", rate=rate, options={"crf": str(crf), "preset": preset})
        enc.width, enc.height, enc.pix_fmt = stream_in.codec_context.width, stream_in.codec_context.height, "yuv420p"
        for frame in src.decode(stream_in):
            if written >= frames:
                break
            img = np.ascontiguousarray(frame.to_ndarray(format="bgr24"))
            for face in mesh.process(img)[:1]:
                img = swap_one(img, face.landmarks, model, face_type)
                swapped += 1
            dst.mux(enc.encode(av.VideoFrame.from_ndarray(img, format="bgr24")))
            written += 1
        dst.mux(enc.encode(None))
    mesh.close()
    return written, swapped, time.perf_counter() - started


def run_rounds(args, cfg, sides: dict, tmp: Path) -> dict[str, dict[str, list[float]]]:
    """{precision: {side name: fps per round}}; sides: {precision: {side name: (SwapSession | None, model)}}."""
    runs = {precision: {name: [] for name in by} for precision, by in sides.items()}
    for r in range(args.rounds):
        for precision, by in sides.items():
            names = list(by) if r % 2 == 0 else list(by)[::-1]
            for name in names:
                session, model = by[name]
                out = tmp / f"{name.replace(' ', '_')}_{precision}_{r}.mp4"
                if session is not None:
                    n, faces, secs = engine_run(session, args.clip, args.frames, out)
                else:
                    enc = cfg.output
                    n, faces, secs = loop_run(
                        model, model.contract.face_type, args.clip, args.frames, out, enc.crf, enc.preset
                    )
                runs[precision][name].append(n / secs)
                print(
                    f"r{r} {precision} {name:10s} {n} frames {faces} faces {n / secs:6.2f} fps",
                    file=sys.stderr,
                    flush=True,
                )
    return runs


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--preset", default=str(REPO / "benchmarks" / "presets" / "equal_flops_df128.yaml"))
    p.add_argument("--precisions", nargs="+", default=["fp32", "int8"])
    p.add_argument("--threads", nargs="+", type=int, default=[0], help="the engine's intra-op threads to compare")
    p.add_argument("--clip", type=Path, default=DEFAULT_CLIP)
    p.add_argument("--size", default=None, help="WxH: letterbox the clip to this frame size first (cached)")
    p.add_argument("--frames", type=int, default=90)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--json", type=Path, default=None)
    args = p.parse_args()
    cache = cache_root(None)
    cache.mkdir(parents=True, exist_ok=True)
    if args.size:
        size = tuple(int(v) for v in args.size.lower().split("x"))
        args.clip = resized_clip(args.clip, size, args.frames + WARMUP_FRAMES, cache)
    cfg = load_engine_config(None)
    sides = {}
    for precision in args.precisions:
        path = default_model(args.preset, precision, cache)[0]
        by = {}
        for threads in args.threads:
            model = load_swap_model(path, RuntimeConfig(providers=("cpu",), intra_op_threads=threads, offline=True))
            by[f"engine t{threads}"] = (SwapSession(cfg, model), model)
        by["loop"] = (None, load_swap_model(path, RuntimeConfig(providers=("cpu",))))
        sides[precision] = by
    print(f"CPU: {cpu_name()}; clip {args.clip.name}, {args.frames} frames", file=sys.stderr)
    with tempfile.TemporaryDirectory() as tmp:
        for precision, by in sides.items():  # untimed: JIT compiles, model and library loads
            for session, _ in by.values():
                if session is not None:
                    engine_run(session, args.clip, WARMUP_FRAMES, Path(tmp) / f"warm_{precision}.mp4")
            loop_model = by["loop"][1]
            warm = Path(tmp) / "warm_loop.mp4"
            loop_run(loop_model, loop_model.contract.face_type, args.clip, WARMUP_FRAMES, warm, 18, "veryfast")
        runs = run_rounds(args, cfg, sides, Path(tmp))
    summary = {}
    print("| precision | side | fps (median) | loop fps (median) | side / loop (median of rounds) | rounds |")
    print("|---|---|---|---|---|---|")
    for precision, by in runs.items():
        loop = by["loop"]
        for name, fps in by.items():
            if name == "loop":
                continue
            ratios = [e / s for e, s in zip(fps, loop)]
            summary[f"{precision} {name}"] = {"fps": fps, "loop_fps": loop, "ratios": ratios}
            rounds = ", ".join(f"{x:.2f}x" for x in ratios)
            print(
                f"| {precision} | {name} | {statistics.median(fps):.2f} | {statistics.median(loop):.2f} | "
                f"{statistics.median(ratios):.2f}x | {rounds} |"
            )
    if args.json:
        args.json.write_text(json.dumps({"cpu": cpu_name(), "clip": str(args.clip), "runs": summary}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
