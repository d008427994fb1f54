"""Swap quality against training minutes: export, convert and `swapstream eval` each kept checkpoint.

Usage (issue #12's side-by-side runs at 10, 20 and 30 minutes, benchmarks/results_log/):
    python benchmarks/train_side_by_side.py ... --checkpoint-minutes 10 --keep-checkpoints -o RUNS
    python benchmarks/eval_over_time.py RUNS/live_before RUNS/live_now --driving CLIP.mp4 \\
        --identity FACESET_B -o OUT [--every 2] [--detail 1] [--png OUT/quality.png]

For every RUN/checkpoints/minute_M_iter_N.pt (train --keep-checkpoints) of every run: `swapstream
export --precision int8 [--direction]` (calibrated on the driver's faceset), `swapstream convert DRIVING`,
`swapstream eval --identity FACESET_B`, through the CLI a user runs. Results already in OUT are
reused, so an interrupted sweep resumes. Prints a Markdown table (minute, iteration, validation
SSIM of the nearest history row, recognised as target, mouth r, eye r, mouth in the driver's state,
sharpness ratio, flicker ratio) and plots each figure against minutes, one line per run.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
from pathlib import Path

from time_to_quality import at_minute, validation_curve  # this script's folder (run as a script)

from swapstream.common.atomic_files import atomic_write_bytes
from swapstream.common.choices import DIRECTIONS

KEPT = re.compile(r"minute_(\d+)_iter_(\d+)\.pt$")
FIGURES = (  # (column, eval JSON path, format, issue #12's target (or None): drawn dashed in the plot)
    ("recognised as target", ("identity", "share_recognised_as_target"), "{:.0%}", 0.95),
    ("mouth r", ("expression", "mouth_correlation"), "{:.2f}", 0.85),
    ("eye r", ("expression", "eye_correlation"), "{:.2f}", 0.7),
    ("mouth in the driver's state", ("expression", "mouth_state_agreement"), "{:.0%}", None),
    ("sharpness ratio", ("sharpness", "ratio"), "{:.2f}", 0.8),
    ("flicker ratio", ("stability", "flicker_ratio"), "{:.2f}", 1.2),
)


def kept_checkpoints(run_dir: Path) -> list[tuple[int, int, Path]]:
    """[(minute, iteration, path)] of RUN_DIR/checkpoints/, oldest first."""
    found = [(KEPT.search(p.name), p) for p in (run_dir / "checkpoints").glob("*.pt")]
    rows = sorted((int(m[1]), int(m[2]), p) for m, p in found if m)
    if not rows:
        raise SystemExit(f"{run_dir}: no kept checkpoints (train with --keep-checkpoints)")
    return rows


def _swapstream(*args: str) -> None:
    cmd = [sys.executable, "-m", "swapstream", *args]
    done = subprocess.run(cmd, check=False, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({done.returncode}):\n{done.stderr[-2000:]}")


def evaluate(checkpoint: Path, out: Path, args: argparse.Namespace) -> dict:
    """The eval report of one checkpoint (made, or read back when OUT already holds it)."""
    report = out.with_suffix(".json")
    if not report.is_file():
        model, video = out.with_suffix(".int8.onnx"), out.with_suffix(".mp4")
        if not model.is_file():
            _swapstream("export", str(checkpoint), "-o", str(model), "--precision", "int8",
                        "--direction", args.direction)  # fmt: skip
        if not video.is_file():
            _swapstream("convert", str(args.driving), "-m", str(model), "-o", str(video),
                        "--detail", str(args.detail), "--steady", str(args.steady))  # fmt: skip
        _swapstream("eval", "--driving", str(args.driving), "--swapped", str(video), "--identity", str(args.identity),
                    "--every", str(args.every), "--json", str(report), "--no-progress")  # fmt: skip
    return json.loads(report.read_text())


def figure(report: dict, path: tuple[str, str]) -> float:
    return float(report[path[0]][path[1]])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("runs", nargs="+", type=Path, metavar="RUN_DIR")
    p.add_argument("--labels", nargs="+", help="one per run (default: the run folders' names)")
    p.add_argument("--driving", type=Path, required=True, help="clip to convert (the driver, A)")
    p.add_argument("--identity", type=Path, required=True, help="faceset of the target (B) for eval's judge")
    p.add_argument("-o", "--output", type=Path, required=True, help="folder for models, videos and reports")
    p.add_argument("--every", type=int, default=2, help="eval measures one frame in N")
    p.add_argument(
        "--direction", choices=DIRECTIONS, default="a2b", help="export direction (b2a: LIAE trained with -a TARGET)"
    )
    p.add_argument("--detail", type=float, default=1.0, help="convert's --detail (default 1, the engine's)")
    p.add_argument("--steady", type=float, default=1.0, help="convert's --steady (default 1, the engine's)")
    p.add_argument("--png", type=Path, help="plot of every figure against minutes")
    args = p.parse_args()
    labels = args.labels or [r.name for r in args.runs]
    if len(labels) != len(args.runs):
        p.error("give one --labels entry per run")
    args.output.mkdir(parents=True, exist_ok=True)
    results: dict[str, list[tuple[int, int, tuple[float, float], dict]]] = {}
    for label, run in zip(labels, args.runs, strict=True):
        curve = validation_curve(run)
        results[label] = []
        for minute, iteration, path in kept_checkpoints(run):
            report = evaluate(path, args.output / f"{label}_min{minute:03d}", args)
            ssim = at_minute(curve, minute)[2:]
            results[label].append((minute, iteration, ssim, report))
            print(f"{label} minute {minute}: {row_cells(iteration, ssim, report)}", flush=True)
    print(markdown(results))
    if args.png is not None:
        plot(results, args.png)
        print(f"wrote {args.png}")


def row_cells(iteration: int, ssim: tuple[float, float], report: dict) -> list[str]:
    cells = [f"{iteration:,}", f"{ssim[0]:.3f} / {ssim[1]:.3f}"]
    return cells + [fmt.format(figure(report, path)) for _, path, fmt, _ in FIGURES]


def markdown(results: dict) -> str:
    head = ["run", "minute", "iteration", "val SSIM A / B", *(f[0] for f in FIGURES)]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for label, rows in results.items():
        for minute, iteration, ssim, report in rows:
            lines.append("| " + " | ".join([label, str(minute), *row_cells(iteration, ssim, report)]) + " |")
    return "\n".join(lines)


def plot(results: dict, png: Path) -> None:
    import io

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(FIGURES), figsize=(4 * len(FIGURES), 3.2))
    for ax, (name, path, _, target) in zip(axes, FIGURES, strict=True):
        for label, rows in results.items():
            ax.plot([r[0] for r in rows], [figure(r[3], path) for r in rows], marker="o", label=label)
        if target is not None:
            ax.axhline(target, color="grey", linestyle="--", linewidth=1)
        ax.set_title(name)
        ax.set_xlabel("training minutes")
        ax.grid(alpha=0.3)
    axes[0].legend()
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90)
    plt.close(fig)
    atomic_write_bytes(png, buf.getvalue())


if __name__ == "__main__":
    main()
