"""False and true accepts of `--reference` over every pair of people in the test clips (run by hand).

Each clip of ../shared/media is split in time: its first 55% makes the references, its last 40%
gives the probes (the person as the video to convert shows them), so a reference never holds a
probe frame.

- photo reference: the largest face of the frame at 55% (engine.face.reference_files, as a
  user's photo is read);
- faceset reference: `swapstream extract` of every 3rd frame of the first 55% (a faceset as a user
  makes one), read by engine.face.reference_files;
- probes: PROBES frames spread over the last 40%, each embedded as the pipeline does (FaceMesh
  landmarks -> dlib chip -> ResNet).

Every probe is judged as the first check of a new track (engine.face.people.decide_first, the
decision the tracker makes before it swaps a face), against each reference, with the
video's other faces as convert would see them (here: none, one person per clip). A clip counts as
falsely accepted when any probe is accepted for a reference of someone else (any check of the
track could have been the first); true accepts are the share of a clip's own probes accepted.
The old rule (nearest of the reference's embeddings < 0.5) is scored beside the current one.

Embeddings are cached under /tmp/swapstream-reference-accepts (delete it to recompute); the first
run takes a few CPU-minutes (extract + ~700 ResNet embeddings), later runs seconds.

    PYTHONPATH=. .venv/bin/python benchmarks/reference_accepts.py [--json out.json]
"""

from __future__ import annotations

import argparse
import itertools
import json
import platform
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from swapstream.engine.face.embedding import FaceEmbedder  # noqa: E402
from swapstream.engine.face.people import Reference, decide_first  # noqa: E402
from swapstream.engine.face.reference_files import load_reference, one_person  # noqa: E402
from swapstream.engine.face.tracking import FaceFinder, FinderConfig  # noqa: E402

from swapstream.bench.report import cpu_name  # noqa: E402
from swapstream.common.errors import UserError  # noqa: E402

MEDIA = REPO.parent / "shared" / "media"
CLIPS = ("d3", "d6", "d9", "d14", "d18", "d19", "s13", "s18", "s20", "s29", "s32")
CACHE = Path("/tmp/swapstream-reference-accepts")
REFERENCE_SHARE, PROBE_FROM = 0.55, 0.60
PROBES = 20
SMALL_FACE = 64  # px, forehead to chin: the "small" probes
STRAY_SHARE = 0.06  # faces of someone else in a faceset (2 of 32: under the one-person check's 10%)
OLD_ACCEPT = 0.5  # the rule before issue 26: nearest reference embedding under 0.5


def read_frames(name: str) -> list[np.ndarray]:
    cap = cv2.VideoCapture(str(MEDIA / f"{name}.mp4"))
    frames = []
    while True:
        ok, frame = cap.read()
        if not ok:
            break
        frames.append(frame)
    cap.release()
    return frames


def _largest(finder: FaceFinder, frame: np.ndarray):
    faces = finder.find(frame)
    return max(faces, key=lambda f: f.area) if faces else None


def build(name: str, embedder: FaceEmbedder, finder: FaceFinder) -> dict[str, np.ndarray]:
    """Cached per clip: probes and probes_small (P, 128), photo (1, 128), faceset (K, 128) embeddings."""
    out = CACHE / f"{name}.npz"
    cached = dict(np.load(out)) if out.is_file() else {}
    if "probes_small" in cached:
        return cached
    CACHE.mkdir(parents=True, exist_ok=True)
    frames = read_frames(name)
    n = len(frames)
    picks = np.linspace(int(PROBE_FROM * n), n - 1, PROBES).round().astype(int)
    if cached:  # made before the small probes were measured
        cached["probes_small"] = small_probes(frames, picks, finder, embedder)
        np.savez(out, **cached)
        return cached
    first = frames[: int(REFERENCE_SHARE * n)]
    cut = CACHE / f"{name}_first.mkv"
    h, w = first[0].shape[:2]
    writer = cv2.VideoWriter(str(cut), cv2.VideoWriter_fourcc(*"FFV1"), 10, (w, h))
    for f in first[::3]:
        writer.write(f)
    writer.release()
    faceset = CACHE / f"{name}_faceset"
    if not (faceset / "faceset.json").is_file():
        cmd = [sys.executable, "-m", "swapstream", "extract", str(cut), "-o", str(faceset)]
        subprocess.run(cmd, check=True, capture_output=True)
    photo_path = CACHE / f"{name}_photo.png"
    cv2.imwrite(str(photo_path), frames[int(REFERENCE_SHARE * n)])
    probes = []
    for i in picks:
        face = _largest(finder, frames[i])
        if face is not None:
            probes.append(embedder.embed(frames[i], face.points))
    data = {
        "probes": np.stack(probes).astype(np.float32),
        "probes_small": small_probes(frames, picks, finder, embedder),
        "photo": load_reference(photo_path, 0, embedder, finder).embeddings,
        "faceset": load_reference(faceset, 0, embedder, finder).embeddings,
    }
    np.savez(out, **data)
    return data


