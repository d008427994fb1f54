"""Before and after side by side, interleaved call by call: the blend's paste with the target's
detail bank, one face at the face sizes of 640x480, 1280x720 and 1920x1080 video. Before: the
code of 2026-12-06 (TargetDetail.sharpen, then paste_face's feather path with the whole crop
enlarged and the direct bicubic warp below 1.2x, copied here as it was); after: the fused
sharpen_bgra then blend.paste_bgra.

    python benchmarks/bank_paste_ab.py [--repeat 200]

Each round calls before, then after, on a fresh copy of the frame (the copy is not timed); the
table gives each one's median and minimum ms and the ratio of the medians. On a busy machine the
minimum estimates the uncontended cost, and the interleaving gives both the same contention.
"""

from __future__ import annotations

import argparse
import math
import statistics
import time

import cv2
import numpy as np
from blend_detail_steps import face_slot, hopper_bank
from blend_profile import FRAMES, scene
from swapstream.engine.face.align import transform_points
from swapstream.engine.face.mask import lips_mask
from swapstream.engine.face.pose import yaw_pitch_roll
from swapstream.engine.image import blend, target_detail
from swapstream.engine.image.target_detail import TargetDetail

from swapstream.bench.report import cpu_name


def pastes(frame, landmarks, m, crop: int, bank):
    """(before, after): callables pasting one face into the frame copy they are given."""
    slot = face_slot(frame, landmarks, m, crop)
    points = transform_points(landmarks, m)
    mask = blend.feather_mask(slot.hull, round(0.05 * crop), round(0.05 * crop))
    keep = mask * (1 - lips_mask(points, crop))
    pose = yaw_pitch_roll(landmarks)[:2]
    k = bank.size / crop
    m_big = np.asarray(m, np.float64) * k
    m_big[:, 2] += 0.5 * k - 0.5
    old, new = TargetDetail(bank, crop // 2), TargetDetail(bank, crop // 2)

    def before(out):
        big = old.sharpen(slot.swapped, points, keep, pose, 1.0, 1)
        mask_big = cv2.resize(mask, big.shape[1::-1], interpolation=cv2.INTER_LINEAR)
        _paste_before(out, big, mask_big, m_big)

    def after(out):
        packed, support = new.sharpen_bgra(slot.swapped, points, keep, mask, pose, 1.0, 1)
        blend.paste_bgra(out, packed, m_big, support)

    return before, after


def _paste_before(frame, crop, mask, matrix) -> None:
    """paste_face's feather path without detail as it was on 2026-12-06."""
    x0, y0, x1, y1 = blend.face_roi(mask, matrix, frame.shape)
    if x1 == x0:
        return
    roi_frame = frame[y0:y1, x0:x1]
    rm, size = blend._roi_matrix(matrix, (x0, y0, x1, y1)), (x1 - x0, y1 - y0)
    bgra = cv2.merge((*cv2.split(crop), cv2.convertScaleAbs(mask, alpha=255.0)))
    upscale = 1.0 / math.sqrt(abs(float(np.linalg.det(rm[:, :2]))))
    k = 1 if upscale < 1.2 else min(math.ceil(2 * upscale), max(2, blend.STAGED_MAX_SIDE // crop.shape[0]))
    if k < 2:
        warped = cv2.warpAffine(bgra, rm, size, flags=cv2.INTER_CUBIC | cv2.WARP_INVERSE_MAP)
    else:
        onto = rm * k
        onto[:, 2] += 0.5 * k - 0.5
        big = cv2.resize(bgra, None, fx=k, fy=k, interpolation=cv2.INTER_CUBIC)
        warped = cv2.warpAffine(big, onto, size, flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP)
    blend.composite_bgra(roi_frame, warped)


def interleaved(frame, fns, repeat: int) -> list[list[float]]:
    """ms of each fn per round, the fns called in turn each round."""
    times = [[] for _ in fns]
    for _ in range(repeat):
        for fn, sink in zip(fns, times, strict=True):
            out = frame.copy()
            t = time.perf_counter()
            fn(out)
            sink.append(1e3 * (time.perf_counter() - t))
    return times


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeat", type=int, default=200)
    p.add_argument("--crop", type=int, default=128)
    args = p.parse_args()
    blend.warmup()
    target_detail.warmup()
    bank = hopper_bank()
    print(f"CPU: {cpu_name()}; crop {args.crop} px, bank {bank.size} px; {args.repeat} interleaved rounds, ms")
    print(f"{'frame':<10} {'before p50':>11} {'min':>6} {'after p50':>10} {'min':>6} {'after/before':>13}")
    for name, (h, w, face_px) in FRAMES.items():
        frame, landmarks, m = scene(face_px, (h, w, 3), args.crop)
        fns = pastes(frame, landmarks, m, args.crop, bank)
        for fn in fns:
            fn(frame.copy())  # warm
        b, a = interleaved(frame, fns, args.repeat)
        mb, ma = statistics.median(b), statistics.median(a)
        print(f"{name:<10} {mb:>11.2f} {min(b):>6.2f} {ma:>10.2f} {min(a):>6.2f} {ma / mb:>13.2f}")


if __name__ == "__main__":
    main()
