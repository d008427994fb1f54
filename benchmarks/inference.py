"""Inference speed and quality of exported models: fp32 vs int8 (and fp16), batch 1 and 8, per preset.

Usage: python benchmarks/inference.py [--presets live balanced quality PATH.yaml] [--train-steps 150] [--repeat 20]

For each preset the model is built from configs/presets/<name>.yaml (or a YAML path). Presets
whose name contains `live` are first trained for --train-steps steps on real aligned faces
(A = ../shared/media/d6.mp4, B = d3.mp4; falls back to the public-domain photos; targets at the
output resolution) so that their SSIM figures mean something;
the larger presets keep their random initialisation, which is fine for speed (weights do not
change the work) but makes their SSIM figures not meaningful (marked so). Each model is exported
exactly as `swapstream export` does (uint8 NHWC graph), quantized with every INT8 candidate
(calibration on A's faces, evaluation on other A faces) and run through engine.runtime on the
CPU provider. Also measured: the uint8-in-graph interface vs float NCHW I/O with host-side
conversion, for the live preset. Times: median wall-clock ms per batch / per face.
--models A.onnx B.onnx ... times exported models instead, through engine.runtime, interleaved.
"""

from __future__ import annotations

import argparse
import copy
import os
import platform
import time
from pathlib import Path

import numpy as np
import torch
from swapstream.engine.runtime.providers import RuntimeConfig, create_session
from swapstream.export.graph import SwapGraph, export_graph
from swapstream.export.quantize import CANDIDATES, quantize_int8
from swapstream.export.sample_faces import public_domain_faces
from swapstream.export.verify import run_onnx, ssim_per_face
from swapstream.trainer.config import load_preset
from swapstream.trainer.model import build_model

from swapstream.bench.report import time_ms

MEDIA = Path(__file__).resolve().parents[2] / "shared" / "media"


def media_faces(video: Path, face_type: str, size: int, count: int, every: int = 3) -> np.ndarray:
    """uint8 (n, size, size, 3) BGR aligned faces from every `every`-th frame of a video."""
    import av
    from swapstream.engine.face.align import alignment_matrix, warp_face
    from swapstream.engine.face.tracking import FaceFinder, FinderConfig

    tracker = FaceFinder(FinderConfig(max_faces=1, smooth=False))
    crops = []
    with av.open(str(video)) as container:
        for i, frame in enumerate(container.decode(video=0)):
            if len(crops) >= count:
                break
            img = np.ascontiguousarray(frame.to_ndarray(format="bgr24"))
            faces = tracker.process(img, i / 30.0)
            if faces and i % every == 0:
                crops.append(warp_face(img, alignment_matrix(faces[0].landmarks, face_type, size), size))
    return np.stack(crops)


def real_faces(face_type: str, size: int) -> tuple[np.ndarray, np.ndarray, str]:
    """(faces of A, faces of B, where from)."""
    if (MEDIA / "d6.mp4").is_file() and (MEDIA / "d3.mp4").is_file():
        a = media_faces(MEDIA / "d6.mp4", face_type, size, 96)
        b = media_faces(MEDIA / "d3.mp4", face_type, size, 96)
        return a, b, "../shared/media d6.mp4 (A), d3.mp4 (B)"
    faces = public_domain_faces(face_type, size, 32)
    return faces[0::2], faces[1::2], "public-domain photos (astronaut A, Grace Hopper B)"


