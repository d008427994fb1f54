"""What a faceset holds: `swapstream info FACESET` calls describe()."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np

from swapstream.common.faceset import FORMAT, VERSION, Faceset

YAW_BINS = (-90, -60, -45, -30, -15, -5, 5, 15, 30, 45, 60, 90)


def describe(path: str | Path) -> dict:
    """A JSON-ready summary: format, contract, count, sources, yaw histogram, sharpness."""
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
    }


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
    return "\n".join(lines)
