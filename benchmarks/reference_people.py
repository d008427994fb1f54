"""Several-people benchmark for --reference (run by hand; not a test).

Two test clips side by side (tests/people_fixtures.py: A left, B right, 240 px each), in three
versions: `side` (as they are), `cut` (they change places half way: the tracks stay where they
were while the people under them change) and `away` (A's half is an empty wall for a third of
the clip, then A returns). The reference is one photo of A from a frame the composite never
shows. The detect stage (as convert and live build it, with the reference) runs on every frame;
a frame is right when exactly A's face is chosen (none while A is away).

Offline: every embedding waited for (what convert does). Live: embeddings land when the worker
process returns them, as `swapstream live` runs (so new faces start a few frames late).
Cost: detect-stage time per frame with and without the reference, the embeddings computed per
face and frame, and the ResNet's time per embedding in its process.

    PYTHONPATH=. .venv/bin/python benchmarks/reference_people.py [--pairs d6:d3 d18:d19 d9:d14]
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

import cv2
import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))

from people_fixtures import photo, side_of, two_people  # noqa: E402
from swapstream.engine.face.embedding import ChipEmbedder, FaceEmbedder  # noqa: E402
from swapstream.engine.face.reference_files import load_reference  # noqa: E402
from swapstream.engine.face.tracking import FaceFinder, FinderConfig  # noqa: E402
from swapstream.engine.stages.faces import DetectConfig, DetectStage  # noqa: E402

from swapstream.bench.report import cpu_name  # noqa: E402
from swapstream.common.pipeline_contract import FramePacket  # noqa: E402

MEDIA = REPO.parent / "shared" / "media"


def frame_count(name: str) -> int:
    cap = cv2.VideoCapture(str(MEDIA / name))
    n = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
    cap.release()
    return n


def run_detect(frames, references, offline: bool) -> tuple[list[list[str]], list[float], int]:
    """Sides chosen per frame, detect ms per frame, embeddings computed."""
    stage = DetectStage(DetectConfig(faces="all"), offline=offline, references=references)
    stage.setup()
    chosen, ms = [], []
    try:
        for i, frame in enumerate(frames):
            p = FramePacket(i, i / 30, frame.copy())
            t0 = time.perf_counter()
            p = stage.process(p)
            ms.append((time.perf_counter() - t0) * 1000)
            chosen.append([side_of(s.landmarks, frame.shape[1]) for s in p.faces])
            if not offline:
                time.sleep(max(0.0, 1 / 30 - ms[-1] / 1000))  # the camera's pace: the worker answers meanwhile
        embeddings = stage.identity_checks
    finally:
        stage.close()
    return chosen, ms, embeddings


def score(chosen, a_side) -> tuple[float, list[int]]:
    wrong = [i for i, (c, a) in enumerate(zip(chosen, a_side, strict=True)) if c != ([a] if a else [])]
    return 1 - len(wrong) / len(chosen), wrong


def one_pair(a: str, b: str, embedder, finder) -> list[dict]:
    n = min(frame_count(a), frame_count(b)) - 20
    ref_path = Path("/tmp") / f"reference_{Path(a).stem}.png"
    cv2.imwrite(str(ref_path), photo(a, n + 10))
    ref = load_reference(ref_path, 0, embedder, finder)
    versions = {"side": {}, "cut": {"swap_at": n // 2}, "away": {"away": (n // 3, 2 * n // 3)}}
    rows = []
    for version, kw in versions.items():
        clip = two_people(a, b, n, **kw)
        row = {"pair": f"{a}|{b}", "version": version, "frames": n}
        for mode, offline in (("offline", True), ("live", False)):
            chosen, ms, embeds = run_detect(clip.frames, (ref,), offline)
            share, wrong = score(chosen, clip.a_side)
            row[mode] = {"right_share": share, "wrong_frames": wrong[:20], "embeddings": embeds}
            row[mode]["detect_ms_p50"] = float(np.percentile(ms, 50))
            row[mode]["detect_ms_mean"] = float(np.mean(ms))
        _, plain_ms, _ = run_detect(clip.frames, (), True)
        row["plain_detect_ms_mean"] = float(np.mean(plain_ms))
        row["embeddings_per_face_frame_offline"] = row["offline"]["embeddings"] / (2 * n)
        print(json.dumps(row), flush=True)
        rows.append(row)
    return rows


def resnet_ms() -> float:
    """The ResNet's time per embedding (one chip, in this process), mean of 10."""
    net, chip = ChipEmbedder(), np.zeros((150, 150, 3), np.uint8)
    net.describe(chip)
    t0 = time.perf_counter()
    for _ in range(10):
        net.describe(chip)
    return (time.perf_counter() - t0) * 100


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pairs", nargs="+", default=["d6.mp4:d3.mp4", "d18.mp4:d19.mp4", "d9.mp4:d14.mp4"])
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()
    embedder, finder = FaceEmbedder(), FaceFinder(FinderConfig(max_faces=1))
    rows = []
    for pair in args.pairs:
        a, b = pair.split(":")
        rows += one_pair(a, b, embedder, finder)
    cpu = f"{cpu_name()} ({platform.machine()})"
    summary = {"cpu": cpu, "resnet_ms": resnet_ms(), "rows": rows}
    print(json.dumps({k: v for k, v in summary.items() if k != "rows"}))
    if args.json:
        args.json.write_text(json.dumps(summary, indent=1))


if __name__ == "__main__":
    main()