def small_probes(frames, picks, finder: FaceFinder, embedder: FaceEmbedder) -> np.ndarray:
    """The probes with each frame shrunk until the face is SMALL_FACE px high (where it is larger):
    the soft, small faces of a wide shot, where dlib's embeddings crowd together."""
    out = []
    for i in picks:
        face = _largest(finder, frames[i])
        if face is None:
            continue
        scale = min(1.0, SMALL_FACE / face.height)
        small = cv2.resize(frames[i], None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        points = face.points.copy()
        points[:, :2] *= scale
        out.append(embedder.embed(small, points))
    return np.stack(out).astype(np.float32)


def old_accepts(reference: np.ndarray, probes: np.ndarray) -> np.ndarray:
    return np.linalg.norm(probes[:, None] - reference[None], axis=2).min(axis=1) < OLD_ACCEPT


def new_accepts(reference: np.ndarray, probes: np.ndarray) -> np.ndarray:
    """Today's decision; a faceset that fails the one-person check is refused (nothing accepted)."""
    if len(reference) > 1:
        try:
            reference = one_person(Path("faceset"), reference, [f"face {i}" for i in range(len(reference))])
        except UserError:
            return np.zeros(len(probes), bool)
    ref = Reference("r", reference)
    return np.array([decide_first((ref,), p, others=()) is not None for p in probes])


def with_faces_of(reference: np.ndarray, intruder: np.ndarray, count: int) -> np.ndarray:
    """A faceset's embeddings with `count` of them (spread over it) replaced by another person's."""
    out = reference.copy()
    slots = np.linspace(0, len(out) - 1, count).round().astype(int)
    out[slots] = intruder[:count]
    return out


def reference_of(data, ref_name: str, clip_name: str, kind: str) -> np.ndarray:
    """The reference of ref_name as `kind` says: photo, faceset, or a faceset holding a few
    (stray, 6%) or half (mixed) faces of the clip's person (extracted from a video where both appear)."""
    if kind in ("photo", "faceset"):
        return data[ref_name][kind]
    own, intruder = data[ref_name]["faceset"], data[clip_name]["faceset"]
    stray = max(1, round(STRAY_SHARE * len(own)))
    return with_faces_of(own, intruder, stray if kind == "stray" else len(own) // 2)


def score(data: dict[str, dict[str, np.ndarray]], kind: str, rule, probes: str) -> dict:
    """False accepts over ordered pairs (reference of X, clip of Y != X) and true accepts."""
    false_pairs, false_probes, probes_seen, worst = [], 0, 0, {}
    for ref_name, clip_name in itertools.permutations(data, 2):
        accepted = rule(reference_of(data, ref_name, clip_name, kind), data[clip_name][probes])
        false_probes += int(accepted.sum())
        probes_seen += len(accepted)
        if accepted.any():
            false_pairs.append(f"{ref_name}->{clip_name}")
        dist = np.linalg.norm(data[clip_name][probes][:, None] - data[ref_name]["faceset"][None], axis=2).min()
        worst[f"{ref_name}->{clip_name}"] = float(dist)
    # True accepts: the person's own reference (for stray/mixed: with faces of the next clip's person).
    names = list(data)
    own = {
        name: float(rule(reference_of(data, name, names[(i + 1) % len(names)], kind), data[name][probes]).mean())
        for i, name in enumerate(names)
    }
    closest = sorted(worst.items(), key=lambda kv: kv[1])[:3]
    return {
        "false_accept_pairs": f"{len(false_pairs)}/{len(worst)}",
        "false_accept_probes": f"{false_probes}/{probes_seen}",
        "false_pairs": false_pairs,
        "closest_strangers": closest,
        "true_accept_mean": float(np.mean(list(own.values()))),
        "true_accept_min": min(own.items(), key=lambda kv: kv[1]),
        "true_accept": own,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--clips", nargs="+", default=list(CLIPS))
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()
    embedder, finder = FaceEmbedder(), FaceFinder(FinderConfig(max_faces=1))
    data = {name: build(name, embedder, finder) for name in args.clips}
    finder.close()
    result = {"cpu": f"{cpu_name()} ({platform.machine()})", "probes_per_clip": PROBES}
    for probes, kind in itertools.product(("probes", "probes_small"), ("photo", "faceset", "stray", "mixed")):
        for label, rule in (("old", old_accepts), ("new", new_accepts)):
            key = f"{probes}/{kind}/{label}"
            result[key] = r = score(data, kind, rule, probes)
            print(
                f"{probes:12s} {kind:8s} {label}: false accepts {r['false_accept_pairs']} pairs "
                f"({r['false_accept_probes']} probes), true accepts mean {r['true_accept_mean']:.2f} "
                f"min {r['true_accept_min'][0]} {r['true_accept_min'][1]:.2f}; false: {r['false_pairs'][:12]}"
            )
    if args.json:
        args.json.write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
