"""What a faceset holds: `swapstream info FACESET` calls describe()."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
from swapstream.engine.face.openness import (
    EYE_CLASSES,
    MOUTH_CLASSES,
    eye_openness,
    eye_reference,
    eye_states,
    mouth_openness,
    state_index,
)

from swapstream.common.faceset import FORMAT, VERSION, Faceset

YAW_BINS = (-90, -60, -45, -30, -15, -5, 5, 15, 30, 45, 60, 90)
NO_CLOSED_EYES = "no closed eyes: as the target (-b) of a model, its swaps cannot blink"


def _counts(index: np.ndarray, classes: tuple[tuple[str, float], ...]) -> dict[str, int]:
    return {name: int((index == i).sum()) for i, (name, _) in enumerate(classes)}


def expression_coverage(eyes: np.ndarray, mouths: np.ndarray) -> dict:
    """How many faces show closed / half-closed / open eyes and closed ... wide-open mouths, and a
    warning for each expression the faceset lacks: a model never sees its target (-b) do what its
    faceset does not hold (a target who never blinks kept its eyes open through every blink of
    the driver in benchmarks/results_log/2026-11-to-2026-12-06.md).
    eyes, mouths: float (N,) eye_openness and mouth_openness of each face."""
    eye_counts = _counts(eye_states(eyes), EYE_CLASSES)
    mouth_counts = _counts(state_index(mouths, MOUTH_CLASSES), MOUTH_CLASSES)
    warnings = []
    if len(eyes) and eye_counts["closed"] == 0:
        warnings.append(NO_CLOSED_EYES)
    if len(mouths) and mouth_counts["open"] + mouth_counts["wide open"] == 0:
        # Softer than the eyes: the shared encoder carries some opening over from the driver's side
        # (d18 -> d19 opened to 0.28 with none above 0.15 in d19's faceset,
        # benchmarks/results_log/2026-11-to-2026-12-06.md).
        warnings.append("no open mouth: as the target (-b) of a model, its swaps open the mouth less than the driver")
    return {"eye_reference": eye_reference(eyes), "eyes": eye_counts, "mouth": mouth_counts, "warnings": warnings}


def describe(path: str | Path) -> dict:
    """A JSON-ready summary: format, contract, count, sources, yaw histogram, sharpness, the eye and
    mouth expressions it covers (expression_coverage)."""
    fs = Faceset.open(path)
    yaws = np.array([f.yaw for f in fs.faces]) if len(fs) else np.zeros(0)
    hist, edges = np.histogram(yaws, bins=YAW_BINS)
    per_source = Counter(f.source for f in fs.faces)
    return {
        "kind": "faceset",
        "path": str(fs.path),
        "format": f"{FORMAT} v{VERSION}",
        "face_type": fs.face_type,
        "size": fs.size,
        "template": fs.template,
        "contract": fs.contract,
        "count": len(fs),
        "sources": [
            {"path": s.path, "faces": per_source.get(sid, 0), "complete": s.complete} for sid, s in fs.sources.items()
        ],
        "rejected": fs.rejected,
        "yaw_histogram": [
            {"from": int(a), "to": int(b), "count": int(c)} for a, b, c in zip(edges[:-1], edges[1:], hist)
        ],
        "sharpness_median": float(np.median([f.sharpness for f in fs.faces])) if len(fs) else None,
        "expressions": faceset_coverage(fs),
    }


def faceset_coverage(fs: Faceset) -> dict:
    """expression_coverage of every face of an open faceset."""
    eyes = np.array([eye_openness(f.landmarks) for f in fs.faces], np.float64)
    mouths = np.array([mouth_openness(f.landmarks) for f in fs.faces], np.float64)
    return expression_coverage(eyes, mouths)


def format_description(d: dict) -> str:
    lines = [
        f"{d['path']}: {d['format']}, {d['count']} faces, {d['face_type']} at {d['size']} px, "
        f"template {d['template']} (contract v{d['contract']})",
        "sources:",
        *(f"  {s['faces']:6d}  {s['path']}{'' if s['complete'] else '  (incomplete)'}" for s in d["sources"]),
    ]
    if d["rejected"]:
        lines.append("rejected: " + ", ".join(f"{k} {v}" for k, v in sorted(d["rejected"].items())))
    peak = max((b["count"] for b in d["yaw_histogram"]), default=0) or 1
    lines.append("yaw histogram (degrees):")
    for b in d["yaw_histogram"]:
        bar = "#" * round(40 * b["count"] / peak)
        lines.append(f"  {b['from']:+4d} .. {b['to']:+4d}  {b['count']:6d}  {bar}")
    e = d["expressions"]
    lines.append(f"eyes (open = {e['eye_reference']:.3f}): " + ", ".join(f"{k} {v}" for k, v in e["eyes"].items()))
    lines.append("mouth: " + ", ".join(f"{k} {v}" for k, v in e["mouth"].items()))
    lines += [f"warning: {w}" for w in e["warnings"]]
    return "\n".join(lines)
