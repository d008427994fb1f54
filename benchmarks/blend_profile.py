"""Where the blend stage's milliseconds go, per step, for one face at the face sizes of 640x480,
1280x720 and 1920x1080 video, and what the staged paste's intermediate size costs and changes.

    python benchmarks/blend_profile.py [--repeat 30] [--crop 128] [--tables steps,staged,near,bank] [--stat median|min]

A `whole` crop of skimage's astronaut (public domain) is aligned at --crop px from a frame where
her face is 200 / 350 / 500 px tall; a blurred copy stands in for the model's render. Each step
of engine.stages.blend (feather, mouth-free detail mask, restored band, colour transfer, the
detail source, the BGRA warp, the detail alpha, the one-pass composite) is timed alone, then
the whole paste. Second table: the staged warp (bicubic enlargement by k, then a bilinear warp)
for several k at the 1080p face: ms, and mean / max grey-level difference from OpenCV's direct
bicubic warp inside the face (`near`: the same for the detail bank's 256 px crop at 640x480 and
1280x720, 1.07x and 1.86x enlarged). Third table: colour + steady + blend with the defaults and the
target's detail bank, per step (benchmarks/blend_detail_steps.py). Medians of wall-clock ms;
ratios are side by side in one run.
"""

from __future__ import annotations

import argparse
import math

import cv2
import numpy as np
from blend_detail_steps import detail_step_times, hopper_bank  # this script's folder (run as a script)
from swapstream.engine.face.align import alignment_matrix, transform_points, warp_face
from swapstream.engine.face.mask import hull_mask, lips_mask
from swapstream.engine.face.tracking import PhotoFaceFinder
from swapstream.engine.image import blend, color, detail, steady

from swapstream.bench.report import cpu_name, time_ms

FRAMES = {"640x480": (480, 640, 200), "1280x720": (720, 1280, 350), "1920x1080": (1080, 1920, 500)}


def scene(face_px: int, size: tuple[int, int, int], crop: int):
    """(frame, landmarks, frame->crop matrix): the astronaut scaled so her face is face_px tall."""
    import skimage.data

    image = cv2.cvtColor(skimage.data.astronaut(), cv2.COLOR_RGB2BGR)
    finder = PhotoFaceFinder(max_faces=1)
    landmarks = finder.find(image)[0].landmarks.copy()
    finder.close()
    s = face_px / float(np.linalg.norm(landmarks[10, :2] - landmarks[152, :2]))
    big = cv2.resize(image, None, fx=s, fy=s, interpolation=cv2.INTER_CUBIC)
    h, w = size[:2]
    frame = np.full((h, w, 3), 90, np.uint8)
    bh, bw = min(h, big.shape[0]), min(w, big.shape[1])
    frame[:bh, :bw] = big[:bh, :bw]
    landmarks[:, :2] *= s
    return frame, landmarks, alignment_matrix(landmarks, "whole", crop)


def step_times(frame, landmarks, m, crop: int, repeat: int) -> dict[str, float]:
    driver = warp_face(frame, m, crop)
    hull = hull_mask(transform_points(landmarks, m), crop, "whole")
    render = cv2.GaussianBlur(driver, (5, 5), 2)
    px = round(0.05 * crop)
    mask = blend.feather_mask(hull, px, px)
    keep = mask * (1 - lips_mask(transform_points(landmarks, m), crop))
    roi = blend.face_roi(mask, m, frame.shape)
    roi_frame = frame[roi[1] : roi[3], roi[0] : roi[2]].copy()
    rm = blend._roi_matrix(m, roi)
    size = roi_frame.shape[1::-1]
    source = detail.detail_source(roi_frame, detail.upscale_of(m))
    warped = blend.warp_bgra(render, mask, rm, size)
    alpha = blend.warp_detail_alpha(keep, rm, warped[:, :, 3])
    out = {
        "feather": lambda: blend.feather_mask(hull, px, px),
        "detail mask (lips)": lambda: lips_mask(transform_points(landmarks, m), crop),
        "restored band": lambda: detail.restore_guessed_band(render, driver, keep, 2.0, 1.0),
        "colour (rct)": lambda: color.transfer_color(render, driver, mask, "rct"),
        "detail source": lambda: detail.detail_source(roi_frame, detail.upscale_of(m)),
        "warp (BGRA)": lambda: blend.warp_bgra(render, mask, rm, size),
        "detail alpha": lambda: blend.warp_detail_alpha(keep, rm, warped[:, :, 3]),
        "composite + detail": lambda: detail.composite_with_detail(roi_frame.copy(), warped, alpha, source[1], 1.0),
        "whole paste (detail 1)": lambda: blend.paste_face(frame.copy(), render, mask, m, "feather", 1.0, keep),
        "whole paste (detail 0)": lambda: blend.paste_face(frame.copy(), render, mask, m, "feather", 0.0, None),
        "frame copy (in the pastes)": frame.copy,
    }
    return {name: time_ms(fn, repeat) for name, fn in out.items()} | {"roi px": float(size[0] * size[1])}


