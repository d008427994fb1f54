"""Soft face masks and pasting a face crop back into the frame over its region of interest.

Frames and crops are uint8 BGR; masks float32 in [0, 1]; matrices (2, 3) float64 frame->crop
as engine.face.align.alignment_matrix returns them. Only the face's region of interest (ROI) is
read or written, and a pixel whose warped alpha is 0 keeps its exact value: everything outside
the warped support of the mask stays bit-exact.

Cost per face (issue #5, benchmarks/results_log/2026-11-to-2026-12-06.md, "Kernels"): the
feather paste is one OpenCV BGRA warp of the crop (only around its mask's support) with its mask
as alpha plus one vectorised integer composite over the ROI; the mask's erosion is an octagon
(separable square + small diamond), not a disc whose cost grows with the radius squared.
"""

from __future__ import annotations

import math

import cv2
import numpy as np
from swapstream.engine.image import detail as fine_detail
from swapstream.engine.image._jit import kernel

from swapstream.common.choices import BLEND_MODES

# Alpha values this close to 0 or 1 are snapped to it: they change the result by < 0.5 grey
# level, and snapping keeps "untouched" pixels exactly untouched.
ALPHA_SNAP = 1.0 / 512.0
# bicubic_warp enlarges the crop first from this upscale on (below it the crop is shrunk: the
# direct warp), to at most this many pixels a side. 1.0, not 1.2: the target's detail pastes a
# 256 px crop, about 1.1x onto a 640x480 face, where the direct warp took 2.5x the staged one
# (2.37 vs 0.95 ms) for the same difference the staged warp has at 1.4x (0.2-0.3 grey levels on
# average, sharpness 0.93: benchmarks/results_log/2026-12-07-frame-budget.md; see staged_factor).
# The side: on a 500 px face at 1080p the staged warp took 1.30 ms at 768 px against 2.01 ms at
# 1408 px on an idle Zen 4 core (2-10x more under load), for pixels 0.02 grey levels apart on
# average (benchmarks/blend_profile.py).
STAGED_MIN_UPSCALE = 1.0
STAGED_MAX_SIDE = 800
# Crop pixels around the alpha's support that a warp of a BGRA crop reads (bicubic_warp's
# `support`): the cubic taps reach 2 px, and the 2 more keep the enlargement's edge rows (where the
# cut crop's border replicates) out of every tap that lands on alpha > 0.
SUPPORT_MARGIN = 4


def _octagon_morphology(mask: np.ndarray, radius: int, erode: bool) -> np.ndarray:
    """uint8 mask eroded (or dilated) by a regular octagon of inradius `radius` px.

    A disc element is not separable and costs O(radius^2) per pixel (measured 2.2 ms for
    radius 13 on a 256 px float mask); an octagon is a square (separable, O(1) per pixel in
    OpenCV) followed by `steps` 3x3 crosses (a diamond), ~0.2 ms, and lies within 8% of the
    disc: it reaches radius along the axes and the diagonals, 1.08 radius in between.
    """
    side = round((math.sqrt(2.0) - 1.0) * radius)  # square half-side; the diamond adds the rest
    steps = radius - side
    op = cv2.erode if erode else cv2.dilate
    border = {"borderType": cv2.BORDER_CONSTANT, "borderValue": 0}
    out = op(mask, np.ones((2 * side + 1, 2 * side + 1), np.uint8), **border) if side else mask
    if steps:
        out = op(out, cv2.getStructuringElement(cv2.MORPH_CROSS, (3, 3)), iterations=steps, **border)
    return out


