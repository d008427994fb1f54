"""The engine check of scripts/gpu-check.sh (issue 30): the same clip through the CPU frame path
and the GPU frame path (engine/gpu), on the GPU machine, in one run.

The GPU machine has no MediaPipe and no PyAV, and a call carries at most 64 MiB, so the clip is
prepared here into a pack (an ignored folder, e.g. out/gpu-pack, carried along):
    python benchmarks/gpu_engine_check.py prepare ../shared/media/d18.mp4 out/gpu-pack [--frames 90]
        [--model runs/x/live.onnx]
writes pack.npz (the frames as 1920x1080 JPEG bytes, no pickle; the engine's own landmarks of the
largest face per frame, from its FaceFinder) and the model: the given one, or the `live` preset
with random weights exported to fp32 and fp16 (speed and agreement do not depend on training).
On the GPU machine:
    scripts/gpu-check.sh --engine-only --engine-pack out/gpu-pack --json $OUT/gpu-check.json
runs, at 1280x720 and 1920x1080: offline convert fps and per-stage host and device ms of the CPU
path, of the GPU path, and of ONNX Runtime on CUDA without IO binding (the CPU path with a CUDA
session: the peers' way; only where onnxruntime-gpu is installed); live p50/p99 glass-to-glass
from a 60 fps source; pixel agreement of the GPU path with the CPU path (share of face pixels
within 2 levels). Detection is replaced by the pack's landmarks (the check times what follows it).
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
import threading
import time
from pathlib import Path

import cv2
import numpy as np

from swapstream.common.pipeline_contract import DEVICE_TIMING, FaceSlot, FramePacket, Sink, Source, SourceInfo, Stage

PACK_FORMAT = "swapstream-gpu-engine-pack-1"
SIZES = {"1280x720": (1280, 720), "1920x1080": (1920, 1080)}
LIVE_FPS = 60.0
AGREE_LEVELS = 2
JPEG_QUALITY = 95


def _fit_1080p(frame: np.ndarray) -> np.ndarray:
    """The frame scaled to 1080 px tall and centre-cropped (or padded) to 1920 px wide."""
    h, w = frame.shape[:2]
    scaled = cv2.resize(frame, (round(w * 1080 / h), 1080), interpolation=cv2.INTER_AREA)
    out = np.zeros((1080, 1920, 3), np.uint8)
    sw = scaled.shape[1]
    if sw >= 1920:
        out[:] = scaled[:, (sw - 1920) // 2 : (sw - 1920) // 2 + 1920]
    else:
        out[:, (1920 - sw) // 2 : (1920 - sw) // 2 + sw] = scaled
    return out


def prepare_pack(clip: Path, out: Path, frames: int, model: Path | None, precisions=("fp32", "fp16")) -> dict:
    """Write out/pack.npz and out/model*.onnx (see the module doc); runs where MediaPipe is."""
    from swapstream.engine.face.tracking import FaceFinder, FinderConfig

    out.mkdir(parents=True, exist_ok=True)
    cap = cv2.VideoCapture(str(clip))
    fps = cap.get(cv2.CAP_PROP_FPS) or 30.0
    finder = FaceFinder(FinderConfig(max_faces=1))
    jpegs, landmarks, found = [], [], []
    try:
        while len(jpegs) < frames:
            ok, frame = cap.read()
            if not ok:
                break
            frame = _fit_1080p(frame)
            faces = finder.process(frame, len(jpegs) / fps)
            largest = max(faces, key=lambda f: np.ptp(f.landmarks[:, 1]), default=None)
            landmarks.append(largest.landmarks if largest is not None else np.zeros((478, 3), np.float32))
            found.append(largest is not None)
            jpegs.append(cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])[1].reshape(-1))
    finally:
        finder.close()
        cap.release()
    if not jpegs:
        raise SystemExit(f"{clip}: no frames read")
    offsets = np.cumsum([0] + [len(j) for j in jpegs]).astype(np.int64)
    np.savez(
        out / "pack.npz",
        format=np.array(PACK_FORMAT),
        jpeg=np.concatenate(jpegs),
        offsets=offsets,
        landmarks=np.stack(landmarks).astype(np.float32),
        found=np.array(found),
        fps=np.array(fps),
    )
    models = _pack_models(out, model, precisions)
    return {"frames": len(jpegs), "with_face": int(np.sum(found)), "models": models, "bytes": int(offsets[-1])}


def _pack_models(out: Path, model: Path | None, precisions) -> list[str]:
    if model is not None:
        (out / "model.onnx").write_bytes(model.read_bytes())
        return ["model.onnx"]
    from swapstream.export.exporter import ExportOptions, RandomWeights, export_model

    names = []
    for precision in precisions:
        name = "model.onnx" if precision == "fp32" else "model_fp16.onnx"
        export_model(RandomWeights("live"), out / name, ExportOptions(precision=precision, verify=False))
        names.append(name)
    return names


def load_pack(pack: Path) -> tuple[list[np.ndarray], np.ndarray, np.ndarray]:
    """(1080p BGR frames, landmarks float32 (N, 478, 3) in 1080p pixels, found bool (N,))."""
    with np.load(pack / "pack.npz", allow_pickle=False) as data:
        if str(data["format"]) != PACK_FORMAT:
            raise SystemExit(f"{pack}: not a {PACK_FORMAT} pack")
        jpeg, offsets = data["jpeg"], data["offsets"]
        frames = [cv2.imdecode(jpeg[a:b], cv2.IMREAD_COLOR) for a, b in itertools.pairwise(offsets)]
        return frames, data["landmarks"], data["found"]


class PackSource(Source):
    """The pack's frames at one size; period_s > 0 paces them like a camera (live)."""

    def __init__(self, frames: list[np.ndarray], period_s: float = 0.0):
        self.frames_, self.period_s = frames, period_s

    def setup(self) -> SourceInfo:
        h, w = self.frames_[0].shape[:2]
        return SourceInfo("pack", w, h, LIVE_FPS, len(self.frames_), realtime=self.period_s > 0)

    def frames(self, stop: threading.Event):
        start = time.perf_counter()
        for i, frame in enumerate(self.frames_):
            if self.period_s and stop.wait(max(0.0, start + i * self.period_s - time.perf_counter())):
                return
            yield FramePacket(i, time.perf_counter(), frame.copy())