def staged_table(frame, m, crop: int, repeat: int, stat: str = "median") -> list[tuple[int, int, float, float, float]]:
    """(k, enlarged side, ms, mean |diff|, max |diff|) of the staged warp against the direct bicubic;
    k = 1: the direct warp itself."""
    render = warp_face(frame, m, crop)
    mask = np.ones((crop, crop), np.float32)
    bgra = cv2.merge((*cv2.split(render), cv2.convertScaleAbs(mask, alpha=255.0)))
    roi = blend.face_roi(mask, m, frame.shape)
    rm, size = blend._roi_matrix(m, roi), (roi[2] - roi[0], roi[3] - roi[1])
    warp_direct = lambda: cv2.warpAffine(bgra, rm, size, flags=cv2.INTER_CUBIC | cv2.WARP_INVERSE_MAP)
    direct = warp_direct().astype(np.float32)
    inside = cv2.erode((direct[..., 3] > 254).astype(np.uint8), np.ones((15, 15), np.uint8)) > 0
    rows = [(1, crop, time_ms(warp_direct, repeat, stat), 0.0, 0.0)]
    upscale = detail.upscale_of(m)
    for k in sorted({2, 3, 4, math.ceil(upscale), 6, 8, math.ceil(2 * upscale)}):

        def staged(k=k):
            big = cv2.resize(bgra, None, fx=k, fy=k, interpolation=cv2.INTER_CUBIC)
            onto = np.asarray(rm, np.float64) * k
            onto[:, 2] += 0.5 * k - 0.5
            return cv2.warpAffine(big, onto, size, flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP)

        diff = np.abs(staged().astype(np.float32) - direct)[inside]
        rows.append((k, k * crop, time_ms(staged, repeat, stat), float(diff.mean()), float(diff.max())))
    return rows


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeat", type=int, default=30)
    p.add_argument("--crop", type=int, default=128, help="the model's output resolution (live: 128)")
    p.add_argument(
        "--stat", choices=("median", "min"), default="median", help="the statistic of the staged and bank tables"
    )
    p.add_argument("--tables", default="steps,staged,bank", help="which tables, comma-separated")
    args = p.parse_args()
    tables = set(args.tables.split(","))
    blend.warmup()
    color.warmup()
    steady.warmup()
    print(f"CPU: {cpu_name()}; crop {args.crop} px; {args.stat} of {args.repeat} runs (the steps table: median), ms\n")
    if "steps" in tables:
        print_table(
            {n: step_times(*scene(f, (h, w, 3), args.crop), args.crop, args.repeat) for n, (h, w, f) in FRAMES.items()}
        )
    if "staged" in tables:
        print_staged(args)
    if "near" in tables:  # the detail bank's 256 px crop pasted near its own size
        print_staged(args, "640x480", 256)
        print_staged(args, "1280x720", 256)
    if "bank" in tables:
        bank = hopper_bank()
        print(f"\ncolour + steady + blend, defaults, detail bank of {bank.size} px faces ({args.stat}):")
        print_table(
            {
                n: detail_step_times(*scene(f, (h, w, 3), args.crop), args.crop, bank, args.repeat, args.stat)
                for n, (h, w, f) in FRAMES.items()
            }
        )


def print_table(results: dict[str, dict[str, float]]) -> None:
    """One row per step, one column per frame size."""
    steps = list(next(iter(results.values())))
    print(f"{'step':<26}" + "".join(f"{n:>12}" for n in results))
    for step in steps:
        print(f"{step:<26}" + "".join(f"{results[n][step]:>12.2f}" for n in results))


def print_staged(args, name: str = "1920x1080", crop: int | None = None) -> None:
    """The staged warp's table at one frame size's face, for a crop of `crop` px (default --crop)."""
    h, w, face_px = FRAMES[name]
    crop = crop or args.crop
    frame, _, m = scene(face_px, (h, w, 3), crop)
    k = blend.staged_factor(detail.upscale_of(m), crop)
    print(f"\nstaged warp, {crop} px crop at {name} (upscale {detail.upscale_of(m):.2f}; the engine's k {k}):")
    print(f"{'k':>3} {'side px':>8} {'ms':>7} {'mean |d|':>9} {'max |d|':>8}")
    for k, side, ms, mean, worst in staged_table(frame, m, crop, args.repeat, args.stat):
        print(f"{k:>3} {side:>8} {ms:>7.2f} {mean:>9.3f} {worst:>8.0f}")


if __name__ == "__main__":
    main()
