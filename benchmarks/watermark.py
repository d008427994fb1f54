"""Would an invisible watermark be a usable second layer? Cost, PSNR and robustness of two
classic marks on 1080p frames, measured side by side.

Usage:
    python benchmarks/watermark.py [--clip ../shared/media/s18.mp4] [--frames 8] [--json out.json]

  dwtDct   invisible-watermark 0.2's DWT-DCT mark (imwatermark/maxDct.py), loaded from its file
           because its package imports torch at import time (and declares opencv-python, a second
           OpenCV). Skipped when the package is not installed (pip install --no-deps invisible-watermark).
  spread   swapstream's own mark (engine/image/watermark.py: spread spectrum in the luma, a
           256x256 tile of +-2 grey levels in 8x8 blocks, 64 payload bits, crop- and
           downscale-tolerant detector).
Each is measured on frames of the clip enlarged to 1920x1080: embedding time per frame (in place,
the way the file sinks mark a copy of each frame; beside it, the time of that copy, np.copy of the
same frame, in the same loop, as the yardstick for a contended machine), PSNR, and the share of
the payload bits read back from one frame: clean, after H.264 re-encoding at CRF 23 and 28
(veryfast), a 50% downscale and a crop of 100 px (left) and 60 px (top). An unmarked frame gives
the chance level (~0.5-0.6: the detector keeps its best offset). The machine is shared: times are
provisional, compare the ratio to the copy.
"""

from __future__ import annotations

import argparse
import importlib.util
import io
import json
import time
from pathlib import Path

import av
import cv2
import numpy as np

REPO = Path(__file__).resolve().parents[1]
PAYLOAD = b"SWS1\xab\x12\xcd\x34"  # the swapstream marker + a model id


def payload_bits(payload: bytes = PAYLOAD) -> np.ndarray:
    return np.unpackbits(np.frombuffer(payload, np.uint8)).astype(np.int8)


def spread_detect(bgr: np.ndarray) -> np.ndarray:
    """The 64 bits swapstream's detector reads from one frame (no marker found: all zero bits)."""
    from swapstream.engine.image import watermark

    return payload_bits(watermark.detect([bgr]) or bytes(8))


def load_dwtdct():
    """imwatermark's EmbedMaxDct class, loaded from its file (None when not installed)."""
    spec = importlib.util.find_spec("imwatermark")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / "maxDct.py"
    module_spec = importlib.util.spec_from_file_location("imwatermark_maxdct", path)
    module = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(module)
    return module.EmbedMaxDct


def frames_1080p(clip: Path, n: int) -> list[np.ndarray]:
    out = []
    with av.open(str(clip)) as c:
        for i, f in enumerate(c.decode(video=0)):
            if i >= n:
                break
            out.append(cv2.resize(f.to_ndarray(format="bgr24"), (1920, 1080), interpolation=cv2.INTER_CUBIC))
    return out


def reencode(frames: list[np.ndarray], crf: int) -> list[np.ndarray]:
    buf = io.BytesIO()
    with av.open(buf, "w", format="mp4") as o:
        s = o.add_stream("libx264", rate=30)
        s.width, s.height, s.pix_fmt = frames[0].shape[1], frames[0].shape[0], "yuv420p"
        s.options = {"crf": str(crf), "preset": "veryfast"}
        for f in frames:
            for p in s.encode(av.VideoFrame.from_ndarray(f, format="bgr24")):
                o.mux(p)
        for p in s.encode(None):
            o.mux(p)
    buf.seek(0)
    with av.open(buf) as c:
        return [f.to_ndarray(format="bgr24") for f in c.decode(video=0)]


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b) ** 2))
    return 10 * np.log10(255**2 / max(mse, 1e-12))


def timed(embed, frames: list[np.ndarray], repeat: int = 20) -> tuple[list[np.ndarray], dict]:
    """Marked copies of FRAMES and the min/median ms of embed(copy) vs of the copy alone."""
    copies, embeds, marked = [], [], []
    for _ in range(repeat):
        for f in frames:
            t0 = time.perf_counter()
            image = f.copy()
            t1 = time.perf_counter()
            image = embed(image)
            t2 = time.perf_counter()
            copies.append(t1 - t0)
            embeds.append(t2 - t1)
            if len(marked) < len(frames):
                marked.append(image)
    stats = {"embed_ms": 1000 * float(np.median(embeds)), "embed_min_ms": 1000 * min(embeds)}
    return marked, stats | {"copy_ms": 1000 * float(np.median(copies)), "copy_min_ms": 1000 * min(copies)}


def evaluate(name: str, embed, detect, frames: list[np.ndarray], bits: int) -> dict:
    expected = payload_bits()[:bits]
    marked, cost = timed(embed, frames, repeat=20 if name == "spread" else 1)

    def accuracy(images):
        return float(np.mean([np.mean(detect(im)[:bits] == expected) for im in images]))

    attacks = {
        "clean": marked,
        "crf23": reencode(marked, 23),
        "crf28": reencode(marked, 28),
        "half": [cv2.resize(m, (960, 540), interpolation=cv2.INTER_AREA) for m in marked],
        "crop": [np.ascontiguousarray(m[60:, 100:]) for m in marked],
        "unmarked": frames,
    }
    result = {"mark": name, "psnr_db": float(np.mean([psnr(a, b) for a, b in zip(frames, marked)]))}
    return result | cost | {k: accuracy(v) for k, v in attacks.items()}


def embed_spread(image: np.ndarray, mark=None) -> np.ndarray:
    from swapstream.engine.image.watermark import Watermark

    mark = mark or _SPREAD.setdefault("mark", Watermark(PAYLOAD))
    mark.embed(image)
    return image


_SPREAD: dict = {}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--clip", type=Path, default=REPO.parent / "shared" / "media" / "s18.mp4")
    p.add_argument("--frames", type=int, default=8)
    p.add_argument("--json", type=Path, default=None)
    args = p.parse_args()
    frames = frames_1080p(args.clip, args.frames)
    rows = [evaluate("spread", embed_spread, spread_detect, frames, 64)]
    dwtdct = load_dwtdct()
    if dwtdct is not None:
        enc = dwtdct(list(payload_bits()[:32]), wmLen=32, scales=[0, 36, 36])
        dec = dwtdct([], wmLen=32, scales=[0, 36, 36])
        detect = lambda im: np.asarray(dec.decode(im), np.int8)
        rows.append(evaluate("dwtDct", enc.encode, detect, frames[:2], 32))
    print("| mark | embed ms/1080p frame, median (min) | np.copy of the frame, median (min) | PSNR dB | "
          "bits read: clean | CRF 23 | CRF 28 | 50% down | crop | unmarked |")  # fmt: skip
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for r in rows:
        print(
            f"| {r['mark']} | {r['embed_ms']:.2f} ({r['embed_min_ms']:.2f}) | {r['copy_ms']:.2f} "
            f"({r['copy_min_ms']:.2f}) | {r['psnr_db']:.1f} | {r['clean']:.2f} | {r['crf23']:.2f} | "
            f"{r['crf28']:.2f} | {r['half']:.2f} | {r['crop']:.2f} | {r['unmarked']:.2f} |"
        )
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
