"""What the studio costs, and what its governor buys (run by hand; not a test).

One process runs the real studio session (build_session: the shipped demo model, a looping clip
of skimage's astronaut, public domain, letterboxed to 640x480 or 1280x720 and played at 30 fps)
and its real web server, and alternates phases within the same run:
- page closed / page open: a child process does what the page does (reads the MJPEG preview
  stream, polls /api/state twice a second): live fps and glass-to-glass p50/p99 per phase;
- target delay 0 / 100 ms (640x480): the spread (std) and p99 of the delay each frame achieved;
- governor off / on (1920x1080 close-up, Poisson blend: overloaded on purpose, target = 30 fps):
  fps in each phase, and what the governor changed (turning it off restores everything).
Phases of one kind alternate (A B A B ...), so load from other processes hits both alike; the
first `--settle` seconds of each phase are not measured.

    PYTHONPATH=. .venv/bin/python benchmarks/studio_overhead.py [--phase 6] [--pairs 4] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from swapstream.cli import _available_commands, build_parser  # noqa: E402
from swapstream.commands.studio import bind, start_server  # noqa: E402
from swapstream.demo.media import astronaut_bgr, motion_frames, write_video  # noqa: E402
from swapstream.studio.app import create_app, new_token  # noqa: E402
from swapstream.studio.session import build_session  # noqa: E402

MODEL = REPO / "swapstream" / "assets" / "demo_int8.onnx"
# The page, as a child process (its CPU is not the studio's): the preview stream and the state poll.
PAGE = r"""
import sys, threading, time, urllib.request
base, token = sys.argv[1], sys.argv[2]
def poll():
    while True:
        urllib.request.urlopen(f"{base}api/state?token={token}").read()
        time.sleep(0.5)
threading.Thread(target=poll, daemon=True).start()
with urllib.request.urlopen(f"{base}stream/swapped?token={token}") as r:
    while r.read(65536):
        pass
