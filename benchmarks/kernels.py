"""Colour-transfer and blending kernels: Numba vs NumPy vs OpenCV, per face, in one run.

Usage: python benchmarks/kernels.py [--repeat N] [--stat median|min]
A real 256 px 'whole' crop of skimage's astronaut is recoloured toward Grace Hopper's crop and
pasted into a frame where the face spans 200 / 350 / 500 px (the face sizes of 640x480,
1280x720 and 1920x1080 video) and 1000 px (a webcam close-up at 1080p). Times are medians (or with
--stat min, minima) of wall-clock ms per call; ratios are measured side by side in this run.
Target: colour + blend <= 2 ms per face at 1080p.
"""

from __future__ import annotations

import argparse
import functools
import os
import threading

import cv2
import numpy as np
from swapstream.engine.face.align import alignment_matrix, transform_points, warp_face
from swapstream.engine.face.mask import hull_mask
from swapstream.engine.face.tracking import PhotoFaceFinder
from swapstream.engine.image import blend, color, warmup

from swapstream.bench.report import cpu_name, time_ms

SIZE = 256
FRAMES = {
    "640x480": (480, 640, 200),
    "1280x720": (720, 1280, 350),
    "1920x1080": (1080, 1920, 500),
    "1080p-close": (1080, 1920, 1000),
}


def real_crops():
    import skimage.data
    from matplotlib import cbook

    frames = [
        cv2.cvtColor(skimage.data.astronaut(), cv2.COLOR_RGB2BGR),
        cv2.imread(str(cbook.get_sample_data("grace_hopper.jpg", asfileobj=False))),
    ]
    finder = PhotoFaceFinder(max_faces=1)
    out = []
    for frame in frames:
        lm = finder.find(frame)[0].landmarks
        m = alignment_matrix(lm, "whole", SIZE)
        out.append((warp_face(frame, m, SIZE), hull_mask(transform_points(lm, m), SIZE, "whole")))
    finder.close()
    return out


def composite_opencv(frame, face, alpha):
    """The usual OpenCV/NumPy blend: float images, multiply/add, convertScaleAbs back."""
    a = cv2.merge([alpha, alpha, alpha])
    blended = cv2.add(cv2.multiply(face.astype(np.float32), a), cv2.multiply(frame.astype(np.float32), 1.0 - a))
    frame[:] = cv2.convertScaleAbs(blended)