def feather_mask(mask: np.ndarray, erode_px: int, blur_px: int) -> np.ndarray:
    """float32 (R, R) soft mask in [0, 1]: mask eroded by erode_px, then blurred over blur_px.

    mask: float32 in [0, 1] or uint8 0/255, (R, R). A negative erode_px dilates instead. The
    erosion uses an octagon of inradius erode_px (see _octagon_morphology) on the mask
    quantised to uint8 (1/255 steps, the precision paste_face's alpha has anyway). The blur
    is Gaussian with sigma = blur_px / 3 truncated at blur_px, so the soft edge spans blur_px
    on each side of the eroded outline; choose erode_px >= blur_px to keep the feather inside
    the original mask. Beyond the crop border the mask counts as 0, so a mask touching the
    border fades out instead of leaving a seam. Values < ALPHA_SNAP are exactly 0 and values
    > 1 - ALPHA_SNAP exactly 1.
    """
    if mask.ndim != 2:
        raise ValueError(f"mask must be 2-D (R, R), got {mask.shape}")
    if erode_px:
        quantised = mask if mask.dtype == np.uint8 else cv2.convertScaleAbs(mask.astype(np.float32), alpha=255.0)
        soft = _octagon_morphology(quantised, abs(erode_px), erode_px > 0).astype(np.float32) * np.float32(1 / 255)
    elif mask.dtype == np.uint8:
        soft = mask.astype(np.float32) * np.float32(1 / 255)
    else:
        soft = mask.astype(np.float32)
    if blur_px > 0:
        k = 2 * blur_px + 1
        soft = cv2.GaussianBlur(soft, (k, k), blur_px / 3.0, borderType=cv2.BORDER_CONSTANT)
    soft[soft < ALPHA_SNAP] = 0.0
    soft[soft > 1.0 - ALPHA_SNAP] = 1.0
    return soft


@kernel
def _composite_kernel(frame, face, alpha):
    for y in range(frame.shape[0]):
        for x in range(frame.shape[1]):
            a = alpha[y, x]
            if a <= 0.0:
                continue
            if a >= 1.0:
                for c in range(3):
                    frame[y, x, c] = face[y, x, c]
                continue
            for c in range(3):
                f = np.float32(frame[y, x, c])
                frame[y, x, c] = np.uint8(f + (np.float32(face[y, x, c]) - f) * a + np.float32(0.5))


def composite(frame: np.ndarray, face: np.ndarray, alpha: np.ndarray) -> None:
    """In place: frame = round(frame * (1 - alpha) + face * alpha); alpha 0 leaves a pixel untouched.

    frame: uint8 (h, w, 3), may be a strided view (the ROI of a bigger frame); face: uint8
    (h, w, 3); alpha: float32 (h, w) in [0, 1].
    """
    _composite_kernel(frame, face, alpha)


def composite_numpy(frame: np.ndarray, face: np.ndarray, alpha: np.ndarray) -> None:
    """Reference for composite (same float32 arithmetic)."""
    a = alpha[..., None]
    f = frame.astype(np.float32)
    blended = (f + (face.astype(np.float32) - f) * a + np.float32(0.5)).astype(np.uint8)
    np.copyto(frame, blended, where=a > 0)


def support_box(mask_crop: np.ndarray) -> tuple[int, int, int, int]:
    """(x0, y0, x1, y1): bounding box in crop pixels of mask_crop > 0, half-open; x1 == x0 when empty."""
    x, y, w, h = cv2.boundingRect((mask_crop > 0).view(np.uint8))
    return (0, 0, 0, 0) if w == 0 or h == 0 else (x, y, x + w, y + h)


def face_roi(mask_crop: np.ndarray, matrix: np.ndarray, frame_shape: tuple[int, ...]) -> tuple[int, int, int, int]:
    """(x0, y0, x1, y1): frame box, clipped to the frame, holding every pixel the mask's support reaches.

    Bilinear sampling reaches one crop pixel beyond the support, so the support's box is grown
    by one crop pixel before it is mapped into the frame. Empty (x0 == x1) when nothing shows.
    """
    return roi_of_box(support_box(mask_crop), matrix, frame_shape)


