"""Colour transfer of a swapped face crop toward the original crop, inside the face mask.

All images are uint8 (H, W, 3) BGR aligned crops of the same geometry; masks are float32
(H, W) in [0, 1] and statistics are taken where mask > MASK_CUTOFF. The transfer is computed
from the masked statistics and applied (a per-pixel map of colour, not of position) to the
bounding box of mask > 0 grown by a margin (DEFAULT_MARGIN of the crop size); pixels outside
it keep src's colours. paste_face only uses the crop where its feathered mask is > 0, which
lies inside the mask's support when the blend erodes at least as much as it blurs (the
default), so what happens outside the box never reaches the frame. The face's box is ~40% of a
'whole' crop, so this halves the cost of the per-pixel pass.

Modes (DeepFaceLab/DeepFaceLive semantics, with true masked statistics instead of DFL's
zero-filled background):
- none: src unchanged (the same array is returned).
- rct: Reinhard et al. 2001; per-channel mean and std in CIE Lab moved to target's.
- lct: linear colour transfer (DFL's 'pca' variant): match the mean and the 3x3 covariance in
  BGR with x' = sqrt(C_t) sqrt(C_s)^-1 (x - m_s) + m_t.
- mkl: Monge-Kantorovitch linear transfer (Pitie & Kokaram 2007), the optimal-transport map
  between the two Gaussians; like lct but with the least colour shift.
- hist: per-channel histogram matching of the masked pixels.

Each Numba kernel `<name>` has an equivalent `<name>_numpy` (NumPy/OpenCV) used by the tests.
"""

from __future__ import annotations

import cv2
import numpy as np
from swapstream.engine.image._jit import kernel
from swapstream.engine.image.lab import bgr_to_lab, bgr_to_lab_numpy, lab_tables, lab_to_bgr, lab_to_bgr_numpy

from swapstream.common.choices import COLOR_MODES

MASK_CUTOFF = 0.5
# Fewer masked pixels than this give statistics too noisy to trust: src is returned unchanged.
MIN_PIXELS = 64
# Floor on a source standard deviation (Lab units / grey levels) so a flat channel cannot
# blow the scale up to a huge gain.
MIN_STD = 0.5
# rct takes its statistics on every STATS_STEP-th pixel of every STATS_STEP-th row: a face's
# colour distribution is smooth at that scale (measured on three real 256 px crops: means and stds
# within 0.07 Lab units of the full pass) at a quarter of the cost.
STATS_STEP = 2
# Recoloured region: the mask's support box grown by this fraction of the crop size on each side,
# so a feather reaching a little beyond the mask (blend erode < blur) still sees recoloured pixels.
DEFAULT_MARGIN = 1 / 16
_TABLES = lab_tables()


# --- Lab mean / std inside the mask (rct statistics) -------------------------------------


@kernel
def _lab_moments_kernel(img, mask, cutoff, linear, cube_root):
    px = img.reshape(-1, 3)
    weights = mask.reshape(-1)
    total = np.zeros(3)
    squares = np.zeros(3)
    n = 0
    for i in range(px.shape[0]):
        if weights[i] > cutoff:
            lum, a, b = bgr_to_lab(px[i, 0], px[i, 1], px[i, 2], linear, cube_root)
            total[0] += lum
            total[1] += a
            total[2] += b
            squares[0] += lum * lum
            squares[1] += a * a
            squares[2] += b * b
            n += 1
    mean = total / max(n, 1)
    std = np.sqrt(np.maximum(squares / max(n, 1) - mean * mean, 0.0))
    return n, mean, std


def lab_moments(img: np.ndarray, mask: np.ndarray) -> tuple[int, np.ndarray, np.ndarray]:
    """(count, mean, std) of img's Lab values where mask > MASK_CUTOFF; mean/std float64 (3,)."""
    t = _TABLES
    return _lab_moments_kernel(img, mask, MASK_CUTOFF, t.linear, t.cube_root)


def lab_moments_numpy(img: np.ndarray, mask: np.ndarray) -> tuple[int, np.ndarray, np.ndarray]:
    """Reference for lab_moments, exact float64 Lab."""
    px = bgr_to_lab_numpy(img[mask > MASK_CUTOFF])
    if len(px) == 0:
        return 0, np.zeros(3), np.zeros(3)
    return len(px), px.mean(0), px.std(0)


# --- per-channel affine map in Lab (rct application) -------------------------------------


