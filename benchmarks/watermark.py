"""Would an invisible watermark be a usable second layer? Cost, PSNR and robustness of two
classic marks on 1080p frames, measured side by side.

Usage:
    python benchmarks/watermark.py [--clip ../shared/media/s18.mp4] [--frames 8] [--json out.json]

  dwtDct   invisible-watermark 0.2's DWT-DCT mark (imwatermark/maxDct.py), loaded from its file
           because its package imports torch at import time (and declares opencv-python, a second
           OpenCV). Skipped when the package is not installed (pip install --no-deps invisible-watermark).
  spread   a spread-spectrum luma mark written here: a 256x256-pixel tile of +-ALPHA grey levels
           in 8x8 blocks (a sync pattern plus one pseudo-random pattern per payload bit, signed by
           the bit), repeated over the frame and added to B, G and R alike (two saturating uint8
           passes with the pattern precomputed per frame size). The detector high-passes the
           luma, folds it modulo the tile, finds the tile's offset where the FFT correlations of
           all 33 patterns line up (so crops are found), and reads each bit's sign; it also tries the frame
           enlarged 2x (a 50% downscale).
Each is measured on frames of the clip enlarged to 1920x1080: embedding time per frame, PSNR,
and the share of the 32 payload bits read back from the clean frame, after H.264 re-encoding at
CRF 23 and 28 (veryfast), a 50% downscale and a crop of 100 px (left) and 60 px (top). An
unmarked frame gives the chance level (~0.5). The machine is shared: times are provisional.
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
PAYLOAD = b"SWS1"  # 32 bits: a marker (a real payload would add the manifest's short id)
TILE, BLOCK, ALPHA = 256, 8, 2


def payload_bits() -> np.ndarray:
    return np.unpackbits(np.frombuffer(PAYLOAD, np.uint8)).astype(np.int8)


def _block_patterns(bits: int, seed: int = 31) -> np.ndarray:
    """(1 + bits, TILE/BLOCK, TILE/BLOCK) +-1 patterns: sync first, then one per bit."""
    n = TILE // BLOCK
    return np.random.default_rng(seed).choice(np.array([-1, 1], np.int8), size=(1 + bits, n, n))


class SpreadMark:
    """The spread-spectrum mark described in the module docstring, for one frame size."""

    def __init__(self, width: int, height: int, bits: np.ndarray):
        pats = _block_patterns(len(bits))
        self.pats = pats
        tile = pats[0].astype(np.int16) + np.tensordot(2 * bits.astype(np.int16) - 1, pats[1:], axes=1)
        tile = np.sign(tile).astype(np.int16) * ALPHA
        big = np.kron(tile, np.ones((BLOCK, BLOCK), np.int16))
        full = np.tile(big, (height // TILE + 1, width // TILE + 1))[:height, :width]
        rgb = np.repeat(full[:, :, None], 3, axis=2)
        self.plus = np.clip(rgb, 0, 255).astype(np.uint8)
        self.minus = np.clip(-rgb, 0, 255).astype(np.uint8)

    def embed(self, bgr: np.ndarray) -> np.ndarray:
        return cv2.subtract(cv2.add(bgr, self.plus), self.minus)


def _fold(residual: np.ndarray) -> np.ndarray:
    h, w = residual.shape
    h, w = h // TILE * TILE, w // TILE * TILE
    return residual[:h, :w].reshape(h // TILE, TILE, w // TILE, TILE).sum(axis=(0, 2))


def spread_detect(bgr: np.ndarray, bits: int = 32) -> np.ndarray:
    """The payload bits read from a frame (any size: enlarged 2x when that correlates better)."""
    pats = _block_patterns(bits)
    refs = np.kron(pats.astype(np.float32), np.ones((BLOCK, BLOCK), np.float32))  # (1+bits, TILE, TILE)
    best = None
    for scale in (1, 2):
        img = bgr if scale == 1 else cv2.resize(bgr, None, fx=2, fy=2, interpolation=cv2.INTER_LINEAR)
        luma = cv2.cvtColor(img, cv2.COLOR_BGR2GRAY).astype(np.float32)
        residual = luma - cv2.blur(luma, (2 * BLOCK + 1, 2 * BLOCK + 1))
        folded = _fold(residual)
        # Every pattern's circular correlation with the folded residual: at the tile's true offset
        # all 33 line up (sync positive, each bit +-), elsewhere the image's own structure does not.
        corr = np.fft.ifft2(np.fft.fft2(folded)[None] * np.conj(np.fft.fft2(refs))).real
        score = corr[0] + np.abs(corr[1:]).sum(axis=0)
        dy, dx = np.unravel_index(np.argmax(score), score.shape)
        peak = (score[dy, dx] - score.mean()) / (score.std() + 1e-9)
        if best is None or peak > best[0]:
            best = (peak, corr[1:, dy, dx])
    return (best[1] > 0).astype(np.int8)


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


def evaluate(name: str, embed, detect, frames: list[np.ndarray]) -> dict:
    bits = payload_bits()
    t0 = time.perf_counter()
    marked = [embed(f) for f in frames]
    ms = 1000 * (time.perf_counter() - t0) / len(frames)

    def accuracy(images):
        return float(np.mean([np.mean(detect(im) == bits) for im in images]))

    attacks = {
        "clean": marked,
        "crf23": reencode(marked, 23),
        "crf28": reencode(marked, 28),
        "half": [cv2.resize(m, (960, 540), interpolation=cv2.INTER_AREA) for m in marked],
        "crop": [np.ascontiguousarray(m[60:, 100:]) for m in marked],
        "unmarked": frames,
    }
    result = {"mark": name, "embed_ms": ms, "psnr_db": float(np.mean([psnr(a, b) for a, b in zip(frames, marked)]))}
    return result | {k: accuracy(v) for k, v in attacks.items()}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--clip", type=Path, default=REPO.parent / "shared" / "media" / "s18.mp4")
    p.add_argument("--frames", type=int, default=8)
    p.add_argument("--json", type=Path, default=None)
    args = p.parse_args()
    frames = frames_1080p(args.clip, args.frames)
    mark = SpreadMark(1920, 1080, payload_bits())
    rows = [evaluate("spread", mark.embed, spread_detect, frames)]
    dwtdct = load_dwtdct()
    if dwtdct is not None:
        enc = dwtdct(list(payload_bits()), wmLen=32, scales=[0, 36, 36])
        dec = dwtdct([], wmLen=32, scales=[0, 36, 36])
        rows.append(evaluate("dwtDct", enc.encode, lambda im: np.asarray(dec.decode(im), np.int8), frames[:2]))
    print("| mark | embed ms/1080p frame | PSNR dB | bits read: clean | CRF 23 | CRF 28 | 50% down | crop | unmarked |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for r in rows:
        print(
            f"| {r['mark']} | {r['embed_ms']:.1f} | {r['psnr_db']:.1f} | {r['clean']:.2f} | {r['crf23']:.2f} | "
            f"{r['crf28']:.2f} | {r['half']:.2f} | {r['crop']:.2f} | {r['unmarked']:.2f} |"
        )
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
