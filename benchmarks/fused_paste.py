"""The paste's last two steps, OpenCV's bilinear warpAffine of the enlarged BGRA crop then the
engine's composite kernel, against one Numba kernel doing both in a single pass over the ROI
(issue 29, item 1: "one kernel ... no full-frame temporaries"), with OpenCV on 1 and 2 threads.

    python benchmarks/fused_paste.py [--repeat 200] [--check 300]

The fused kernel computes OpenCV's own fixed-point sample positions (1/32 px from 1/1024 px
coordinates) and bilinear weights, so its pixels are OpenCV's then the composite's bit for bit:
--check random crops, alphas (0, 255 and between), rotations, scales and ROIs, borders included,
are compared before any timing. Timed on the 1920x1080 face of benchmarks/blend_profile.py with the
detail bank's 256 px crop (the staged warp's k = 3 enlargement, as the blend stage pastes it),
interleaved call by call; minimum and median ms.
"""

from __future__ import annotations

import argparse
import statistics
import time

import cv2
import numpy as np
from blend_detail_steps import face_slot, hopper_bank
from blend_profile import FRAMES, scene
from numba import njit
from swapstream.engine.face.align import transform_points
from swapstream.engine.face.mask import lips_mask
from swapstream.engine.face.pose import yaw_pitch_roll
from swapstream.engine.image import blend
from swapstream.engine.image.target_detail import TargetDetail

from swapstream.bench.report import cpu_name


@njit(cache=False, nogil=True, fastmath=True)
def warp_composite(frame, src, m0, m1, m2, m3, m4, m5):
    """frame (uint8 (h, w, 3), a view) composited in place with src (uint8 BGRA) warped bilinearly
    through m (ROI pixel -> src pixel), constant-0 border: cv2.warpAffine then composite_bgra."""
    h, w = src.shape[0], src.shape[1]
    n = frame.shape[1]
    ax, ay = np.empty(n, np.int64), np.empty(n, np.int64)
    for x in range(n):
        ax[x], ay[x] = np.int64(np.rint(m0 * x * 1024.0)), np.int64(np.rint(m3 * x * 1024.0))
    acc = np.zeros(4, np.int64)
    for y in range(frame.shape[0]):
        bx = np.int64(np.rint((m1 * y + m2) * 1024.0)) + 16
        by = np.int64(np.rint((m4 * y + m5) * 1024.0)) + 16
        row = frame[y]
        for x in range(n):
            sx, sy = (bx + ax[x]) >> 5, (by + ay[x]) >> 5
            ix, iy, fx, fy = sx >> 5, sy >> 5, sx & 31, sy & 31
            acc[:] = 0
            for j in range(2):
                yy = iy + j
                if 0 <= yy < h:
                    wy = fy if j else 32 - fy
                    for i in range(2):
                        xx = ix + i
                        if 0 <= xx < w:
                            wt = (fx if i else 32 - fx) * wy
                            for c in range(4):
                                acc[c] += np.int64(src[yy, xx, c]) * wt
            a = (acc[3] + 512) >> 10
            if a == 0:
                continue
            for c in range(3):
                t = np.int64(row[x, c]) * (255 - a) + ((acc[c] + 512) >> 10) * a + 128
                row[x, c] = np.uint8((t + (t >> 8)) >> 8)


