"""What content credentials cost: signing and verifying a 1-minute and a 10-minute 1080p output,
a signed vs an unsigned convert of the same 1080p clip side by side, and signing one PNG frame.

Usage:
    python benchmarks/credentials.py [--clip ../shared/media/s18.mp4] [--frames 90] [--repeat 2]
        [--model swapstream/assets/demo_int8.onnx] [--json out.json]

1. The clip's first --frames frames letterboxed to 1920x1080 (H.264), converted by
   `swapstream convert` in a fresh process, signed (default) and with --credentials off,
   interleaved --repeat times: wall time from start to exit.
2. The signed convert's own H.264 stream (CRF 18, 1080p: a real output's bitrate) stream-copied
   over and over into a 1-minute and a 10-minute MP4 with the synthetic-media label, the cheap
   stand-in for long outputs; each is signed (Sealer.publish: hash + signed copy + rename, the
   step a convert ends with) and verified (swapstream verify's verify_file); a plain file copy of
   the same bytes is timed beside it, since signing writes the file once more.
3. One 1080p frame: PNG encode + write, unsigned vs signed (frame-folder outputs sign each PNG).
Signing a 1-minute output is compared with the convert time of 1 minute at the measured
per-frame rate. The machine is shared: figures are provisional; compare ratios.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import av

from swapstream.bench.report import cpu_name

REPO = Path(__file__).resolve().parents[1]


def timed_convert(clip: Path, model: Path, out: Path, signed: bool) -> float:
    argv = [sys.executable, "-m", "swapstream", "convert", str(clip), "-m", str(model), "-o", str(out)]
    argv += [] if signed else ["--credentials", "off"]
    t0 = time.perf_counter()
    subprocess.run(argv, cwd=REPO, check=True, capture_output=True)
    return time.perf_counter() - t0


def repeat_stream(src: Path, dst: Path, seconds: float) -> int:
    """Stream-copy SRC's video packets again and again into DST until it lasts SECONDS; returns bytes."""
    from swapstream.common.choices import SYNTHETIC_LABEL

    with av.open(str(src)) as inp:
        vin = inp.streams.video[0]
        packets = [(p.pts, p.dts, bytes(p), p.is_keyframe) for p in inp.demux(vin) if p.size]
        duration = float(vin.duration * vin.time_base) if vin.duration else len(packets) / float(vin.average_rate)
        step = round(duration / vin.time_base)
        with av.open(str(dst), "w") as out:
            out.metadata["comment"] = SYNTHETIC_LABEL
            vout = out.add_stream_from_template(vin)
            for k in range(max(1, round(seconds / duration))):
                for pts, dts, data, key in packets:
                    packet = av.Packet(data)
                    packet.pts, packet.dts = pts + k * step, dts + k * step
                    packet.is_keyframe = key
                    packet.stream, packet.time_base = vout, vin.time_base
                    out.mux(packet)
    return dst.stat().st_size


def sign_and_verify(path: Path, sealer, repeat: int) -> dict:
    """Median seconds of a plain copy, of signing (publish) and of verifying PATH."""
    from swapstream.credentials.verify import verify_file

    copies, signs, verifies = [], [], []
    for i in range(repeat):
        tmp, signed = path.with_name(f".tmp{i}{path.suffix}"), path.with_name(f"{path.stem}.signed{i}{path.suffix}")
        t0 = time.perf_counter()
        shutil.copyfile(path, tmp)
        copies.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        sealer.publish(tmp, signed)
        signs.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        verdict = verify_file(signed)
        verifies.append(time.perf_counter() - t0)
        assert verdict.status == "verified", verdict
        signed.unlink()
    return {k: statistics.median(v) for k, v in (("copy_s", copies), ("sign_s", signs), ("verify_s", verifies))}


