"""An invisible watermark in every written frame: the second layer of content credentials.

Spread spectrum in the luma: a 256x256-pixel tile of +-ALPHA grey levels in 8x8 blocks, the sign
of a pseudo-random sync pattern plus one pseudo-random pattern per payload bit (signed by the
bit), repeated over the frame and added to B, G and R alike, so only the brightness moves
(PSNR ~42 dB). The tile depends only on the frame size and the payload, so a segmented, resumed
or Ray convert marks every frame exactly as one process does. Embedding is two saturating uint8
passes over the frame with the pattern precomputed per size (~0.4-0.6 ms per 1080p frame here).

The detector high-passes the luma, folds it modulo the tile (summing over frames too), and takes
the tile offset where the FFT correlations of all patterns line up (a crop moves the tile, and
is found); it also tries frames up to 1280 px enlarged 2x (a 50% downscale). Measured on 1080p frames
(benchmarks/watermark.py): every bit read back after H.264 at CRF 23 and 28, a 50% downscale and
a crop. Payload: 32 bits of swapstream marker + the first 32 bits of the model's SHA-256.
"""

from __future__ import annotations

from collections.abc import Iterable

import cv2
import numpy as np

MARKER = b"SWS1"
PAYLOAD_BITS = 64
TILE, BLOCK, ALPHA = 256, 8, 2
_SEED = 31
# Marker bits that may be misread with the mark still counted as found: an unmarked image reads
# each bit right about 60% of the time (the detector keeps its best offset), so 30 of 32 by
# chance is below 1e-5.
MARKER_ERRORS_ALLOWED = 2
# Frames up to this size are also read enlarged 2x (a 50% downscale of a marked frame); larger ones
# are not (a 4K output downscaled to 1080p is not looked for: the 2x pass would cost 4K frames).
MAX_DOWNSCALED_SIDE = 1280


def payload_for(model_sha256: str) -> bytes:
    """MARKER + the first 4 bytes of the model's SHA-256 (8 bytes, 64 bits)."""
    return MARKER + bytes.fromhex(model_sha256[:8].ljust(8, "0"))


def _patterns() -> np.ndarray:
    """(1 + PAYLOAD_BITS, TILE/BLOCK, TILE/BLOCK) int8 +-1: the sync pattern, then one per bit."""
    n = TILE // BLOCK
    return np.random.default_rng(_SEED).choice(np.array([-1, 1], np.int8), size=(1 + PAYLOAD_BITS, n, n))


class Watermark:
    """Marks frames with PAYLOAD (8 bytes); the pattern of each frame size is made once."""

    def __init__(self, payload: bytes):
        if len(payload) * 8 != PAYLOAD_BITS:
            raise ValueError(f"payload must be {PAYLOAD_BITS // 8} bytes, got {len(payload)}")
        bits = np.unpackbits(np.frombuffer(payload, np.uint8)).astype(np.int16)
        pats = _patterns().astype(np.int16)
        tile = np.sign(pats[0] + np.tensordot(2 * bits - 1, pats[1:], axes=1)) * ALPHA
        self._tile = np.kron(tile, np.ones((BLOCK, BLOCK), np.int16))
        self._by_size: dict[tuple[int, int], tuple[np.ndarray, np.ndarray]] = {}

    def _planes(self, height: int, width: int) -> tuple[np.ndarray, np.ndarray]:
        key = (height, width)
        if key not in self._by_size:
            reps = (height // TILE + 1, width // TILE + 1)
            full = np.repeat(np.tile(self._tile, reps)[:height, :width, None], 3, axis=2)
            self._by_size = {key: (np.clip(full, 0, 255).astype(np.uint8), np.clip(-full, 0, 255).astype(np.uint8))}
        return self._by_size[key]

    def embed(self, bgr: np.ndarray) -> None:
        """Mark a uint8 (H, W, 3) BGR frame in place (C-contiguous)."""
        plus, minus = self._planes(*bgr.shape[:2])
        cv2.add(bgr, plus, dst=bgr)
        cv2.subtract(bgr, minus, dst=bgr)


def _folded(bgr: np.ndarray, scale: int) -> np.ndarray:
    """The frame's high-passed luma summed modulo the tile, float32 (TILE, TILE)."""
    if scale != 1:
        bgr = cv2.resize(bgr, None, fx=scale, fy=scale, interpolation=cv2.INTER_LINEAR)
    luma = cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY).astype(np.float32)
    residual = luma - cv2.blur(luma, (2 * BLOCK + 1, 2 * BLOCK + 1))
    np.clip(residual, -2 * ALPHA, 2 * ALPHA, out=residual)  # edges of the picture would drown the mark
    h, w = residual.shape
    padded = np.zeros((-(-h // TILE) * TILE, -(-w // TILE) * TILE), np.float32)
    padded[:h, :w] = residual
    return padded.reshape(padded.shape[0] // TILE, TILE, padded.shape[1] // TILE, TILE).sum(axis=(0, 2))


def detect(frames: Iterable[np.ndarray]) -> bytes | None:
    """The payload read from FRAMES (uint8 BGR, one video: the same mark in each), or None when
    no swapstream marker is found."""
    frames = list(frames)
    refs = np.kron(_patterns().astype(np.float32), np.ones((BLOCK, BLOCK), np.float32))
    spectra = np.conj(np.fft.fft2(refs))
    best = None
    small = max(frames[0].shape[:2]) <= MAX_DOWNSCALED_SIDE
    for scale in (1, 2) if small else (1,):
        folded = sum(_folded(f, scale) for f in frames)
        corr = np.fft.ifft2(np.fft.fft2(folded)[None] * spectra).real
        score = corr[0] + np.abs(corr[1:]).sum(axis=0)
        dy, dx = np.unravel_index(np.argmax(score), score.shape)
        peak = (score[dy, dx] - score.mean()) / (score.std() + 1e-9)
        if best is None or peak > best[0]:
            best = (peak, corr[1:, dy, dx])
    payload = np.packbits((best[1] > 0).astype(np.uint8)).tobytes()
    marker_errors = int(np.unpackbits(np.frombuffer(bytes(a ^ b for a, b in zip(payload, MARKER)), np.uint8)).sum())
    return payload if marker_errors <= MARKER_ERRORS_ALLOWED else None


def watermark_for(enabled: bool, model_sha256: str) -> Watermark | None:
    """The mark of a swap model's outputs (None when output.watermark is off)."""
    return Watermark(payload_for(model_sha256)) if enabled else None


def model_id(payload: bytes) -> str:
    """The model part of a payload, as the first 8 hex digits of the model's SHA-256."""
    return payload[len(MARKER) :].hex()