@kernel
def _lab_affine_kernel(img, scale, offset, tables):
    linear, cube_root, encode = tables
    px = img.reshape(-1, 3)
    out = np.empty_like(px)
    s0, s1, s2 = np.float32(scale[0]), np.float32(scale[1]), np.float32(scale[2])
    o0, o1, o2 = np.float32(offset[0]), np.float32(offset[1]), np.float32(offset[2])
    for i in range(px.shape[0]):
        lum, a, b = bgr_to_lab(px[i, 0], px[i, 1], px[i, 2], linear, cube_root)
        # DFL's rct clips to these ranges too.
        lum = min(max(lum * s0 + o0, np.float32(0.0)), np.float32(100.0))
        a = min(max(a * s1 + o1, np.float32(-127.0)), np.float32(127.0))
        b = min(max(b * s2 + o2, np.float32(-127.0)), np.float32(127.0))
        out[i, 0], out[i, 1], out[i, 2] = lab_to_bgr(lum, a, b, encode)
    return out.reshape(img.shape)


def lab_affine(img: np.ndarray, scale: np.ndarray, offset: np.ndarray) -> np.ndarray:
    """uint8 (H, W, 3) BGR: Lab channel c mapped to clip(L_c * scale[c] + offset[c]), back to BGR."""
    t = _TABLES
    return _lab_affine_kernel(img, scale, offset, (t.linear, t.cube_root, t.encode))


def lab_affine_numpy(img: np.ndarray, scale: np.ndarray, offset: np.ndarray) -> np.ndarray:
    """Reference for lab_affine, exact float64 Lab."""
    lab = np.clip(bgr_to_lab_numpy(img) * scale + offset, (0.0, -127.0, -127.0), (100.0, 127.0, 127.0))
    return lab_to_bgr_numpy(lab)


def lab_affine_opencv(img: np.ndarray, scale: np.ndarray, offset: np.ndarray) -> np.ndarray:
    """lab_affine with OpenCV's float Lab conversions (for the benchmark; up to 2 levels off)."""
    lab = cv2.cvtColor(img.astype(np.float32) * np.float32(1 / 255), cv2.COLOR_BGR2Lab)
    lab = np.clip(
        lab * scale.astype(np.float32) + offset.astype(np.float32), (0.0, -127.0, -127.0), (100.0, 127.0, 127.0)
    )
    bgr = cv2.cvtColor(lab.astype(np.float32), cv2.COLOR_Lab2BGR)
    return np.clip(bgr * 255.0 + 0.5, 0, 255).astype(np.uint8)


# --- BGR mean / covariance inside the mask (lct, mkl statistics) -------------------------


@kernel
def _moments_kernel(img, mask, cutoff):
    total = np.zeros(3)
    products = np.zeros((3, 3))
    n = 0
    for y in range(img.shape[0]):
        for x in range(img.shape[1]):
            if mask[y, x] > cutoff:
                for i in range(3):
                    v = float(img[y, x, i])
                    total[i] += v
                    for j in range(i, 3):
                        products[i, j] += v * float(img[y, x, j])
                n += 1
    mean = total / max(n, 1)
    cov = np.empty((3, 3))
    for i in range(3):
        for j in range(i, 3):
            cov[i, j] = products[i, j] / max(n, 1) - mean[i] * mean[j]
            cov[j, i] = cov[i, j]
    return n, mean, cov


def masked_moments(img: np.ndarray, mask: np.ndarray) -> tuple[int, np.ndarray, np.ndarray]:
    """(count, mean float64 (3,), covariance float64 (3, 3)) of BGR values where mask > cutoff."""
    return _moments_kernel(img, mask, MASK_CUTOFF)


def masked_moments_numpy(img: np.ndarray, mask: np.ndarray) -> tuple[int, np.ndarray, np.ndarray]:
    px = img[mask > MASK_CUTOFF].astype(np.float64)
    if len(px) == 0:
        return 0, np.zeros(3), np.zeros((3, 3))
    return len(px), px.mean(0), np.cov(px.T, bias=True)


# --- 3x3 affine colour map in BGR (lct, mkl application) ---------------------------------


@kernel
def _affine_kernel(img, matrix, offset):
    out = np.empty_like(img)
    for y in range(img.shape[0]):
        for x in range(img.shape[1]):
            b = float(img[y, x, 0])
            g = float(img[y, x, 1])
            r = float(img[y, x, 2])
            for c in range(3):
                v = matrix[c, 0] * b + matrix[c, 1] * g + matrix[c, 2] * r + offset[c] + 0.5
                out[y, x, c] = np.uint8(min(max(v, 0.0), 255.0))
    return out


def affine_bgr(img: np.ndarray, matrix: np.ndarray, offset: np.ndarray) -> np.ndarray:
    """uint8 (H, W, 3): each pixel x -> round(clip(matrix @ x + offset)); matrix (3, 3) float64."""
    return _affine_kernel(img, matrix, offset)


def affine_bgr_numpy(img: np.ndarray, matrix: np.ndarray, offset: np.ndarray) -> np.ndarray:
    v = img.astype(np.float64) @ matrix.T + offset + 0.5
    return np.clip(v, 0, 255).astype(np.uint8)


# --- masked histograms and per-channel lookup (hist) -------------------------------------