"""


def cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return "unknown"


def make_clip(folder: Path, width: int, height: int, frames: int = 150, close_up: bool = False) -> Path:
    """The astronaut under head-like motion, letterboxed (edge-reflected) to width x height; or,
    close_up, the photo as wide as the frame and cut to its height (a face ~700 px tall at 1080p)."""
    path = folder / f"astronaut_{width}x{height}{'_close' if close_up else ''}.mp4"
    pad = (width - height) // 2

    def framed():
        for f in motion_frames(astronaut_bgr(), frames, size=width if close_up else height, seed=1):
            if close_up:
                top = width * 50 // 1000
                yield np.ascontiguousarray(f[top : top + height])
            else:
                yield cv2.copyMakeBorder(f, 0, 0, pad, width - height - pad, cv2.BORDER_REFLECT)

    write_video(framed(), path)
    return path


class Studio:
    """The studio session and server of `swapstream studio -m demo --source clip`, in this process."""

    def __init__(self, clip: Path, extra: list[str]):
        argv = ["studio", "-m", str(MODEL), "--source", str(clip), "--providers", "cpu", "--port", "0", *extra]
        args = build_parser(_available_commands()).parse_args(argv)
        self.session = build_session(args)
        self.sock = bind("127.0.0.1", 0)
        self.token = new_token()
        self.server, self.thread = start_server(create_app(self.session, self.token), self.sock)
        self.base = f"http://127.0.0.1:{self.sock.getsockname()[1]}/"
        self.session.start()
        self.page: subprocess.Popen | None = None

    def set(self, key: str, value) -> None:
        self.session.board.submit({"key": key, "value": value})

    def page_open(self, on: bool) -> None:
        if on and self.page is None:
            self.page = subprocess.Popen([sys.executable, "-c", PAGE, self.base, self.token], stderr=subprocess.DEVNULL)
        elif not on and self.page is not None:
            self.page.terminate()
            self.page.wait(5)
            self.page = None

    def measure(self, seconds: float) -> dict:
        """fps and glass-to-glass latency (ms) of the frames output during the next `seconds`."""
        stats = self.session.pipe.stats
        n0, lat0, t0 = stats.frames, len(stats.latency_samples()), time.perf_counter()
        time.sleep(seconds)
        n1, lat, t1 = stats.frames, stats.latency_samples(), time.perf_counter()
        ms = np.asarray(lat[lat0:], np.float64) * 1000.0
        return {
            "fps": (n1 - n0) / (t1 - t0),
            "p50_ms": float(np.percentile(ms, 50)) if ms.size else None,
            "p99_ms": float(np.percentile(ms, 99)) if ms.size else None,
            "std_ms": float(ms.std()) if ms.size else None,
            "preview_encode_ms": self.session.hub.state()["encode_ms"],
        }

    def close(self) -> None:
        self.page_open(False)
        self.session.pipe.stop()
        self.session.close()
        self.server.should_exit = True
        self.thread.join(3.0)
        self.sock.close()
        self.session.pipe.join()


def alternate(studio: Studio, name: str, apply, states, pairs: int, phase: float, settle: float) -> dict:
    """Phases states[0], states[1], states[0], ... (pairs of each); per state the list of results."""
    out: dict[str, list] = {str(s): [] for s in states}
    for i in range(pairs * len(states)):
        state = states[i % len(states)] if (i // len(states)) % 2 == 0 else states[::-1][i % len(states)]
        apply(state)
        time.sleep(settle)
        got = studio.measure(phase - settle)
        out[str(state)].append(got)
        print(f"  {name}={state}: {fmt(got)}", flush=True)
    return out


def fmt(r: dict) -> str:
    def num(v, d=1):
        return "-" if v is None else f"{v:.{d}f}"

    return f"{r['fps']:5.1f} fps, p50 {num(r['p50_ms'])} ms, p99 {num(r['p99_ms'])} ms, std {num(r['std_ms'], 2)} ms"


def summary(results: list[dict]) -> dict:
    keys = ("fps", "p50_ms", "p99_ms", "std_ms")
    return {k: float(np.median([r[k] for r in results if r[k] is not None])) for k in keys}


def run_size(clip: Path, args, delay: bool) -> dict:
    studio = Studio(clip, [])
    try:
        time.sleep(args.warmup)
        print(f"{clip.name}: page closed / open", flush=True)
        page = alternate(studio, "page", studio.page_open, (False, True), args.pairs, args.phase, args.settle)
        result = {"page": {k: summary(v) for k, v in page.items()}, "page_runs": page}
        if delay:
            print(f"{clip.name}: target delay 0 / 100 ms", flush=True)
            runs = alternate(
                studio, "delay", lambda v: studio.set("target_delay_ms", v), (0, 100), args.pairs, args.phase, 2.0
            )
            result["delay"] = {k: summary(v) for k, v in runs.items()}
            result["pacer"] = studio.session.pipe.pacer.snapshot()
        return result
    finally:
        studio.close()


def run_governor(clip: Path, args) -> dict:
    """Poisson blend (overloaded on purpose), target 30 fps; the governor off and on, alternately."""
    studio = Studio(clip, ["--blend", "poisson", "--target-fps", "30"])
    try:
        time.sleep(args.warmup)
        print(f"{clip.name}: governor off / on (poisson blend, target 30 fps)", flush=True)
        return governor_phases(studio, args)
    finally:
        studio.close()


def governor_phases(studio: Studio, args) -> dict:
    changed: list[dict] = []
    out: dict[str, list] = {"False": [], "True": []}
    for i in range(args.governor_pairs * 2):
        on = i % 2 == 1
        studio.set("governor", on)
        time.sleep(args.governor_settle if on else args.settle)
        got = studio.measure(args.phase - args.settle)
        got["settings"] = {k: getattr(studio.session.board.current, k) for k in ("blend", "output_size", "color")}
        out[str(on)].append(got)
        if on:
            changed.append(studio.session.governor.snapshot())
        print(f"  governor={on}: {fmt(got)} {got['settings']}", flush=True)
    events = [e["text"] for e in studio.session.board.events() if e["text"].startswith("governor:")]
    return {"summary": {k: summary(v) for k, v in out.items()}, "runs": out, "snapshots": changed, "events": events}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--phase", type=float, default=6.0, help="seconds per phase")
    p.add_argument("--settle", type=float, default=1.5, help="seconds at the start of a phase not measured")
    p.add_argument("--pairs", type=int, default=4, help="phases of each kind")
    p.add_argument("--warmup", type=float, default=3.0)
    p.add_argument("--governor-pairs", type=int, default=2)
    p.add_argument("--governor-settle", type=float, default=12.0, help="seconds the governor gets before measuring")
    p.add_argument("--parts", default="page,governor", help="page (page + target delay), governor, or both")
    p.add_argument("--json", type=Path, default=None)
    args = p.parse_args()
    load0 = os.getloadavg()[0]
    print(f"CPU: {cpu_model()}, {os.cpu_count()} logical CPUs; load average at start {load0:.1f}", flush=True)
    results: dict = {"cpu": cpu_model(), "cpus": os.cpu_count(), "load_start": load0}
    with tempfile.TemporaryDirectory(prefix="studio-bench-") as tmp:
        for width, height in ((640, 480), (1280, 720)) if "page" in args.parts else ():
            clip = make_clip(Path(tmp), width, height)
            results[f"{width}x{height}"] = run_size(clip, args, delay=width == 640)
        if "governor" in args.parts:
            results["governor"] = run_governor(make_clip(Path(tmp), 1920, 1080, close_up=True), args)
    results["load_end"] = os.getloadavg()[0]
    print(f"load average at end {results['load_end']:.1f}")
    report(results)
    if args.json is not None:
        args.json.write_text(json.dumps(results, indent=1, default=str))
    return 0


def report(results: dict) -> None:
    if "640x480" in results:
        print("\n| size | page | fps | p50 ms | p99 ms |\n|---|---|---|---|---|")
        for size in ("640x480", "1280x720"):
            for state, label in (("False", "closed"), ("True", "open")):
                s = results[size]["page"][state]
                print(f"| {size} | {label} | {s['fps']:.1f} | {s['p50_ms']:.1f} | {s['p99_ms']:.1f} |")
        d = results["640x480"]["delay"]
        print(f"\ndelay std: target 0 -> {d['0']['std_ms']:.2f} ms (p99 {d['0']['p99_ms']:.1f}); ", end="")
        print(
            f"target 100 ms -> {d['100']['std_ms']:.2f} ms (p50 {d['100']['p50_ms']:.1f}, p99 {d['100']['p99_ms']:.1f})"
        )
    if "governor" not in results:
        return
    g = results["governor"]["summary"]
    off, on = g["False"]["fps"], g["True"]["fps"]
    print(f"governor (poisson, 1920x1080 close-up, target 30): off {off:.1f} fps, on {on:.1f} fps")
    for text in results["governor"]["events"][:6]:
        print("  " + text)


if __name__ == "__main__":
    sys.exit(main())