def train(model: torch.nn.Module, a: np.ndarray, b: np.ndarray, steps: int, batch: int = 16) -> float:
    """Reconstruction training (MSE of faces, mask toward 1 inside the crop centre); returns last loss.

    a, b: faces at the model's output resolution; the inputs are the same faces resized to its input.
    """

    def tensor(faces: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(faces).permute(0, 3, 1, 2).float() / 255.0

    ta, tb = tensor(a), tensor(b)  # targets
    xa, xb = tensor(resized(a, model.input_resolution)), tensor(resized(b, model.input_resolution))
    r = ta.shape[-1]
    target_mask = torch.zeros(1, 1, r, r)
    target_mask[..., r // 6 : -r // 8, r // 6 : -r // 6] = 1.0
    opt = torch.optim.Adam(model.parameters(), lr=5e-4, betas=(0.5, 0.999))
    rng = np.random.default_rng(0)
    loss = torch.zeros(())
    model.train()
    for _ in range(steps):
        ia, ib = rng.choice(len(xa), batch), rng.choice(len(xb), batch)
        fa, ma, fb, mb = model(xa[ia], xb[ib])
        loss = (
            (fa - ta[ia]).square().mean()
            + (fb - tb[ib]).square().mean()
            + 0.1 * ((ma - target_mask).square().mean() + (mb - target_mask).square().mean())
        )
        opt.zero_grad()
        loss.backward()
        opt.step()
    model.eval()
    return float(loss.detach())


def resized(faces: np.ndarray, size: int) -> np.ndarray:
    """uint8 (N, size, size, 3): faces resized with INTER_AREA (the engine's and trainer's model inputs)."""
    import cv2

    if faces.shape[1] == size:
        return faces
    return np.stack([cv2.resize(f, (size, size), interpolation=cv2.INTER_AREA) for f in faces])


def time_session(session, faces: np.ndarray, batch: int, repeat: int) -> float:
    """Median ms per batch of `batch` faces."""
    x = np.ascontiguousarray(np.resize(faces, (batch, *faces.shape[1:])))
    name = session.get_inputs()[0].name
    return time_ms(lambda: session.run(None, {name: x}), repeat, warmup=3)


def io_comparison(swap, r: int, faces: np.ndarray, cfg: RuntimeConfig, repeat: int) -> list[str]:
    """uint8 NHWC graph vs float NCHW graph + host-side conversion, batch 1, ms per face."""
    u8, _ = create_session(export_graph(SwapGraph(swap, "uint8"), r), cfg)
    fl, _ = create_session(export_graph(SwapGraph(swap, "float"), r), cfg)
    x = faces[:1]

    def host_float_path() -> None:
        inp = np.ascontiguousarray(x.transpose(0, 3, 1, 2), np.float32) * np.float32(1 / 255)
        face, mask = fl.run(None, {"face": inp})
        (face.transpose(0, 2, 3, 1) * 255 + 0.5).astype(np.uint8)
        mask[:, 0].copy()

    def u8_path() -> None:
        _face, mask = u8.run(None, {"face": x})
        mask[..., 0].astype(np.float32) * np.float32(1 / 255)

    out = []
    for name, fn in (("uint8 NHWC in graph", u8_path), ("float NCHW + host conversion", host_float_path)):
        ms = time_ms(fn, repeat, warmup=3)
        out.append(f"  I/O {name:30s} {ms:7.2f} ms per face (batch 1, incl. host conversion)")
    return out


def bench_preset(preset: str, args, cfg: RuntimeConfig) -> list[str]:
    model_cfg, _ = load_preset(preset)
    torch.manual_seed(0)
    model = build_model(model_cfg)
    r, o = model_cfg.input_resolution, model_cfg.output_resolution
    a, b, where = real_faces(model_cfg.face_type, o)
    calib, evaluation = resized(a[0::2], r), resized(a[1::2][:16], r)
    size = f"{r} px" if r == o else f"{r} px in, {o} px out"
    lines = [f"preset {preset}: {model_cfg.arch.upper()} {size}, faces from {where}"]
    trained = "live" in Path(preset).stem and args.train_steps > 0
    if trained:
        t = time.perf_counter()
        loss = train(model, a, b, args.train_steps)
        lines.append(f"  trained {args.train_steps} steps in {time.perf_counter() - t:.0f} s, last loss {loss:.4f}")
    else:
        model.eval()
    direction = model.swap_directions()[0]
    swap = model.swap_module(direction)
    fp32 = export_graph(SwapGraph(swap, "uint8"), r)
    variants = {"fp32": fp32}
    half = SwapGraph(copy.deepcopy(swap).half(), "uint8", compute_dtype=torch.float16)
    variants["fp16"] = export_graph(half, r)
    for settings in CANDIDATES if args.all_int8 else CANDIDATES[:2]:
        variants[f"int8 {settings.name}"] = quantize_int8(fp32, calib, settings)
    reference = run_onnx(fp32, evaluation)
    base = {}
    note = "" if trained else "  (untrained weights: SSIM not meaningful)"
    for name, data in variants.items():
        session, _ = create_session(data, cfg)
        ssim = ssim_per_face(run_onnx(session, evaluation)[0], reference[0]).mean()
        row = []
        for batch in (1, 8):
            ms = time_session(session, evaluation, batch, args.repeat)
            base.setdefault(batch, ms)
            row.append(f"b{batch} {ms / batch:7.2f} ms/face {1000 * batch / ms:6.1f} faces/s x{base[batch] / ms:4.2f}")
        lines.append(f"  {name:48s} {' | '.join(row)} | SSIM {ssim:.4f}{note}")
    if "live" in Path(preset).stem:
        lines += io_comparison(swap, r, evaluation, cfg, args.repeat)
    return lines


def time_models(paths: list[Path], cfg: RuntimeConfig, repeat: int) -> list[str]:
    """Exported model files through engine.runtime (SwapModel.swap), batch 1, calls interleaved
    round-robin so that load from other processes hits every model alike; median and min ms."""
    from swapstream.engine.runtime.swap_model import load_swap_model

    models = [load_swap_model(p, cfg) for p in paths]
    faces = [np.full((1, m.resolution, m.resolution, 3), 128, np.uint8) for m in models]
    for m, x in zip(models, faces, strict=True):
        for _ in range(5):
            m.swap(x)
    times: list[list[float]] = [[] for _ in models]
    for _ in range(repeat):
        for m, x, t in zip(models, faces, times, strict=True):
            start = time.perf_counter()
            m.swap(x)
            t.append(1000 * (time.perf_counter() - start))
    lines = []
    for path, m, t in zip(paths, models, times, strict=True):
        c = m.contract
        lines.append(
            f"  {path.name:28s} {c.precision} {c.resolution} px in, {c.output_resolution} px out: "
            f"b1 median {np.median(t):6.2f} ms/face, min {np.min(t):6.2f} ({repeat} calls)"
        )
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--presets", nargs="+", default=["live", "balanced", "quality"])
    parser.add_argument("--train-steps", type=int, default=150)
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--threads", type=int, default=2, help="ONNX Runtime intra-op threads")
    parser.add_argument("--all-int8", action="store_true", help="time every INT8 candidate, not the first two")
    parser.add_argument("--models", nargs="+", type=Path, help="time these exported models instead of presets")
    args = parser.parse_args()
    # Torch only trains and exports here; one thread avoids spin-wait collapse on shared cores.
    torch.set_num_threads(1)
    cfg = RuntimeConfig(providers=("cpu",), intra_op_threads=args.threads)
    print(
        f"CPU: {platform.processor() or platform.machine()}, {os.cpu_count()} logical CPUs, "
        f"ORT threads {args.threads}, load average {os.getloadavg()[0]:.1f}",
        flush=True,
    )
    if args.models:
        print("\n".join(time_models(args.models, cfg, args.repeat)))
        return
    print("ratio x = fp32 time / this time, same batch; SSIM of faces vs fp32 on held-out real faces")
    for preset in args.presets:
        for line in bench_preset(preset, args, cfg):
            print(line, flush=True)


if __name__ == "__main__":
    main()