class PackedFaces(Stage):
    """Stands in for the detect stage: the pack's landmarks (tracked as one face, track 0)."""

    name = "detect"

    def __init__(self, landmarks: np.ndarray, found: np.ndarray, scale: float):
        self.landmarks, self.found, self.scale = landmarks, found, scale

    def process(self, packet: FramePacket) -> FramePacket:
        i = packet.seq % len(self.found)
        if self.found[i]:
            lm = self.landmarks[i].copy()
            lm[:, :2] *= np.float32(self.scale)
            packet.faces = [FaceSlot(lm, track=0)]
        return packet


class KeepSink(Sink):
    def __init__(self, keep: bool):
        self.keep, self.frames = keep, []

    def write(self, packet: FramePacket) -> None:
        if self.keep:
            self.frames.append(packet.frame)


def run_path(model_path: Path, frames, landmarks, found, scale: float, device: str, providers, live: bool) -> dict:
    """One run of the engine's pipeline: fps, per-stage ms (host, and device on the GPU path),
    live glass-to-glass p50/p99, the provider that ran, and (offline) the output frames."""
    from swapstream.engine.engine_config import EngineConfig
    from swapstream.engine.runtime.providers import RuntimeConfig
    from swapstream.engine.runtime.swap_model import load_swap_model

    from swapstream.swap_session.pipelines import SwapSession

    model = load_swap_model(model_path, RuntimeConfig(providers=providers, frame_device=device, cuda_graph=False))
    session = SwapSession(EngineConfig(), model)  # configs/engine.yaml's values (the GPU machine may lack PyYAML)
    stages = [PackedFaces(landmarks, found, scale), *session.stages(offline=not live)[1:]]
    sink = KeepSink(keep=not live)
    source = PackSource(frames, 1.0 / LIVE_FPS if live else 0.0)
    stats = session.pipeline(source, sink, live=live, stages=stages).run()
    snap = stats.snapshot()  # fps from the first frame in to the last out: setup and warm-up not counted
    latency = np.array(stats.latency_samples()) * 1000
    on_device = any(DEVICE_TIMING in name for name in snap.stage_ms)
    return {
        "frame_path": "gpu" if on_device else "cpu",
        "inference": model.provider,
        "fps": snap.fps,
        "frames": stats.frames,
        "dropped": stats.dropped,
        "stage_ms_p50": {k: round(v["p50"], 3) for k, v in snap.stage_ms.items()},
        "latency_ms_p50": float(np.percentile(latency, 50)) if latency.size else None,
        "latency_ms_p99": float(np.percentile(latency, 99)) if latency.size else None,
        "outputs": sink.frames,
    }


def agreement(a: list[np.ndarray], b: list[np.ndarray], sources: list[np.ndarray]) -> dict:
    """Share of face pixels (those either path changed) within AGREE_LEVELS levels, and the worst."""
    within = total = worst = 0
    for x, y, s in zip(a, b, sources, strict=True):
        face = (x != s).any(axis=2) | (y != s).any(axis=2)
        diff = np.abs(x.astype(np.int16) - y.astype(np.int16)).max(axis=2)[face]
        within += int((diff <= AGREE_LEVELS).sum())
        total += int(face.sum())
        worst = max(worst, int(diff.max()) if diff.size else 0)
    return {"face_pixels": total, f"within_{AGREE_LEVELS}_levels": within / max(total, 1), "max_levels": worst}


