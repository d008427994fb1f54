"""Occlusion benchmark: held-out moving occluders over real driving frames (run by hand; not a test).

For each ../shared/media clip, the first frames are split into one segment per occluder kind of
benchmarks/occlusion_shapes.py (hand, cup, microphone, glasses, hair), each occluder moving over
the face with a known alpha. The engine's swap stages (as `convert` builds them) run on the
composited frames twice: `--mask both` (today's behaviour, the baseline) and `--mask occlusion`
with the occlusion model. From the blend weights each run really pasted with:

- occluder kept: of the occluder pixels (alpha > 0.5) the baseline paints over (weight > 0.5),
  the share the occlusion run leaves as they were (weight < 0.1; also checked on the pixels:
  max |output - input| <= 6 levels);
- face swapped: of the uncovered face pixels (alpha < 0.05) the baseline swaps (weight > 0.5),
  the share the occlusion run still swaps (weight >= 0.5).

The baseline is 0% / 100% by these definitions. Also the cost per face of the occlusion model
(crop resize + ONNX + mask resize) and of --keep-mouth, p50 over the faces of the run. With a
real swap model and `--identity FACESET` (its target), identity on the visible part: dlib's
embedding of each output face, occluder and all (engine.face.embedding), against the faceset's
mean: the share of frames recognised as the target (distance < 0.6), for both runs.

    PYTHONPATH=. .venv/bin/python benchmarks/occlusion.py --occluder occ.onnx [--clips d6.mp4 d18.mp4]
        [--model M.onnx --identity FACESET_OF_ITS_TARGET]
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))
sys.path.insert(0, str(REPO / "tests"))

from occlusion_shapes import KINDS, Face, occluder  # noqa: E402
from swapstream.engine.engine_config import load_engine_config  # noqa: E402
from swapstream.engine.face.align import invert  # noqa: E402
from swapstream.engine.face.embedding import FaceEmbedder  # noqa: E402
from swapstream.engine.face.landmarks import FaceMesh  # noqa: E402
from swapstream.engine.quality.identity import SAME_PERSON_DISTANCE  # noqa: E402
from swapstream.engine.runtime.providers import RuntimeConfig  # noqa: E402
from swapstream.engine.runtime.swap_model import load_swap_model  # noqa: E402
from swapstream.engine.stages.mask_refine import mouth_mask  # noqa: E402

from swapstream.common.faceset import Faceset  # noqa: E402
from swapstream.common.pipeline_contract import FramePacket  # noqa: E402
from swapstream.swap_session.pipelines import SwapSession  # noqa: E402

MEDIA = REPO.parent / "shared" / "media"
TEXTURE_CLIP = "s18.mp4"  # hair texture from a clip none of the driving clips is
PIXEL_TOLERANCE = 6


def read_frames(path: Path, n: int, start: int = 0) -> list[np.ndarray]:
    cap = cv2.VideoCapture(str(path))
    cap.set(cv2.CAP_PROP_POS_FRAMES, start)
    frames = []
    while len(frames) < n:
        ok, frame = cap.read()
        if not ok:
            break
        frames.append(frame)
    cap.release()
    return frames


def composite(frames: list[np.ndarray], per_kind: int, tex: np.ndarray):
    """(occluded frames, alphas, kind per frame): the clean face located by FaceMesh (video mode)."""
    mesh = FaceMesh(static=False)
    out, alphas, kinds = [], [], []
    try:
        for i, frame in enumerate(frames):
            kind = KINDS[(i // per_kind) % len(KINDS)]
            faces = mesh.process(frame)
            if not faces:
                out.append(frame)
                alphas.append(np.zeros(frame.shape[:2], np.float32))
                kinds.append(kind)
                continue
            a, col = occluder(kind, (i % per_kind) / per_kind, Face(faces[0].landmarks), frame, tex)
            mixed = frame.astype(np.float32) * (1 - a[..., None]) + col * a[..., None]
            out.append(np.clip(mixed + 0.5, 0, 255).astype(np.uint8))
            alphas.append(a)
            kinds.append(kind)
    finally:
        mesh.close()
    return out, alphas, kinds


def run_stages(model, cfg, frames):
    """The convert stages on `frames` in order; returns (packets, blend stage)."""
    stages = SwapSession(cfg, model).stages(offline=True)
    for s in stages:
        s.setup()
    packets = []
    try:
        for i, frame in enumerate(frames):
            p = FramePacket(i, 0.0, frame.copy())
            for s in stages:
                p = s.process(p)
            packets.append(p)
    finally:
        for s in stages:
            s.close()
    return packets, stages[-1]


def blend_weight(packet: FramePacket) -> np.ndarray:
    """float32 (H, W): the weight each frame pixel got from the swapped faces (as paste_face warps it)."""
    h, w = packet.frame.shape[:2]
    out = np.zeros((h, w), np.float32)
    for slot in packet.faces:
        np.maximum(out, cv2.warpAffine(slot.mask, invert(slot.matrix), (w, h), flags=cv2.INTER_LINEAR), out=out)
    return out


def score(inputs, alphas, kinds, base, occ) -> dict[str, dict[str, float]]:
    """Pixel counts per kind -> shares (see the module docstring)."""
    acc: dict[str, np.ndarray] = {k: np.zeros(5) for k in (*KINDS, "all")}
    for x, a, kind, pb, po in zip(inputs, alphas, kinds, base, occ, strict=True):
        wb, wo = blend_weight(pb), blend_weight(po)
        occ_px = (a > 0.5) & (wb > 0.5)
        vis_px = (a < 0.05) & (wb > 0.5)
        same = np.abs(po.frame.astype(np.int16) - x).max(axis=2) <= PIXEL_TOLERANCE
        counts = np.array(
            [
                occ_px.sum(),
                (occ_px & (wo < 0.1)).sum(),
                (occ_px & same).sum(),
                vis_px.sum(),
                (vis_px & (wo >= 0.5)).sum(),
            ]
        )
        acc[kind] += counts
        acc["all"] += counts
    return {
        k: {
            "occluder_px": int(c[0]),
            "occluder_kept": round(c[1] / max(c[0], 1), 4),
            "occluder_kept_pixels": round(c[2] / max(c[0], 1), 4),
            "face_px": int(c[3]),
            "face_swapped": round(c[4] / max(c[3], 1), 4),
        }
        for k, c in acc.items()
    }


def cost_per_face(blend, packets) -> dict[str, float]:
    """p50 ms per face of the occlusion model (resize + ONNX + resize) and of the keep-mouth mask."""
    slots = [(p.frame, s) for p in packets for s in p.faces]
    occ_ms, mouth_ms = [], []
    for _ in range(2):
        for frame, slot in slots:
            t0 = time.perf_counter()
            blend.refiner.occlusion_masks(frame, [slot])
            t1 = time.perf_counter()
            mouth_mask(slot)
            t2 = time.perf_counter()
            occ_ms.append(1000 * (t1 - t0))
            mouth_ms.append(1000 * (t2 - t1))
    n = len(slots)
    return {
        "occlusion_ms_p50": round(float(np.median(occ_ms[n:])), 3),
        "occlusion_ms_p95": round(float(np.percentile(occ_ms[n:], 95)), 3),
        "keep_mouth_ms_p50": round(float(np.median(mouth_ms[n:])), 3),
    }


def identity_on_output(packets, target: np.ndarray, embedder) -> dict[str, float]:
    """Share of output faces recognised as the target (mean of `target` (K, 128) nearer than
    dlib's 0.6) and their mean distance; each face embedded at its driving landmarks."""
    mean = target.mean(0)
    d = [float(np.linalg.norm(embedder.embed(p.frame, s.landmarks) - mean)) for p in packets for s in p.faces]
    return {
        "recognised": round(float(np.mean(np.array(d) < SAME_PERSON_DISTANCE)), 4),
        "distance": round(np.mean(d), 4),
    }


def bench_clip(clip: str, model, args, tex) -> dict:
    frames = read_frames(MEDIA / clip, args.per_kind * len(KINDS), args.start)
    inputs, alphas, kinds = composite(frames, args.per_kind, tex)
    cfg = load_engine_config()
    base, _ = run_stages(model, cfg, inputs)
    occ_cfg = cfg.replace(swap={"mask": "occlusion", "occluder": str(args.occluder)})
    occ, blend = run_stages(model, occ_cfg, inputs)
    if args.save_examples:
        pick = [i for i in range(0, len(inputs), args.per_kind // 2)]
        strip = [np.hstack([inputs[i], base[i].frame, occ[i].frame]) for i in pick]
        cv2.imwrite(str(Path(args.save_examples) / f"occlusion_{Path(clip).stem}.jpg"), np.vstack(strip))
    out = {"frames": len(inputs), "scores": score(inputs, alphas, kinds, base, occ), **cost_per_face(blend, occ)}
    if args.target is not None:
        out["identity"] = {
            k: identity_on_output(v, args.target, args.embedder) for k, v in (("both", base), ("occlusion", occ))
        }
    return out


def table(results: dict) -> str:
    lines = [
        "| clip | occluder | occluder px | kept: `both` (baseline) | kept: `occlusion` (weights / pixels) "
        "| face swapped: `both` | face swapped: `occlusion` |",
        "|---|---|---|---|---|---|---|",
    ]
    for clip, r in results.items():
        for kind, s in r["scores"].items():
            lines.append(
                f"| {clip} | {kind} | {s['occluder_px']:,} | 0% | {100 * s['occluder_kept']:.1f}% / "
                f"{100 * s['occluder_kept_pixels']:.1f}% | 100% | {100 * s['face_swapped']:.1f}% |"
            )
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--occluder", type=Path, required=True)
    ap.add_argument(
        "--model",
        type=Path,
        default=None,
        help="swap model (default: the colour-inverting contract model at the live preset's 128 px output; "
        "the shares depend only on the masks, not on the face a model renders)",
    )
    ap.add_argument("--identity", type=Path, default=None, help="faceset of --model's target: identity on the output")
    ap.add_argument("--clips", nargs="+", default=["d6.mp4", "d18.mp4", "d9.mp4"])
    ap.add_argument("--per-kind", type=int, default=24, help="frames per occluder kind")
    ap.add_argument("--start", type=int, default=0, help="first frame of each clip")
    ap.add_argument("--json", type=Path, default=None)
    ap.add_argument("--save-examples", default=None, help="folder for side-by-side JPEGs (kept out of the repo)")
    args = ap.parse_args()
    if args.model is None:
        from model_fixtures import write_invert_model

        args.model = write_invert_model(Path(tempfile.mkdtemp()) / "invert128.onnx", 128)
    model = load_swap_model(args.model, RuntimeConfig(providers=("cpu",)))
    args.target = args.embedder = None
    if args.identity is not None:
        args.embedder = FaceEmbedder()
        args.target = args.embedder.embed_faceset(Faceset.open(args.identity), 32)
    tex = read_frames(MEDIA / TEXTURE_CLIP, 1, 100)[0][100:400, 500:800]
    results = {clip: bench_clip(clip, model, args, tex) for clip in args.clips}
    with open("/proc/cpuinfo") as f:
        cpu = next((ln.split(":", 1)[1].strip() for ln in f if ln.startswith("model name")), "?")
    print(table(results))
    for clip, r in results.items():
        print(f"{clip}: occlusion {r['occlusion_ms_p50']} ms/face p50 ({r['occlusion_ms_p95']} p95), "
              f"keep-mouth {r['keep_mouth_ms_p50']} ms/face, identity {r.get('identity')}")  # fmt: skip
    print(f"cpu: {cpu}, {platform.python_version()}")
    if args.json:
        args.json.write_text(json.dumps({"cpu": cpu, "model": str(args.model), "results": results}, indent=1))


if __name__ == "__main__":
    main()
