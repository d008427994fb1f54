"""index.html for the demo output folder: the videos, the training pictures and the bench table."""

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
    ("bench.png", "Per-stage latency and glass-to-glass latency"),
)


def write_index(out: Path, bench: dict) -> Path:
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
    parts.append("<h2>Bench</h2><pre>" + html.escape(json.dumps(bench, indent=2)[:20000]) + "</pre>")
    index = out / "index.html"
    index.write_text("\n".join(parts))
    return index
