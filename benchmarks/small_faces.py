"""Faces of every size (issue #17): faces found, landmark accuracy and jitter, detection cost.

Usage: python benchmarks/small_faces.py [--frames N] [--extract] [--json OUT]

Scenes, all from ../shared/media:
- s13.mp4 as it is (720x1080, a dancer, face about 60-90 px);
- each close-up clip (d*.mp4) placed small into a 1920x1080 canvas (background: skimage's
  coffee photo, CC0), its face scaled to 40, 60, 90 and 140 px (forehead to chin);
- a 2x2 grid of four close-up clips in one 1920x1080 frame (four faces of ~320 px);
- each close-up clip as it is (480x480 or 512x512, face ~290-340 px): the case that must not
  get slower.
Per scene, the one face finder (engine.face.tracking.FaceFinder, smoothing on, as extract and
convert run it) and the finder it replaced (MediaPipe FaceMesh in video mode, its short-range
detector) run frame by frame, interleaved (their order alternating), so contention on a shared
machine hits both alike. Reported: frames with all faces found, detection ms per frame (median),
landmark error against the close-up's own landmarks scaled into the canvas (% of face height) and
jitter (mean second difference of the outer eye corners, % of face height).
--extract also writes each canvas clip to a temporary file and runs `swapstream extract` with its
defaults (and --faces all on the grid): frames kept.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

import av
import cv2
import numpy as np
from swapstream.engine.face.landmarks import Face, FaceMesh
from swapstream.engine.face.smoothing import LandmarkSmoother
from swapstream.engine.face.tracking import FaceFinder, FinderConfig

from swapstream.bench.report import cpu_name

MEDIA = Path(__file__).resolve().parents[2] / "shared" / "media"
CANVAS = (1920, 1080)
HEIGHTS = (40, 60, 90, 140)
CLOSE_UPS = ("d18.mp4", "d19.mp4", "d3.mp4", "d6.mp4", "d9.mp4", "d14.mp4")
PLACE = (0.55, 0.35)  # where the scaled clip's top-left corner sits, as a share of the canvas
EYES = (33, 263)


def read_frames(path: Path, count: int) -> tuple[list[np.ndarray], float]:
    """The first `count` frames (BGR) and the frame rate."""
    frames = []
    with av.open(str(path)) as c:
        rate = float(c.streams.video[0].average_rate or 30)
        for frame in c.decode(video=0):
            frames.append(frame.to_ndarray(format="bgr24"))
            if len(frames) >= count:
                break
    return frames, rate


def background() -> np.ndarray:
    import skimage.data

    return cv2.resize(cv2.cvtColor(skimage.data.coffee(), cv2.COLOR_RGB2BGR), CANVAS, interpolation=cv2.INTER_AREA)


def reference_landmarks(frames: list[np.ndarray]) -> list[np.ndarray | None]:
    """Landmarks of the close-up itself, unsmoothed: the reference for the small copies."""
    finder = FaceFinder(FinderConfig(max_faces=1, smooth=False))
    try:
        return [(f[0].landmarks if (f := finder.process(fr, i / 30)) else None) for i, fr in enumerate(frames)]
    finally:
        finder.close()


def canvas_scene(frames, refs, height: float, bg: np.ndarray):
    """(frames, reference landmarks) of the clip scaled so its median face is `height` px tall."""
    median = statistics.median(float(np.linalg.norm(r[10, :2] - r[152, :2])) for r in refs if r is not None)
    k = height / median
    ox, oy = int(PLACE[0] * CANVAS[0]), int(PLACE[1] * CANVAS[1])
    out_frames, out_refs = [], []
    for fr, ref in zip(frames, refs):
        small = cv2.resize(fr, None, fx=k, fy=k, interpolation=cv2.INTER_AREA)
        canvas = bg.copy()
        canvas[oy : oy + small.shape[0], ox : ox + small.shape[1]] = small
        out_frames.append(canvas)
        if ref is None:
            out_refs.append(None)
        else:
            r = ref.copy()
            r[:, :2] = r[:, :2] * k + (ox, oy)  # pixel centres map as (x + 0.5) * k - 0.5: within 0.5 px
            out_refs.append([r])
    return out_frames, out_refs


def grid_scene(clips: list[list[np.ndarray]]):
    """Four clips, each fitted into a quarter of the canvas."""
    cw, ch = CANVAS[0] // 2, CANVAS[1] // 2
    out = []
    for i in range(min(len(c) for c in clips)):
        canvas = np.zeros((CANVAS[1], CANVAS[0], 3), np.uint8)
        for q, clip in enumerate(clips[:4]):
            fr = clip[i]
            k = min(cw / fr.shape[1], ch / fr.shape[0])
            small = cv2.resize(fr, None, fx=k, fy=k, interpolation=cv2.INTER_AREA)
            x = (q % 2) * cw + (cw - small.shape[1]) // 2
            y = (q // 2) * ch + (ch - small.shape[0]) // 2
            canvas[y : y + small.shape[0], x : x + small.shape[1]] = small
        out.append(canvas)
    return out


class Legacy:
    """The finder this replaced (engine/face/tracking.py before issue #17): MediaPipe FaceMesh in
    video mode (its short-range detector re-runs when the track is lost), One-Euro per face."""

    def __init__(self, max_faces: int):
        self.mesh = FaceMesh(static=False, max_faces=max_faces)
        self.tracks: list[tuple[np.ndarray, LandmarkSmoother]] = []

    def process(self, frame, t):
        tracks, out = [], []
        free = list(self.tracks)
        for f in self.mesh.process(frame):
            c = f.points.mean(axis=0)
            best = min(free, key=lambda tr: np.linalg.norm(tr[0] - c), default=None)
            if best is not None and np.linalg.norm(best[0] - c) < 0.5 * f.height:
                free.remove(best)
                smoother = best[1]
            else:
                smoother = LandmarkSmoother()
            tracks.append((c, smoother))
            out.append(Face(smoother(f.landmarks, t), f.score))
        self.tracks = tracks
        return out

    def close(self):
        self.mesh.close()


def _match(faces, refs) -> list[tuple[np.ndarray, np.ndarray]]:
    """Pair each reference face with the found face nearest to it."""
    pairs = []
    for ref in refs:
        c = ref[:, :2].mean(axis=0)
        best = min(faces, key=lambda f: np.linalg.norm(f.points.mean(axis=0) - c), default=None)
        if best is not None and np.linalg.norm(best.points.mean(axis=0) - c) < 0.5 * _height(ref):
            pairs.append((best.landmarks, ref))
    return pairs


def _height(lm: np.ndarray) -> float:
    return float(np.linalg.norm(lm[10, :2] - lm[152, :2]))


def run_scene(frames, refs, rate: float, n_faces: int) -> dict:
    """Both finders over one scene, interleaved frame by frame; n_faces: faces in every frame."""
    new = FaceFinder(FinderConfig(max_faces=1 if n_faces == 1 else 8))  # as extract: largest / --faces all
    finders = {"new": new, "old": Legacy(n_faces)}
    stats = {k: {"found": 0, "ms": [], "err": [], "eyes": []} for k in finders}
    try:
        for i, fr in enumerate(frames):
            order = list(finders) if i % 2 == 0 else list(finders)[::-1]
            for name in order:
                t0 = time.perf_counter()
                faces = finders[name].process(fr, i / rate)
                s = stats[name]
                s["ms"].append(1000 * (time.perf_counter() - t0))
                expected = n_faces if refs is None else len(refs[i] or [])
                s["found"] += len(faces) >= expected > 0
                for lm, ref in _match(faces, refs[i] or []) if refs is not None else []:
                    s["err"].append(float(np.linalg.norm(lm[:, :2] - ref[:, :2], axis=1).mean()) / _height(ref))
                eyes = faces[0].landmarks[list(EYES), :2] if len(faces) == 1 else None
                s["eyes"].append((eyes, _height(faces[0].landmarks) if eyes is not None else 0.0))
    finally:
        for f in finders.values():
            f.close()
    n_expected = len(frames) if refs is None else sum(1 for r in refs if r)
    return {name: _summary(s, n_expected) for name, s in stats.items()}


def _jitter(eyes) -> float | None:
    """Mean second difference of the eye corners over runs of consecutive found frames, % of height."""
    values = []
    for a, b, c in zip(eyes, eyes[1:], eyes[2:]):
        if a[0] is not None and b[0] is not None and c[0] is not None:
            values.append(float(np.linalg.norm(a[0] - 2 * b[0] + c[0], axis=1).mean()) / b[1])
    return 100 * float(np.mean(values)) if values else None


def _summary(s: dict, n_expected: int) -> dict:
    return {
        "found": s["found"],
        "of": n_expected,
        "ms_median": float(np.median(s["ms"])),
        "err_pct": 100 * float(np.mean(s["err"])) if s["err"] else None,
        "jitter_pct": _jitter(s["eyes"]),
    }


def _fmt(v, spec: str) -> str:
    return "-" if v is None else format(v, spec)


def print_row(name: str, res: dict) -> None:
    cells = []
    for k in ("old", "new"):
        r = res[k]
        cells.append(
            f"{r['found']:4d}/{r['of']:<4d} {r['ms_median']:6.2f} ms  err {_fmt(r['err_pct'], '5.1f')}%"
            f"  jitter {_fmt(r['jitter_pct'], '5.2f')}%"
        )
    print(f"| {name:<16} | {cells[0]} | {cells[1]} |", flush=True)


def write_clip(frames: list[np.ndarray], rate: float, path: Path) -> None:
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=round(rate))
        stream.width, stream.height, stream.pix_fmt = frames[0].shape[1], frames[0].shape[0], "yuv420p"
        stream.options = {"crf": "18", "preset": "veryfast"}
        for fr in frames:
            out.mux(stream.encode(av.VideoFrame.from_ndarray(fr, format="bgr24")))
        out.mux(stream.encode())


def extract_kept(path: Path, work: Path, faces: str = "largest", per_frame: int = 1) -> tuple[int, int, dict]:
    """(frames from which `swapstream extract`, defaults, keeps `per_frame` faces, frames read, rejections)."""
    from swapstream.trainer.extract import ExtractConfig, extract

    fs, summary = extract([path], work / path.stem, ExtractConfig(faces=faces), progress=False)
    per = {}
    for rec in fs.faces:
        per[rec.frame] = per.get(rec.frame, 0) + 1
    return sum(1 for n in per.values() if n >= per_frame), summary.frames_read, dict(summary.rejected)


def scenes(count: int):
    """(name, frames, refs or None, rate, faces per frame, where a face is expected) for every scene."""
    frames, rate = read_frames(MEDIA / "s13.mp4", count)
    yield "s13.mp4", frames, None, rate, 1
    bg = background()
    grid = []
    for clip in CLOSE_UPS:
        frames, rate = read_frames(MEDIA / clip, count)
        refs = reference_landmarks(frames)
        if len(grid) < 4:
            grid.append(frames)
        yield f"{clip[:-4]} close-up", frames, [[r] if r is not None else None for r in refs], rate, 1
        for height in HEIGHTS:
            small, small_refs = canvas_scene(frames, refs, height, bg)
            yield f"{clip[:-4]} @ {height} px", small, small_refs, rate, 1
    yield "2x2 grid", grid_scene(grid), None, 30.0, 4


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--frames", type=int, default=90, help="frames per clip (default 90)")
    ap.add_argument("--extract", action="store_true", help="also run swapstream extract on every scene")
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()
    print(f"CPU: {cpu_name()}; {args.frames} frames per clip; old = MediaPipe FaceMesh video mode, new = FaceFinder")
    print("| scene            | old: found, detect ms/frame, error, jitter | new: the same |")
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, frames, refs, rate, n_faces in scenes(args.frames):
            res = run_scene(frames, refs, rate, n_faces)
            print_row(name, res)
            if args.extract and "close-up" not in name:
                path = MEDIA / name if name == "s13.mp4" else Path(tmp) / (name.replace(" ", "_") + ".mp4")
                if name != "s13.mp4":
                    write_clip(frames, rate, path)
                kept, read, rejected = extract_kept(path, Path(tmp), "all" if n_faces > 1 else "largest", n_faces)
                res["extract"] = {"kept_frames": kept, "frames": read, "rejected": rejected}
                print(f"|   extract: kept {kept}/{read} frames; rejected {rejected}", flush=True)
            results[name] = res
    if args.json:
        args.json.write_text(json.dumps({"cpu": cpu_name(), "frames": args.frames, "scenes": results}, indent=1))


if __name__ == "__main__":
    main()