@kernel
def _histograms_kernel(img, mask, cutoff):
    hist = np.zeros((3, 256), np.int64)
    for y in range(img.shape[0]):
        for x in range(img.shape[1]):
            if mask[y, x] > cutoff:
                for c in range(3):
                    hist[c, img[y, x, c]] += 1
    return hist


def masked_histograms(img: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """int64 (3, 256): per-channel histograms of img where mask > MASK_CUTOFF."""
    return _histograms_kernel(img, mask, MASK_CUTOFF)


def masked_histograms_numpy(img: np.ndarray, mask: np.ndarray) -> np.ndarray:
    px = img[mask > MASK_CUTOFF]
    return np.stack([np.bincount(px[:, c], minlength=256) for c in range(3)]).astype(np.int64)


@kernel
def _luts_kernel(img, luts):
    out = np.empty_like(img)
    for y in range(img.shape[0]):
        for x in range(img.shape[1]):
            for c in range(3):
                out[y, x, c] = luts[c, img[y, x, c]]
    return out


def apply_luts(img: np.ndarray, luts: np.ndarray) -> np.ndarray:
    """uint8 (H, W, 3): channel c of every pixel mapped through luts[c] (uint8 (3, 256))."""
    return _luts_kernel(img, luts)


def apply_luts_numpy(img: np.ndarray, luts: np.ndarray) -> np.ndarray:
    return np.stack([luts[c][img[..., c]] for c in range(3)], axis=-1)


# --- the modes -----------------------------------------------------------------------------


def _sqrtm(cov: np.ndarray) -> np.ndarray:
    vals, vecs = np.linalg.eigh(cov)
    return (vecs * np.sqrt(np.maximum(vals, 0.0))) @ vecs.T


def lct_matrix(cov_src: np.ndarray, cov_target: np.ndarray) -> np.ndarray:
    """DFL's linear_color_transfer 'pca': sqrt(C_t) @ inv(sqrt(C_s)), with DFL's eps (in 0-255 units)."""
    eps = 1e-5 * 255.0**2 * np.eye(3)
    return _sqrtm(cov_target + eps) @ np.linalg.inv(_sqrtm(cov_src + eps))


def mkl_matrix(cov_src: np.ndarray, cov_target: np.ndarray) -> np.ndarray:
    """DFL's color_transfer_mkl: the linear map T with T C_s T = C_t closest to identity."""
    eps = np.finfo(np.float64).eps
    vals_a, vecs_a = np.linalg.eigh(cov_src)
    da = np.sqrt(np.maximum(vals_a, eps))
    c = (da[:, None] * vecs_a.T) @ cov_target @ (vecs_a * da)
    vals_c, vecs_c = np.linalg.eigh(c)
    dc = np.sqrt(np.maximum(vals_c, eps))
    inner = (vecs_c * dc) @ vecs_c.T
    return (vecs_a / da) @ inner @ (vecs_a / da).T


def hist_luts(hist_src: np.ndarray, hist_target: np.ndarray) -> np.ndarray:
    """uint8 (3, 256) maps taking each src level to the target level of equal (mid-bin) CDF."""
    levels = np.arange(256, dtype=np.float64)
    luts = np.empty((3, 256), np.uint8)
    for c in range(3):
        cdf_s = (np.cumsum(hist_src[c]) - 0.5 * hist_src[c]) / hist_src[c].sum()
        present = hist_target[c] > 0
        cdf_t = ((np.cumsum(hist_target[c]) - 0.5 * hist_target[c]) / hist_target[c].sum())[present]
        luts[c] = np.clip(np.round(np.interp(cdf_s, cdf_t, levels[present])), 0, 255)
    return luts


def _validate(src: np.ndarray, target: np.ndarray, mask: np.ndarray, mode: str):
    if mode not in COLOR_MODES:
        raise ValueError(f"unknown colour mode {mode!r}; known: {', '.join(COLOR_MODES)}")
    if src.dtype != np.uint8 or src.ndim != 3 or src.shape[2] != 3:
        raise ValueError(f"src must be uint8 (H, W, 3), got {src.dtype} {src.shape}")
    if target.shape != src.shape or target.dtype != np.uint8:
        raise ValueError(f"target must be uint8 {src.shape}, got {target.dtype} {target.shape}")
    if mask.shape != src.shape[:2]:
        raise ValueError(f"mask must be {src.shape[:2]}, got {mask.shape}")
    mask = mask.astype(np.float32) * np.float32(1 / 255) if mask.dtype == np.uint8 else mask
    return np.ascontiguousarray(src), np.ascontiguousarray(target), np.ascontiguousarray(mask, np.float32)


def _subsampled(img: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(img[::STATS_STEP, ::STATS_STEP])


def _rct(src, target, mask, use_numba: bool) -> np.ndarray:
    moments = lab_moments if use_numba else lab_moments_numpy
    sparse_mask = _subsampled(mask)
    n_s, mean_s, std_s = moments(_subsampled(src), sparse_mask)
    n_t, mean_t, std_t = moments(_subsampled(target), sparse_mask)
    if min(n_s, n_t) * STATS_STEP**2 < MIN_PIXELS:
        return src
    scale = std_t / np.maximum(std_s, MIN_STD)
    apply = lab_affine if use_numba else lab_affine_numpy
    return apply(src, scale, mean_t - mean_s * scale)


def _linear(src, target, mask, use_numba: bool, matrix_of) -> np.ndarray:
    moments = masked_moments if use_numba else masked_moments_numpy
    n_s, mean_s, cov_s = moments(src, mask)
    n_t, mean_t, cov_t = moments(target, mask)
    if min(n_s, n_t) < MIN_PIXELS:
        return src
    matrix = matrix_of(cov_s, cov_t)
    apply = affine_bgr if use_numba else affine_bgr_numpy
    return apply(src, matrix, mean_t - matrix @ mean_s)


def _hist(src, target, mask, use_numba: bool) -> np.ndarray:
    histograms = masked_histograms if use_numba else masked_histograms_numpy
    hist_s, hist_t = histograms(src, mask), histograms(target, mask)
    if min(hist_s[0].sum(), hist_t[0].sum()) < MIN_PIXELS:
        return src
    return (apply_luts if use_numba else apply_luts_numpy)(src, hist_luts(hist_s, hist_t))


def _region(mask: np.ndarray, margin: float) -> tuple[int, int, int, int]:
    """(x0, y0, x1, y1): box of mask > 0 grown by margin * size (or a pixel more), clipped; empty if no mask."""
    x, y, w, h = cv2.boundingRect((mask > 0).view(np.uint8))
    if w == 0 or h == 0:
        return 0, 0, 0, 0
    grow = int(np.ceil(margin * max(mask.shape)))
    # The origin on the STATS_STEP grid, so rct's subsampled statistics take the same pixels
    # whatever the margin.
    x0, y0 = max(x - grow, 0) // STATS_STEP * STATS_STEP, max(y - grow, 0) // STATS_STEP * STATS_STEP
    return x0, y0, min(x + w + grow, mask.shape[1]), min(y + h + grow, mask.shape[0])


def _transfer(src, target, mask, mode, margin: float, use_numba: bool) -> np.ndarray:
    if mode == "none":
        return src
    src, target, mask = _validate(src, target, mask, mode)
    x0, y0, x1, y1 = _region(mask, margin)
    if x1 == x0:
        return src
    box = np.s_[y0:y1, x0:x1]
    parts = (np.ascontiguousarray(src[box]), np.ascontiguousarray(target[box]), np.ascontiguousarray(mask[box]))
    if mode == "rct":
        recoloured = _rct(*parts, use_numba)
    elif mode == "lct":
        recoloured = _linear(*parts, use_numba, lct_matrix)
    elif mode == "mkl":
        recoloured = _linear(*parts, use_numba, mkl_matrix)
    else:
        recoloured = _hist(*parts, use_numba)
    if recoloured is parts[0]:  # too few masked pixels: nothing recoloured
        return src
    out = src.copy()
    out[box] = recoloured
    return out


def transfer_color(
    src: np.ndarray, target: np.ndarray, mask: np.ndarray, mode: str, margin: float = DEFAULT_MARGIN
) -> np.ndarray:
    """src (the swapped crop) recoloured so its statistics inside the mask match target's.

    src, target: uint8 (H, W, 3) BGR aligned crops of the same face geometry; mask: float32
    (H, W) in [0, 1] (uint8 0/255 accepted), statistics where mask > 0.5. Returns uint8
    (H, W, 3) BGR, recoloured over the box of mask > 0 grown by margin * H (see the module
    doc; margin >= 1 recolours the whole crop), src's colours elsewhere. Returns src itself
    for mode 'none' and when the mask holds fewer than MIN_PIXELS pixels.
    """
    return _transfer(src, target, mask, mode, margin, use_numba=True)


def transfer_color_numpy(
    src: np.ndarray, target: np.ndarray, mask: np.ndarray, mode: str, margin: float = DEFAULT_MARGIN
) -> np.ndarray:
    """transfer_color with every kernel replaced by its NumPy/OpenCV reference."""
    return _transfer(src, target, mask, mode, margin, use_numba=False)


def warmup() -> None:
    """Compile every colour kernel (or load it from the cache) on tiny arrays."""
    rng = np.random.default_rng(0)
    img = rng.integers(0, 256, (12, 12, 3), dtype=np.uint8)
    mask = np.ones((12, 12), np.float32)
    for mode in COLOR_MODES:
        transfer_color(img, img[::-1].copy(), mask, mode)