def colour_transfer(src, target, mask, ms, r: int) -> float:
    """Print the colour-transfer table (Numba vs NumPy, rct also vs OpenCV); returns rct's Numba ms."""
    print(f"\ncolour transfer, {SIZE} px crop (ms; ratio = NumPy / Numba)")
    rct_ms = 0.0
    for mode in ("rct", "lct", "mkl", "hist"):
        fast = ms(lambda m=mode: color.transfer_color(src, target, mask, m), r)
        ref = ms(lambda m=mode: color.transfer_color_numpy(src, target, mask, m), max(r // 5, 5))
        line = f"  {mode:5s} numba {fast:6.2f}   numpy {ref:6.2f}   x{ref / fast:5.1f}"
        if mode == "rct":
            rct_ms = fast
            whole = ms(lambda: color.transfer_color(src, target, mask, "rct", margin=1.0), r)
            line += f"   whole crop {whole:6.2f}"
            _, mean_s, std_s = color.lab_moments(src, mask)
            _, mean_t, std_t = color.lab_moments(target, mask)
            scale = std_t / std_s
            offset = mean_t - mean_s * scale

            def rct_opencv(scale=scale, offset=offset):
                color.lab_moments(src, mask)
                color.lab_moments(target, mask)
                return color.lab_affine_opencv(src, scale, offset)

            ocv = ms(rct_opencv, r)
            line += f"   opencv-cvtColor {ocv:6.2f}   x{ocv / fast:4.1f}"
        print(line)
    return rct_ms


def feather_and_paste(src, target, mask_u8, mask, ms, r: int) -> tuple[float, dict[str, float]]:
    """Print the feather time and, per frame size, the paste and composite variants.

    Returns (feather ms, {frame name: paste_face ms})."""
    print("\nfeather + paste per face (ms; ratio = other / Numba composite)")
    erode_px = blur_px = round(0.05 * SIZE)  # configs/engine.yaml's defaults
    soft = blend.feather_mask(mask_u8, erode_px, blur_px)
    feather_ms = ms(lambda: blend.feather_mask(mask_u8, erode_px, blur_px), r)
    disc = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * erode_px + 1, 2 * erode_px + 1))
    disc_ms = ms(lambda: cv2.erode(mask, disc, borderType=cv2.BORDER_CONSTANT, borderValue=0), r)
    print(
        f"  feather_mask (octagon erode {erode_px} + GaussianBlur {blur_px}, {SIZE} px): {feather_ms:.2f}"
        f"   (a float disc erosion alone: {disc_ms:.2f})"
    )
    pastes = {}
    for name, (h, w, face_px) in FRAMES.items():
        frame = cv2.resize(target, (w, h), interpolation=cv2.INTER_LINEAR)
        s = SIZE / face_px  # crop px per frame px: the face's 256 px crop covers face_px frame px
        m = np.array([[s, 0.0, SIZE / 2 - s * w / 2], [0.0, s, SIZE / 2 - s * h / 2]])
        roi = blend.face_roi(soft, m, frame.shape)
        face, alpha = blend.warp_to_roi(src, soft, m, roi)
        x0, y0, x1, y1 = roi
        paste = ms(lambda f=frame, m=m: blend.paste_face(f, src, soft, m), r)
        warp = ms(lambda m=m, roi=roi: blend.warp_to_roi(src, soft, m, roi), r)
        work = frame.copy()
        view = work[y0:y1, x0:x1]

        def two_warps_and_float_composite(v=view, m=m, roi=roi):  # the paste before the BGRA warp
            blend.composite(v, *blend.warp_to_roi(src, soft, m, roi))

        old_paste = ms(two_warps_and_float_composite, r)
        numba_c = ms(lambda v=view, f=face, a=alpha: blend.composite(v, f, a), r)
        numpy_c = ms(lambda v=view, f=face, a=alpha: blend.composite_numpy(v, f, a), r)
        ocv_c = ms(lambda v=view, f=face, a=alpha: composite_opencv(v, f, a), r)
        poisson = ms(lambda f=frame, m=m: blend.paste_face(f, src, soft, m, mode="poisson"), max(r // 10, 3))
        pastes[name] = paste
        print(
            f"  {name:11s} ROI {x1 - x0}x{y1 - y0}: paste_face {paste:5.2f} (two warps + float composite "
            f"{old_paste:5.2f}, its warps {warp:5.2f}); composite numba "
            f"{numba_c:5.2f}  numpy {numpy_c:5.2f} x{numpy_c / numba_c:4.1f}  "
            f"opencv {ocv_c:5.2f} x{ocv_c / numba_c:4.1f};"
            f"  poisson paste {poisson:6.1f}"
        )
    return feather_ms, pastes


def composite_without_gil(ms) -> None:
    """nogil: two threads compositing at once should take about as long as one."""
    big_frame = np.zeros((2000, 2000, 3), np.uint8)
    big_face = np.full_like(big_frame, 200)
    big_alpha = np.full((2000, 2000), 0.5, np.float32)
    one = ms(lambda: blend.composite(big_frame, big_face, big_alpha), 5)

    def two_threads():
        threads = [threading.Thread(target=blend.composite, args=(big_frame, big_face, big_alpha)) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()

    both = ms(two_threads, 5)
    print(
        f"\nGIL: composite 2000x2000 once {one:.1f} ms, twice in two threads {both:.1f} ms "
        f"(x{2 * one / both:.2f} throughput)"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=50)
    parser.add_argument("--stat", choices=("median", "min"), default="median", help="per-call time reported")
    args = parser.parse_args()
    ms = functools.partial(time_ms, stat=args.stat)
    print(f"times: {args.stat} of {args.repeat} calls")
    print(f"CPU: {cpu_name()}, {cv2.getNumberOfCPUs()} logical CPUs; OpenCV threads {cv2.getNumThreads()}")
    print(f"load average at start (other processes on the machine): {os.getloadavg()[0]:.1f}")
    warmup()
    (src, _), (target, mask_u8) = real_crops()
    mask = mask_u8.astype(np.float32) / 255
    rct_ms = colour_transfer(src, target, mask, ms, args.repeat)
    feather_ms, pastes = feather_and_paste(src, target, mask_u8, mask, ms, args.repeat)
    print("\ncolour (rct) + feather + paste, per face:")
    for name, paste in pastes.items():
        print(f"  {name:11s} {rct_ms + feather_ms + paste:5.2f} ms   (target <= 2 ms at 1920x1080)")
    composite_without_gil(ms)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
