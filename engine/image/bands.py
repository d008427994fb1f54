"""Detail bands: the structure of a grey image finer than a grid, and how much of another face's
band a render needs (engine.image.target_detail adds the target's own).

A band finer than a grid `cell` px coarse is the image minus itself shrunk `cell` times
(INTER_AREA: each cell's average) and enlarged back (bicubic). Images are grey float32 (H, W) (or
uint8, read as float32); weights float32 (H, W) in [0, 1].
"""

from __future__ import annotations

import math

import cv2
import numpy as np
from swapstream.engine.image._jit import kernel


def band_gain(amount: float, e_own: float, e_theirs: float) -> float:
    """The bank band's weight: amount x sqrt(the share of its energy the render lacks), so that the
    render's band (energy e_own) plus the bank's (e_theirs), two unrelated textures whose energies
    add, reach the bank face's energy at amount 1. The share itself (what the driver's detail,
    engine.image.detail.restore_guessed_band, still uses) left them short of it: own sharpness
    0.56-0.58 against 0.59-0.60 with the square root on two pairs
    (benchmarks/results_log/2026-12-07-own-pixels.md)."""
    return amount * math.sqrt(min(max(1.0 - e_own / e_theirs, 0.0), 1.0)) if e_theirs > 0 else 0.0


def low_pass(image: np.ndarray, cell: float) -> np.ndarray:
    """float32 like image (float32): image shrunk `cell` times (INTER_AREA) and enlarged back
    (bicubic)."""
    h, w = image.shape[:2]
    small = (max(1, round(w / cell)), max(1, round(h / cell)))
    return cv2.resize(cv2.resize(image, small, interpolation=cv2.INTER_AREA), (w, h), interpolation=cv2.INTER_CUBIC)


def grid_band(image: np.ndarray, cell: float) -> np.ndarray:
    """float32 like image: image minus low_pass(image, cell), the detail finer than a grid `cell`
    times coarser holds."""
    src = image.astype(np.float32, copy=False)
    return src - low_pass(src, cell)


def matched_band(
    warped: np.ndarray, grey: np.ndarray, weight: np.ndarray, cell: float, cells: float, amount: float
) -> np.ndarray:
    """float32 like warped: weight x the band of warped (another face, brought onto the render)
    finer than `cells` grid cells of `cell` px, in two octaves (finer than one cell; from one cell
    to `cells`), each scaled by its own band_gain against the same octave of the render (grey)
    inside weight. One gain for the whole band matched the two octaves' sum: the render of a
    model trained for minutes holds most of the coarser octave and little of the finer, so the
    finer stayed short (benchmarks/results_log/2026-12-07-octaves.md). cells <= 1: the finer
    octave alone. The octaves are differences of low-passes, never stored: two passes over the
    pixels."""
    theirs = warped.astype(np.float32, copy=False)
    own = grey.astype(np.float32, copy=False)
    low, own_low = low_pass(theirs, cell), low_pass(own, cell)
    # cells <= 1: the coarser octave is empty, and its gain 0 (band_gain of no energy)
    lower, own_lower = (low_pass(theirs, cell * cells), low_pass(own, cell * cells)) if cells > 1 else (low, own_low)
    e = _octave_energies_kernel(theirs, low, lower, own, own_low, own_lower, weight)
    out = np.empty_like(theirs)
    _octaves_kernel(theirs, low, lower, weight, band_gain(amount, e[2], e[0]), band_gain(amount, e[3], e[1]), out)
    return out


@kernel
def _octave_energies_kernel(theirs, theirs_low, theirs_lower, own, own_low, own_lower, weight):
    """float64 (4,): the energies inside weight of theirs' finer octave (image - low), its
    coarser (low - lower), and own's two; float32 (h, w) each."""
    e = np.zeros(4)
    for y in range(weight.shape[0]):
        for x in range(weight.shape[1]):
            w = weight[y, x]
            if w == 0.0:
                continue
            a = theirs[y, x] - theirs_low[y, x]
            b = theirs_low[y, x] - theirs_lower[y, x]
            c = own[y, x] - own_low[y, x]
            d = own_low[y, x] - own_lower[y, x]
            e[0] += w * a * a
            e[1] += w * b * b
            e[2] += w * c * c
            e[3] += w * d * d
    return e


@kernel
def _octaves_kernel(image, low, lower, weight, fine_gain, coarse_gain, out):
    """out = weight x (fine_gain x (image - low) + coarse_gain x (low - lower)); float32 (h, w)."""
    for y in range(weight.shape[0]):
        for x in range(weight.shape[1]):
            fine = image[y, x] - low[y, x]
            out[y, x] = weight[y, x] * (fine_gain * fine + coarse_gain * (low[y, x] - lower[y, x]))


def warmup() -> None:
    """Compile (or load the cached) kernels before the first frame."""
    z = np.zeros((2, 2), np.float32)
    _octave_energies_kernel(z, z, z, z, z, z, z)
    _octaves_kernel(z, z, z, z, 1.0, 1.0, np.empty_like(z))
