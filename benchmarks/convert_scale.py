"""Convert in segments: the old one-pipeline path vs the segmented plain convert vs Ray workers,
and what a resume costs.

Usage:
    python benchmarks/convert_scale.py [--clip ../shared/media/d6.mp4] [--model swapstream/assets/demo_int8.onnx]
        [--segment-seconds 4] [--workers 1 2] [--repeat 3] [--json out.json]

Every run is a real convert of the same clip in a fresh process, timed from start to exit (Python
start, model load and, for Ray, the local instance's start included), in one session so the
figures sit side by side:
  one pipeline  the whole clip through one pipeline, unsegmented (convert.run_one_pipeline: what a
                plain convert did before issue 15, and still does for frame folders)
  plain         `swapstream convert` with no flag: segments one after another in this process
  ray N         --workers N: segments as Ray tasks on a local Ray instance with N CPUs
  crash+resume  a plain convert killed (SIGKILL) once half the parts exist, then --resume to the end
`one pipeline` and `plain` run --repeat times, interleaved (the machine is shared: noise), and
their median is compared. Then: the time to start and stop a local Ray instance, and the join
alone (stream copy + audio + label) of a segmented run's parts. Prints a Markdown table for a
dated file in benchmarks/results_log/.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import av

from swapstream.bench.report import cpu_name

REPO = Path(__file__).resolve().parents[1]


# `swapstream convert` with run() replaced by the unsegmented path (the CLI's parsing and handling kept).
ONE_PIPELINE = (
    "import sys; import swapstream.commands.convert as c; c.run = c.run_one_pipeline; "
    "from swapstream.cli import main; sys.exit(main(sys.argv[1:]))"
)


def convert(
    clip: Path, model: Path, out: Path, extra: list[str], kill_when=None, one_pipeline: bool = False
) -> tuple[float, str]:
    """Run one convert; returns (seconds, stderr). kill_when(): SIGKILL the run once it is true."""
    entry = ["-c", ONE_PIPELINE] if one_pipeline else ["-m", "swapstream"]
    cmd = [sys.executable, *entry, "convert", str(clip), "-m", str(model), "-o", str(out), *extra]
    t0 = time.perf_counter()
    with tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.DEVNULL, stderr=err)
        while proc.poll() is None:
            if kill_when is not None and kill_when():
                proc.send_signal(signal.SIGKILL)
                proc.wait()
                break
            time.sleep(0.05)
        seconds = time.perf_counter() - t0
        err.seek(0)
        text = err.read().decode(errors="replace")
    if kill_when is None and proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({proc.returncode}):\n{text[-2000:]}")
    return seconds, text


def frame_count(path: Path) -> int:
    with av.open(str(path)) as c:
        return sum(1 for _ in c.demux(video=0)) - 1  # less the demuxer's flush packet


def plan_of(clip: Path, seconds: float) -> list[tuple[int, int]]:
    from swapstream.engine.stages.segment_source import plan_segments, scan_video

    index = scan_video(clip)
    return plan_segments(index.keyframes, len(index.pts), max(1, round(seconds * index.fps)))


def warmup_decode(clip: Path, seconds: float) -> dict:
    """Frames a segmented run decodes (not converted to BGR) only to reach each segment's warm-up,
    from the keyframe before it, and the seconds one such decode of the whole clip takes here."""
    from swapstream.engine.stages.segment_source import WARMUP_FRAMES, scan_video

    index = scan_video(clip)
    extra = 0
    for start, _ in plan_of(clip, seconds)[1:]:
        first = max(0, start - WARMUP_FRAMES)
        extra += first - max(k for k in index.keyframes if k <= first)
    t0 = time.perf_counter()
    with av.open(str(clip)) as c:
        c.streams.video[0].thread_type = "AUTO"
        decoded = sum(1 for _ in c.decode(video=0))
    return {"extra_frames": extra, "decoded": decoded, "decode_s": time.perf_counter() - t0}


def ray_start_stop_s() -> float:
    """Seconds to start and stop a local Ray instance with 2 CPUs (what each --workers run pays)."""
    code = (
        "import os, time; os.environ['RAY_USAGE_STATS_ENABLED'] = '0'; t = time.perf_counter(); import ray;"
        "ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False); ray.shutdown();"
        "print(time.perf_counter() - t)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return float(out.stdout.strip().splitlines()[-1])


def join_s(clip: Path, model: Path, tmp: Path, seg_s: float) -> tuple[float, int]:
    """Time the join alone, on parts made here by the library (work.run_segment per segment)."""
    from swapstream.engine.engine_config import load_engine_config
    from swapstream.engine.runtime.providers import RuntimeConfig

    from swapstream.convert_parts.jobs import Job, Settings, join, prepare
    from swapstream.convert_parts.manifest import file_sha256
    from swapstream.convert_parts.work import run_segment

    s = Settings(load_engine_config(), model, file_sha256(model), RuntimeConfig(), None, seg_s, 12)
    job = Job(clip, tmp / "join.mp4")
    prepare(job, s, resume=False)
    for i in job.missing():
        run_segment(job.task(i, s))
    t0 = time.perf_counter()
    frames = join(job, s, no_audio=False)
    return time.perf_counter() - t0, frames


def crash_and_resume(clip: Path, model: Path, tmp: Path, seg_s: float) -> dict:
    from swapstream.convert_parts.jobs import work_folder

    out = tmp / "crash.mp4"
    segments = plan_of(clip, seg_s)
    half = work_folder(out) / f"part_{len(segments) // 2 - 1:05d}.mp4"
    killed_s, _ = convert(clip, model, out, ["--segment-seconds", str(seg_s)], kill_when=half.exists)
    kept = len(list(work_folder(out).glob("part_*.mp4")))
    resume_s, err = convert(clip, model, out, ["--resume", "--segment-seconds", str(seg_s)])
    return {"killed_s": killed_s, "resume_s": resume_s, "kept": kept, "segments": len(segments), "stderr": err[-300:]}


def one_vs_segmented(clip: Path, model: Path, tmp: Path, seg: list[str], repeat: int) -> dict[str, list[float]]:
    """Seconds of `repeat` runs each of the unsegmented path and the plain (segmented) convert, interleaved."""
    runs: dict[str, list[float]] = {"one pipeline": [], "plain": []}
    for i in range(repeat):
        runs["one pipeline"].append(convert(clip, model, tmp / f"one{i}.mp4", [], one_pipeline=True)[0])
        runs["plain"].append(convert(clip, model, tmp / f"plain{i}.mp4", seg)[0])
    return runs


def measure(args: argparse.Namespace, tmp: Path) -> dict:
    clip, model, seg = args.clip, args.model, ["--segment-seconds", str(args.segment_seconds)]
    frames = frame_count(clip)
    runs = one_vs_segmented(clip, model, tmp, seg, args.repeat)
    rows = {name: statistics.median(times) for name, times in runs.items()}
    for n in args.workers:
        rows[f"ray {n}"], _ = convert(clip, model, tmp / f"ray{n}.mp4", ["--workers", str(n), *seg])
    assert all(frame_count(tmp / f"{name}0.mp4") == frames for name in ("one", "plain"))
    crash = crash_and_resume(clip, model, tmp, args.segment_seconds)
    join_seconds, joined = join_s(clip, model, tmp, args.segment_seconds)
    return {
        "clip": str(clip),
        "model": str(model),
        "frames": frames,
        "segments": len(plan_of(clip, args.segment_seconds)),
        "segment_seconds": args.segment_seconds,
        "runs_s": runs,
        "wall_s": rows,
        "crash_and_resume": crash,
        "ray_start_stop_s": ray_start_stop_s(),
        "warmup_decode": warmup_decode(clip, args.segment_seconds),
        "join_s": join_seconds,
        "join_frames": joined,
        "cpu": cpu_name(),
        "cpus": os.cpu_count(),
        "load_avg_1min": os.getloadavg()[0],
    }


def report(r: dict) -> str:
    frames, segs, walls = r["frames"], r["segments"], r["wall_s"]
    one = walls["one pipeline"]
    lines = [
        f"clip {Path(r['clip']).name}: {frames} frames in {segs} segments (--segment-seconds "
        f"{r['segment_seconds']:g}, each starting on a keyframe: {frames / segs:.0f} frames each on average); "
        f"model {Path(r['model']).name}; CPU: {r['cpu']}, {r['cpus']} CPUs; load average {r['load_avg_1min']:.1f}",
        "",
        "| run | wall s | fps (whole run) | vs one pipeline |",
        "|---|---|---|---|",
    ]
    for name, s in walls.items():
        each = r["runs_s"].get(name)
        shown = f"{s:.1f} (median of {', '.join(f'{x:.1f}' for x in each)})" if each and len(each) > 1 else f"{s:.1f}"
        lines.append(f"| {name} | {shown} | {frames / s:.1f} | {one / s:.2f}x |")
    c, w = r["crash_and_resume"], r["warmup_decode"]
    both = c["killed_s"] + c["resume_s"]
    lines += [
        "",
        f"cost of segmenting a plain convert: {(walls['plain'] - one) / segs:+.2f} s per segment "
        f"((plain - one pipeline) / {segs} segments, medians), {walls['plain'] / one - 1:+.1%} of the run",
        f"frames decoded only to reach the segments' warm-up (from the keyframe before it): {w['extra_frames']} "
        f"({w['extra_frames'] / frames:.0%} of the clip; decoding all {w['decoded']} frames takes "
        f"{w['decode_s']:.2f} s here, so ~{w['decode_s'] * w['extra_frames'] / w['decoded']:.2f} s)",
        f"local Ray instance start + stop: {r['ray_start_stop_s']:.1f} s",
        f"join (stream copy + audio + label) of {r['join_frames']} frames: {r['join_s'] * 1000:.0f} ms",
        f"crash + resume: killed after {c['killed_s']:.1f} s with {c['kept']} of {c['segments']} parts kept, "
        f"resume {c['resume_s']:.1f} s; together {both:.1f} s = {both / walls['plain']:.2f}x an uninterrupted "
        f"plain run",
    ]
    return "\n".join(lines)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--clip", type=Path, default=REPO.parent / "shared" / "media" / "d6.mp4")
    p.add_argument("--model", type=Path, default=REPO / "swapstream" / "assets" / "demo_int8.onnx")
    p.add_argument("--segment-seconds", type=float, default=4.0)
    p.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    p.add_argument("--repeat", type=int, default=3, help="runs each of one pipeline and plain (median)")
    p.add_argument("--json", type=Path)
    args = p.parse_args()
    args.clip, args.model = args.clip.resolve(), args.model.resolve()
    with tempfile.TemporaryDirectory(prefix="convert-scale-") as tmp:
        result = measure(args, Path(tmp))
    print(report(result))
    if args.json:
        args.json.write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()