def png_cost(frame_path: Path, sealer, repeat: int = 20) -> dict:
    """ms per 1080p frame: PNG (level 1) encode+write unsigned vs encode+sign+write."""
    import cv2

    frame = cv2.imread(str(frame_path))
    params = [cv2.IMWRITE_PNG_COMPRESSION, 1]
    plain, signed = [], []
    for i in range(repeat):
        t0 = time.perf_counter()
        cv2.imwrite(str(frame_path.with_name(f"p{i}.png")), frame, params)
        plain.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        sealer.sign_image(cv2.imencode(".png", frame, params)[1].tobytes(), frame_path.with_name(f"s{i}.png"))
        signed.append(time.perf_counter() - t0)
    return {"png_ms": 1000 * statistics.median(plain), "signed_png_ms": 1000 * statistics.median(signed)}


def measure(args, tmp: Path) -> dict:
    import cv2

    from swapstream.bench.inputs import resized_clip
    from swapstream.credentials.flags import local_sealer

    clip = resized_clip(Path(args.clip), (1920, 1080), args.frames, tmp / "cache")
    signed_runs, plain_runs = [], []
    for i in range(args.repeat):  # interleaved: the machine is shared
        signed_runs.append(timed_convert(clip, args.model, tmp / f"signed{i}.mp4", signed=True))
        plain_runs.append(timed_convert(clip, args.model, tmp / f"plain{i}.mp4", signed=False))
    convert_s = statistics.median(plain_runs)
    sealer = local_sealer(clip, args.model)
    result = {
        "cpu": cpu_name(),
        "clip": f"{Path(args.clip).name}, {args.frames} frames at 1920x1080",
        "convert_signed_s": signed_runs,
        "convert_unsigned_s": plain_runs,
        "convert_s_per_frame": convert_s / args.frames,
    }
    for name, seconds, repeat in (("1min", 60, args.repeat + 1), ("10min", 600, 1)):
        long = tmp / f"long_{name}.mp4"
        result[name] = {"bytes": repeat_stream(tmp / "signed0.mp4", long, seconds)}
        result[name] |= sign_and_verify(long, sealer, repeat)
        long.unlink()
    with av.open(str(clip)) as c:
        cv2.imwrite(str(tmp / "frame.png"), next(c.decode(video=0)).to_ndarray(format="bgr24"))
    result["png"] = png_cost(tmp / "frame.png", sealer)
    result["sign_1min_share_of_1min_convert"] = result["1min"]["sign_s"] / (1800 * result["convert_s_per_frame"])
    return result


def table(r: dict) -> str:
    one, ten = r["1min"], r["10min"]
    rows = [
        "| what | figure |",
        "| --- | --- |",
        f"| convert {r['clip']}, signed / unsigned (median s) | {statistics.median(r['convert_signed_s']):.1f} / "
        f"{statistics.median(r['convert_unsigned_s']):.1f} |",
        f"| 1-min 1080p output ({one['bytes'] / 1e6:.0f} MB): sign / verify / plain copy (s) | "
        f"{one['sign_s']:.2f} / {one['verify_s']:.2f} / {one['copy_s']:.2f} |",
        f"| 10-min 1080p output ({ten['bytes'] / 1e6:.0f} MB): sign / verify / plain copy (s) | "
        f"{ten['sign_s']:.2f} / {ten['verify_s']:.2f} / {ten['copy_s']:.2f} |",
        f"| signing a 1-min output vs converting 1 min ({r['convert_s_per_frame'] * 1800:.0f} s) | "
        f"{100 * r['sign_1min_share_of_1min_convert']:.2f}% |",
        f"| one 1080p PNG frame: write unsigned / signed (ms) | {r['png']['png_ms']:.1f} / "
        f"{r['png']['signed_png_ms']:.1f} |",
    ]
    return "\n".join(rows)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--clip", default=str(REPO.parent / "shared" / "media" / "s18.mp4"))
    p.add_argument("--frames", type=int, default=90)
    p.add_argument("--repeat", type=int, default=2)
    p.add_argument("--model", type=Path, default=REPO / "swapstream" / "assets" / "demo_int8.onnx")
    p.add_argument("--json", type=Path, default=None)
    args = p.parse_args()
    with tempfile.TemporaryDirectory(prefix="credentials-bench-") as tmp:
        result = measure(args, Path(tmp))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))
    print(table(result))


if __name__ == "__main__":
    main()
