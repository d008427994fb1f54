"""Time to quality: validation SSIM vs training minutes, from the history.csv of one or more runs.

Usage:
    python benchmarks/time_to_quality.py RUN_DIR [RUN_DIR ...] [--labels L ...] [--png out.png]
        [--every 5]
Each RUN_DIR is a `swapstream train` run (its history.csv holds a validation row per preview).
Prints a Markdown table (minutes, iteration, SSIM A->A / B->B per run, every --every minutes) and
writes a plot of both SSIMs against minutes, so runs with different batch sizes or presets can be
compared at equal wall-clock time, which is what a user with a fixed budget cares about.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from swapstream.trainer.preview import read_history

from swapstream.common.atomic_files import atomic_write_bytes


def validation_curve(run_dir: Path) -> list[tuple[float, int, float, float]]:
    """[(minutes, iteration, ssim_aa, ssim_bb)] of the validation rows of RUN_DIR/history.csv."""
    path = run_dir / "history.csv"
    if not path.is_file():
        raise SystemExit(f"{path}: no such file (is {run_dir} a swapstream train run?)")
    rows = [r for r in read_history(path) if "val_ssim_aa" in r and "seconds" in r]
    if not rows:
        raise SystemExit(f"{path}: no validation rows with a time")
    return [(r["seconds"] / 60, int(r["iteration"]), r["val_ssim_aa"], r["val_ssim_bb"]) for r in rows]


def at_minute(curve: list[tuple[float, int, float, float]], minute: float) -> tuple[float, int, float, float]:
    """The validation row nearest to `minute` (previews come every few minutes, not on the mark)."""
    return min(curve, key=lambda row: abs(row[0] - minute))


def markdown_table(curves: dict[str, list], every: float) -> str:
    end = max(c[-1][0] for c in curves.values())
    marks = [every * k for k in range(int(end // every) + 1)]
    if end - marks[-1] > 0.1 * every:  # always end on the run's last state
        marks.append(end)
    head = "| minutes | " + " | ".join(f"{name}: iteration (minute), SSIM A->A / B->B" for name in curves) + " |"
    lines = [head, "|---|" + "---|" * len(curves)]
    for m in marks:
        cells = []
        for curve in curves.values():
            row = at_minute(curve, m)
            cells.append(f"{row[1]} ({row[0]:.1f} min), {row[2]:.3f} / {row[3]:.3f}")
        lines.append(f"| {m:.0f} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def plot(curves: dict[str, list], png: Path) -> None:
    import io

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7.5, 4.2))
    for i, (name, curve) in enumerate(curves.items()):
        minutes = [r[0] for r in curve]
        color = f"C{i}"
        ax.plot(minutes, [r[2] for r in curve], color=color, marker="o", ms=3, label=f"{name} A->A")
        ax.plot(minutes, [r[3] for r in curve], color=color, marker="s", ms=3, ls="--", label=f"{name} B->B")
    ax.set(xlabel="training minutes", ylabel="masked SSIM on held-out faces", title="Time to quality")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100)
    plt.close(fig)
    atomic_write_bytes(png, buf.getvalue())


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("runs", nargs="+", type=Path, help="run directories of swapstream train")
    p.add_argument("--labels", nargs="+", help="one name per run (default: the directory names)")
    p.add_argument("--png", type=Path, help="write the plot here")
    p.add_argument("--every", type=float, default=5.0, help="table row every N minutes (default 5)")
    args = p.parse_args()
    labels = args.labels or [r.name for r in args.runs]
    if len(labels) != len(args.runs):
        raise SystemExit(f"--labels: {len(labels)} names for {len(args.runs)} runs")
    curves = {label: validation_curve(run) for label, run in zip(labels, args.runs, strict=True)}
    print(markdown_table(curves, args.every))
    if args.png:
        plot(curves, args.png)
        print(f"plot: {args.png}")


if __name__ == "__main__":
    main()