def reference(frame: np.ndarray, src: np.ndarray, m: np.ndarray) -> None:
    """What the engine does: OpenCV's warp, then its composite kernel."""
    flags = cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP
    warped = cv2.warpAffine(src, m, frame.shape[1::-1], flags=flags, borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    blend.composite_bgra(frame, warped)


def check(trials: int, seed: int = 0) -> int:
    """Random cases where the fused kernel's pixels differ from the reference's (0 = bit-exact)."""
    rng = np.random.default_rng(seed)
    bad = 0
    for _ in range(trials):
        side = int(rng.integers(20, 200))
        src = rng.integers(0, 256, (side, side + int(rng.integers(-5, 5)), 4), dtype=np.uint8)
        kind = rng.choice([0, 255, -1], size=src.shape[:2], p=[0.3, 0.4, 0.3])
        src[..., 3] = np.where(kind == -1, rng.integers(1, 255, src.shape[:2]), kind)
        angle, scale = rng.uniform(-0.5, 0.5), rng.uniform(0.3, 1.5)
        c, s = scale * np.cos(angle), scale * np.sin(angle)
        m = np.array([[c, -s, rng.uniform(-30, 30)], [s, c, rng.uniform(-30, 30)]])
        h, w = int(rng.integers(10, 300)), int(rng.integers(10, 300))
        frame = rng.integers(0, 256, (h + 10, w + 10, 3), dtype=np.uint8)
        want = frame.copy()
        reference(want[5 : 5 + h, 5 : 5 + w], src, m)
        warp_composite(frame[5 : 5 + h, 5 : 5 + w], src, *m.ravel())
        bad += not np.array_equal(frame, want)
    return bad


def bank_paste_inputs():
    """(frame, enlarged BGRA crop, ROI box, ROI -> enlarged-crop matrix) of the 1080p face."""
    h, w, face_px = FRAMES["1920x1080"]
    frame, landmarks, m = scene(face_px, (h, w, 3), 128)
    slot = face_slot(frame, landmarks, m, 128)
    points = transform_points(landmarks, m)
    mask = blend.feather_mask(slot.hull, 6, 6)
    keep = mask * (1 - lips_mask(points, 128))
    target = TargetDetail(hopper_bank(), 64)
    packed, support = target.sharpen_bgra(slot.swapped, points, keep, mask, yaw_pitch_roll(landmarks)[:2], 1.0, 1)
    kb = packed.shape[0] / 128
    m_big = np.asarray(m, np.float64) * kb
    m_big[:, 2] += 0.5 * kb - 0.5
    roi = blend.roi_of_box(support, m_big, frame.shape)
    k = blend.staged_factor(blend.fine_detail.upscale_of(m_big), packed.shape[0])
    crop, onto = blend._cut(packed, blend._roi_matrix(m_big, roi), support)
    big = cv2.resize(crop, None, fx=k, fy=k, interpolation=cv2.INTER_CUBIC)
    onto_big = onto * k
    onto_big[:, 2] += 0.5 * k - 0.5
    return frame, big, roi, onto_big


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=200)
    parser.add_argument("--check", type=int, default=300, help="random cases compared bit for bit first")
    args = parser.parse_args()
    print(f"bit-exact check: {args.check - check(args.check)} of {args.check} random cases identical")
    frame, big, (x0, y0, x1, y1), onto_big = bank_paste_inputs()
    print(f"{cpu_name()}; ROI {x1 - x0}x{y1 - y0} px, enlarged crop {big.shape[1]}x{big.shape[0]}")
    a, b = frame.copy(), frame.copy()
    roi_a, roi_b = a[y0:y1, x0:x1], b[y0:y1, x0:x1]
    base = roi_a.copy()
    reference(roi_a, big, onto_big)
    warp_composite(roi_b, big, *onto_big.ravel())
    print(f"same pixels on the face: {np.array_equal(a, b)}")
    for threads in (1, 2):
        cv2.setNumThreads(threads)
        runs = {
            "OpenCV warp + composite kernel": lambda: reference(roi_a, big, onto_big),
            "fused Numba kernel": lambda: warp_composite(roi_b, big, *onto_big.ravel()),
        }
        times = {name: [] for name in runs}
        for _ in range(args.repeat):
            for name, run in runs.items():
                roi_a[:], roi_b[:] = base, base
                t = time.perf_counter()
                run()
                times[name].append(1e3 * (time.perf_counter() - t))
        for name, ms in times.items():
            print(f"OpenCV threads {threads}: {name:32s} min {min(ms):.3f} median {statistics.median(ms):.3f} ms")


if __name__ == "__main__":
    main()
