"""index.html for the demo output folder: the videos, the training pictures, the swap's own eval
figures and the bench table."""

from __future__ import annotations

import html
import json
from pathlib import Path

_ITEMS = (
    ("side_by_side.mp4", "Driving clip and swapped result, side by side"),
    ("swapped.mp4", "Swapped video (H.264, labelled as synthetic in its metadata)"),
    ("driving.mp4", "Driving clip (identity A, rendered from one public-domain photo)"),
    ("train_preview.png", "Training preview: A, A->A, B->B, A->B, B->A"),
    ("train_loss.png", "Training losses and validation SSIM"),
    ("eval.png", "Eval: per-frame curves of this swap"),
    ("bench.png", "Per-stage latency and glass-to-glass latency"),
)


def eval_rows(report: dict) -> list[tuple[str, str, str]]:
    """(figure, value, what it can and cannot see) from `swapstream eval`'s JSON report."""
    rows = []
    identity, expression, stability = report.get("identity"), report.get("expression"), report.get("stability")
    if identity:
        rows.append(
            (
                "recognised as the target (B)",
                f"{identity['share_recognised_as_target']:.0%} of {identity['frames_judged']} frames",
                "dlib's face recogniser, independent of the model; blind to blur and to expression",
            )
        )
    if expression:
        for key, name in (("mouth_correlation", "mouth"), ("eye_correlation", "eye")):
            rows.append(
                (
                    f"{name} opening follows the driver (r)",
                    f"{expression[key]:.2f}",
                    "1 = opens and closes with the driver; undefined when the driver's never moves",
                )
            )
    if stability:
        rows.append(
            (
                "flicker ratio",
                f"{stability['flicker_ratio']:.2f}",
                "frame-to-frame change in the face, swapped / driving, in the frame as the head moves: "
                "a face with more fine texture than the driver's reads higher for the same motion",
            )
        )
    leakage = report.get("leakage")
    if leakage:
        rows.append(
            (
                "own sharpness",
                f"{leakage['own_sharpness']:.2f}",
                "fine detail against the target's own faces (1 = as sharp); the driver's detail cannot raise it",
            )
        )
        for part in ("eyes", "brows", "nose", "mouth"):
            share = leakage["parts"][part]["share_nearer_target"]
            rows.append(
                (
                    f"{part}: fine structure nearer the target's",
                    f"{share:.0%} of frames",
                    "the rest look more like the driver's own detail (leakage)",
                )
            )
    return rows


def write_index(out: Path, bench: dict, evaluation: dict | None = None) -> Path:
    parts = [
        "<!doctype html><meta charset=utf-8><title>swapstream demo</title>",
        "<style>body{font-family:sans-serif;max-width:1100px;margin:2em auto}video,img{max-width:100%}"
        "pre{background:#f4f4f4;padding:1em;overflow:auto}</style>",
        "<h1>swapstream demo</h1>",
        "<p>Identity A: NASA portrait of Eileen Collins (skimage). Identity B: US Navy portrait of Grace Hopper "
        "(matplotlib). Both public domain, both shipped inside the dependencies. The faces in the swapped videos "
        "are synthetic.</p>",
    ]
    for name, caption in _ITEMS:
        if not (out / name).exists():
            continue
        parts.append(f"<h2>{html.escape(caption)}</h2>")
        if name.endswith(".mp4"):
            parts.append(f'<video src="{name}" controls loop muted autoplay></video>')
        else:
            parts.append(f'<img src="{name}" alt="{html.escape(caption)}">')
    if evaluation:
        parts.append(
            "<h2>How good is this swap? (<code>swapstream eval</code> on this run, eval.json)</h2><table>"
            "<tr><th>figure</th><th>value</th><th>what it can and cannot see</th></tr>"
        )
        parts += [
            f"<tr><td>{html.escape(a)}</td><td><b>{html.escape(b)}</b></td><td>{html.escape(c)}</td></tr>"
            for a, b, c in eval_rows(evaluation)
        ]
        parts.append("</table>")
    parts.append("<h2>Bench</h2><pre>" + html.escape(json.dumps(bench, indent=2)[:20000]) + "</pre>")
    index = out / "index.html"
    index.write_text("\n".join(parts))
    return index