def _has_ort_cuda() -> bool:
    import onnxruntime as ort

    return "CUDAExecutionProvider" in ort.get_available_providers()


def _without_outputs(run: dict) -> dict:
    return {k: v for k, v in run.items() if k != "outputs"}


def engine_check(pack: Path, live_seconds: float = 5.0) -> dict:
    """Every measurement of the module doc on the pack, at each size; results as plain JSON."""
    frames_1080, landmarks, found = load_pack(pack)
    fp32 = pack / "model.onnx"
    model = pack / "model_fp16.onnx" if (pack / "model_fp16.onnx").is_file() else fp32  # the FP16 export on CUDA
    ort_cuda = _has_ort_cuda()
    gpu_providers = ("cuda", "cpu") if ort_cuda else ("cpu",)
    results: dict = {"frames": len(frames_1080), "onnxruntime_cuda": ort_cuda}
    live_frames = int(live_seconds * LIVE_FPS)
    for name, (w, h) in SIZES.items():
        frames = (
            frames_1080 if h == 1080 else [cv2.resize(f, (w, h), interpolation=cv2.INTER_AREA) for f in frames_1080]
        )
        scale = h / 1080
        args = (frames, landmarks, found, scale)
        cpu = run_path(fp32, *args, "cpu", ("cpu",), live=False)
        gpu = run_path(model if ort_cuda else fp32, *args, "cuda", gpu_providers, live=False)
        row = {"cpu": _without_outputs(cpu), "gpu": _without_outputs(gpu)}
        row["agreement"] = agreement(gpu["outputs"], cpu["outputs"], frames)
        if ort_cuda:  # the peers' way: a CUDA session, the frame on the host, no IO binding
            row["ort_cuda_no_io_binding"] = _without_outputs(run_path(model, *args, "cpu", ("cuda", "cpu"), live=False))
        looped = (frames * (live_frames // len(frames) + 1))[:live_frames]
        live_args = (looped, landmarks, found, scale)
        row["live_cpu"] = _without_outputs(run_path(fp32, *live_args, "cpu", ("cpu",), live=True))
        row["live_gpu"] = _without_outputs(
            run_path(model if ort_cuda else fp32, *live_args, "cuda", gpu_providers, live=True)
        )
        row["speedup_offline"] = gpu["fps"] / cpu["fps"]
        results[name] = row
    return results


def summary_lines(results: dict) -> list[str]:
    """One line per size and path: fps, live p50/p99, agreement."""
    lines = [f"engine check on {results['frames']} frames; onnxruntime CUDA provider: {results['onnxruntime_cuda']}"]
    for name in SIZES:
        row = results.get(name)
        if not row:
            continue
        for path in ("cpu", "gpu", "ort_cuda_no_io_binding"):
            if path in row:
                r = row[path]
                lines.append(
                    f"{name} {path}: {r['fps']:.1f} fps offline "
                    f"({r['frame_path']} frame path, inference on {r['inference']})"
                )
        for path in ("live_cpu", "live_gpu"):
            r = row[path]
            lines.append(
                f"{name} {path}: p50 {r['latency_ms_p50']:.1f} ms, p99 {r['latency_ms_p99']:.1f} ms, "
                f"{r['fps']:.1f} fps out, {r['dropped']} dropped"
            )
        a = row["agreement"]
        lines.append(
            f"{name} agreement: {100 * a[f'within_{AGREE_LEVELS}_levels']:.3f}% of face pixels within "
            f"{AGREE_LEVELS} levels (worst {a['max_levels']})"
        )
        device = {k: v for k, v in row["gpu"]["stage_ms_p50"].items() if DEVICE_TIMING in k}
        lines.append(f"{name} gpu device ms per stage (p50): {json.dumps(device)}")
    return lines


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="command", required=True)
    prep = sub.add_parser("prepare", help="make a pack here (needs MediaPipe)")
    prep.add_argument("clip", type=Path)
    prep.add_argument("out", type=Path)
    prep.add_argument("--frames", type=int, default=90)
    prep.add_argument(
        "--model", type=Path, default=None, help="an exported swap model (default: `live`, random weights)"
    )
    run = sub.add_parser("run", help="run the check on a pack (the GPU machine)")
    run.add_argument("pack", type=Path)
    run.add_argument("--json", type=Path)
    run.add_argument("--live-seconds", type=float, default=5.0)
    args = p.parse_args(argv)
    if args.command == "prepare":
        info = prepare_pack(args.clip, args.out, args.frames, args.model, tuple(args.precisions))
        print(json.dumps(info, indent=1))
        return 0
    results = engine_check(args.pack, args.live_seconds)
    print("\n".join(summary_lines(results)))
    if args.json:
        args.json.write_text(json.dumps(results, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