def roi_of_box(
    box: tuple[int, int, int, int], matrix: np.ndarray, frame_shape: tuple[int, ...]
) -> tuple[int, int, int, int]:
    """face_roi from the mask support's box (support_box: crop pixels, half-open)."""
    bx0, by0, bx1, by1 = box
    if bx1 == bx0:
        return 0, 0, 0, 0
    corners = np.array([[bx0 - 1, by0 - 1], [bx1, by0 - 1], [bx0 - 1, by1], [bx1, by1]], np.float64)
    inverse = cv2.invertAffineTransform(matrix)
    pts = corners @ inverse[:, :2].T + inverse[:, 2]
    fh, fw = frame_shape[:2]
    x0 = min(max(math.floor(pts[:, 0].min()) - 1, 0), fw)
    y0 = min(max(math.floor(pts[:, 1].min()) - 1, 0), fh)
    x1 = max(min(math.ceil(pts[:, 0].max()) + 2, fw), x0)
    y1 = max(min(math.ceil(pts[:, 1].max()) + 2, fh), y0)
    if x1 == x0 or y1 == y0:
        return 0, 0, 0, 0
    return x0, y0, x1, y1


def warp_to_roi(
    face_crop: np.ndarray, mask_crop: np.ndarray, matrix: np.ndarray, roi: tuple[int, int, int, int]
) -> tuple[np.ndarray, np.ndarray]:
    """The crop and its mask resampled onto the ROI's frame pixels: uint8 (h, w, 3), float32 (h, w).

    The frame->crop matrix shifted to the ROI origin is used directly as the destination->source
    map (WARP_INVERSE_MAP), so no inverse is computed and the placement is exactly the inverse of
    the alignment. Alpha is 0 wherever the sample falls outside the mask's support or the crop.
    The face is resampled bicubically: a face is usually upscaled 2-5x here, and bilinear
    interpolation blurred it on top of the model's own softness (a perfect 128 px render pasted
    onto a 300 px close-up keeps sharpness ratio 0.68 bicubic vs 0.47 bilinear,
    benchmarks/results_log/2026-11-to-2026-12-06.md).
    """
    x0, y0, x1, y1 = roi
    shifted = _roi_matrix(matrix, roi)
    size = (x1 - x0, y1 - y0)
    face_flags = cv2.INTER_CUBIC | cv2.WARP_INVERSE_MAP
    face = cv2.warpAffine(face_crop, shifted, size, flags=face_flags, borderMode=cv2.BORDER_REPLICATE)
    flags = cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP
    alpha = cv2.warpAffine(mask_crop, shifted, size, flags=flags, borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    return face, alpha


def warp_detail_alpha(detail_mask: np.ndarray | None, matrix: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """uint8 (h, w): detail_mask (float32 (R, R) in [0, 1]) resampled onto the ROI, never above
    alpha (the blend's warped alpha, uint8 (h, w)), so detail lands only where the face did;
    alpha itself when detail_mask is None.

    The mask is feathered (smooth), so a bilinear warp holds it (0.3 ms where bicubic took
    1.3 ms on a 330 px ROI); the minimum keeps pixels the paste left untouched untouched.
    """
    if detail_mask is None:
        return alpha
    quantised = cv2.convertScaleAbs(np.ascontiguousarray(detail_mask, np.float32), alpha=255.0)
    flags = cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP
    warped = cv2.warpAffine(
        quantised, matrix, alpha.shape[1::-1], flags=flags, borderMode=cv2.BORDER_CONSTANT, borderValue=0
    )
    return cv2.min(warped, alpha)


def staged_factor(upscale: float, crop_side: int) -> int:
    """The integer k bicubic_warp enlarges a crop_side px crop by before its bilinear warp, or 1
    for the direct bicubic warp: an upscale under STAGED_MIN_UPSCALE, or under 1.2 where the side
    cap keeps k below 2 x upscale (there k = 2 lost sharpness: 0.83 of the direct warp's). The
    device paste (engine.gpu.paste) takes the same k, so both paths give the same pixels."""
    k = min(math.ceil(2 * upscale), max(2, STAGED_MAX_SIDE // crop_side))
    return 1 if upscale < STAGED_MIN_UPSCALE or (upscale < 1.2 and k < 2 * upscale) else k


def bicubic_warp(
    crop: np.ndarray, matrix: np.ndarray, size: tuple[int, int], support: tuple[int, int, int, int] | None = None
) -> np.ndarray:
    """uint8 (h, w[, C]): crop (uint8 (R, R[, C])) resampled bicubically onto a (w, h) = size
    destination, matrix (2, 3) destination pixel -> crop pixel; 0 beyond the crop.

    OpenCV's bicubic warpAffine costs 16 taps per destination pixel (5.7 ms for a 550 px ROI on
    a slow Xeon). Enlarged more than STAGED_MIN_UPSCALE times, the crop is first enlarged by the
    integer k = ceil(2 upscale) with a separable bicubic resize, then warped bilinearly at about
    2:1, where bilinear loses little: within a few grey levels of the direct warp, sharpness
    0.67 vs 0.68 by eval's measure (k = ceil(upscale) lost 0.04), and 2.5-3x faster
    (benchmarks/results_log/2026-11-to-2026-12-06.md, "A faster paste").

    support: for a BGRA crop, the box (support_box) holding every pixel whose alpha is > 0: then
    only the crop within SUPPORT_MARGIN px of it is resampled (a whole face's support is about
    half the crop, and the enlargement is the staged warp's largest step). The warped alpha is the
    same, and so is every warped colour where that alpha is > 0; elsewhere colours may be 0.
    """
    k = staged_factor(fine_detail.upscale_of(matrix), crop.shape[0])
    if support is not None:
        crop, matrix = _cut(crop, matrix, support)
    border = {"borderMode": cv2.BORDER_CONSTANT, "borderValue": 0}
    if k < 2:
        return cv2.warpAffine(crop, matrix, size, flags=cv2.INTER_CUBIC | cv2.WARP_INVERSE_MAP, **border)
    big = cv2.resize(crop, None, fx=k, fy=k, interpolation=cv2.INTER_CUBIC)
    onto_big = np.asarray(matrix, np.float64) * k
    onto_big[:, 2] += 0.5 * k - 0.5  # crop pixel centre p lies at (p + 0.5) k - 0.5 in big
    return cv2.warpAffine(big, onto_big, size, flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP, **border)


def _cut(crop: np.ndarray, matrix: np.ndarray, support: tuple[int, int, int, int]) -> tuple[np.ndarray, np.ndarray]:
    """(the crop within SUPPORT_MARGIN px of the support box, a view; matrix onto that part)."""
    h, w = crop.shape[:2]
    x0, y0 = max(support[0] - SUPPORT_MARGIN, 0), max(support[1] - SUPPORT_MARGIN, 0)
    x1, y1 = min(support[2] + SUPPORT_MARGIN, w), min(support[3] + SUPPORT_MARGIN, h)
    onto = np.array(matrix, np.float64)
    onto[:, 2] -= (x0, y0)
    return crop[y0:y1, x0:x1], onto


def _roi_matrix(matrix: np.ndarray, roi: tuple[int, int, int, int]) -> np.ndarray:
    """The frame->crop matrix with the ROI's origin as frame pixel (0, 0): float64 (2, 3)."""
    shifted = np.array(matrix, np.float64)
    shifted[:, 2] += shifted[:, :2] @ (roi[0], roi[1])
    return shifted


@kernel
def _composite_bgra_kernel(frame, face):
    # Alpha 0 (much of the face's box) is skipped: blending every pixel was 3.7x slower (results_log/
    # 2026-12-07-frame-budget.md). (v + 127) // 255 as (w + (w >> 8)) >> 8, w = v + 128: equal for v <= 65025.
    for y in range(frame.shape[0]):
        row, src = frame[y], face[y]
        for x in range(row.shape[0]):
            a = np.uint32(src[x, 3])
            if a != 0:
                for c in range(3):
                    v = np.uint32(row[x, c]) * (np.uint32(255) - a) + np.uint32(src[x, c]) * a + np.uint32(128)
                    row[x, c] = src[x, c] if a == 255 else np.uint8((v + (v >> np.uint32(8))) >> np.uint32(8))


def composite_bgra(frame: np.ndarray, face: np.ndarray) -> None:
    """In place: frame = round((frame * (255 - A) + face * A) / 255), A = face's alpha channel.
    frame: uint8 (h, w, 3), may be a strided view; face: uint8 (h, w, 4) BGRA. A == 0 leaves the
    pixel exactly as it was."""
    _composite_bgra_kernel(frame, face)


def composite_bgra_numpy(frame: np.ndarray, face: np.ndarray) -> None:
    """Reference for composite_bgra."""
    a = face[..., 3:].astype(np.int32)
    frame[:] = ((frame.astype(np.int32) * (255 - a) + face[..., :3].astype(np.int32) * a + 127) // 255).astype(np.uint8)


def warp_bgra(
    face_crop: np.ndarray,
    mask_crop: np.ndarray,
    matrix: np.ndarray,
    size: tuple[int, int],
    support: tuple[int, int, int, int] | None = None,
) -> np.ndarray:
    """uint8 (h, w, 4): the crop resampled onto a (w, h) = size ROI (bicubic_warp) with its mask
    as alpha, quantised to 1/255 (< 0.5 grey level): one pass instead of a face warp and a float
    alpha warp. face_crop: uint8 (R, R, 3); mask_crop: float32 (R, R) in [0, 1]; matrix: float64
    (2, 3) ROI pixel -> crop pixel. Alpha is 0 beyond the crop and wherever the bicubic taps hold
    no mask > 1/510 (negative lobes saturate at 0). support: mask_crop's support_box, to resample
    only the part of the crop it needs (bicubic_warp).
    """
    alpha = cv2.convertScaleAbs(mask_crop, alpha=255.0)  # rounds and saturates to uint8
    return bicubic_warp(cv2.merge((*cv2.split(face_crop), alpha)), matrix, size, support)


def paste_bgra(frame: np.ndarray, bgra: np.ndarray, matrix: np.ndarray, support: tuple[int, int, int, int]) -> tuple:
    """In place: paste_face's feather path without detail for a packed BGRA crop (uint8 (S, S, 4));
    support: the support_box of the float mask its alpha was rounded from. Returns the ROI."""
    roi = roi_of_box(support, matrix, frame.shape)
    if roi[2] > roi[0]:
        roi_frame = frame[roi[1] : roi[3], roi[0] : roi[2]]
        _composite_bgra_kernel(roi_frame, bicubic_warp(bgra, _roi_matrix(matrix, roi), roi_frame.shape[1::-1], support))
    return roi


def poisson_face(roi_frame: np.ndarray, face: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """uint8 (h, w, 3): face gradient-domain cloned into roi_frame (cv2.seamlessClone, NORMAL_CLONE).

    The clone's colours follow the frame along the border of the mask support (alpha > 0); it
    solves only inside the support's bounding box. paste_face still composites the result with
    alpha, so Poisson changes pixels inside the mask's support only. Tens of ms: offline only.
    """
    support = (alpha > 0).astype(np.uint8) * 255
    # seamlessClone needs a zero ring around the support inside the image.
    support[0, :] = support[-1, :] = 0
    support[:, 0] = support[:, -1] = 0
    x, y, w, h = cv2.boundingRect(support)
    if w < 3 or h < 3:
        return face
    # seamlessClone places the support's box centred at this point: its own centre, so no shift.
    centre = (x + w // 2, y + h // 2)
    return cv2.seamlessClone(face, np.ascontiguousarray(roi_frame), support, centre, cv2.NORMAL_CLONE)


def paste_face(
    frame: np.ndarray,
    face_crop: np.ndarray,
    mask_crop: np.ndarray,
    matrix: np.ndarray,
    mode: str = "feather",
    detail: float = 0.0,
    detail_mask: np.ndarray | None = None,
) -> tuple[int, int, int, int]:
    """Composite an aligned face crop back into frame, IN PLACE, over the face's ROI only.

    frame: uint8 (H, W, 3) BGR; face_crop: uint8 (R, R, 3) BGR (swapped, colour-corrected);
    mask_crop: float32 (R, R) in [0, 1], already feathered; matrix: (2, 3) float64 frame->crop.
    mode 'feather': one BGRA warp + integer alpha composite (warp_bgra, alpha in 1/255
    steps); 'poisson': seamlessClone first (see poisson_face), then the float alpha composite
    (composite). detail > 0: then add that much of the original's detail finer than the crop
    holds (engine.image.detail), weighted by detail_mask (float32 (R, R), <= mask_crop; default
    mask_crop). Pixels whose warped alpha is 0 stay bit-exact. Returns the ROI
    (x0, y0, x1, y1) in frame pixels (x1 == x0 when the face is entirely outside the frame).
    """
    if mode not in BLEND_MODES:
        raise ValueError(f"unknown blend mode {mode!r}; known: {', '.join(BLEND_MODES)}")
    if frame.dtype != np.uint8 or frame.ndim != 3 or frame.shape[2] != 3:
        raise ValueError(f"frame must be uint8 (H, W, 3), got {frame.dtype} {frame.shape}")
    size = face_crop.shape[:2]
    if face_crop.dtype != np.uint8 or face_crop.shape != (*size, 3) or mask_crop.shape != size:
        shapes = f"{face_crop.dtype} {face_crop.shape}, {mask_crop.shape}"
        raise ValueError(f"face_crop uint8 (R, R, 3) and mask_crop (R, R) expected, got {shapes}")
    mask_crop = np.ascontiguousarray(mask_crop, np.float32)
    support = support_box(mask_crop)
    roi = roi_of_box(support, matrix, frame.shape)
    x0, y0, x1, y1 = roi
    if x1 == x0:
        return roi
    roi_frame = frame[y0:y1, x0:x1]
    face_crop = np.ascontiguousarray(face_crop)
    source = fine_detail.detail_source(roi_frame, fine_detail.upscale_of(matrix)) if detail > 0 else None
    roi_matrix = _roi_matrix(matrix, roi)
    if mode == "poisson":
        face, alpha = warp_to_roi(face_crop, mask_crop, matrix, roi)
        composite(roi_frame, poisson_face(roi_frame, face, alpha), alpha)
        if source is not None:
            alpha = np.ceil(alpha * 255).astype(np.uint8)  # > 0 exactly where composite changed pixels
            detail_alpha = warp_detail_alpha(detail_mask, roi_matrix, alpha)
            fine_detail.add_detail(roi_frame, source, detail_alpha, detail)
    else:
        warped = warp_bgra(face_crop, mask_crop, roi_matrix, roi_frame.shape[1::-1], support)
        if source is None:
            _composite_bgra_kernel(roi_frame, warped)
        else:
            alpha = warped[:, :, 3]
            detail_alpha = warp_detail_alpha(detail_mask, roi_matrix, alpha)
            fine_detail.composite_with_detail(roi_frame, warped, detail_alpha, source[1], detail)
    return roi


def warmup() -> None:
    """Compile the composite kernel (or load it from the cache) for the array layouts it meets.

    A ROI is a strided view of the frame (Numba layout 'A'), unless it spans the whole frame
    (layout 'C'); both are compiled so neither costs the first frame a compilation.
    """
    frame = np.zeros((8, 8, 3), np.uint8)
    face = np.full((8, 8, 3), 200, np.uint8)
    alpha = np.linspace(0, 1, 64, dtype=np.float32).reshape(8, 8)
    composite(frame, face, alpha)
    composite(frame[1:5, 1:5], np.ascontiguousarray(face[:4, :4]), np.ascontiguousarray(alpha[:4, :4]))
    bgra = np.dstack([face, (alpha * 255).astype(np.uint8)])
    composite_bgra(frame, bgra)
    fine_detail.warmup()
    composite_bgra(frame[1:5, 1:5], np.ascontiguousarray(bgra[:4, :4]))
