"""What the user sees of a run: preview grid PNG, loss plot PNG, history CSV (all written atomically)."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import cv2
import numpy as np

from swapstream.common.atomic_files import atomic_write_bytes

COLUMNS = ("A", "A->A", "A->B", "B", "B->B", "B->A")
HISTORY_FIELDS = (
    "iteration",
    "seconds",
    "lr",
    "loss",
    "loss_a",
    "loss_b",
    "loss_mask",
    "loss_gan",
    "loss_cycle",
    "val_ssim_aa",
    "val_ssim_bb",
    "samples_per_s",
    "data_wait_share",
)


def write_png(path: Path, image_bgr: np.ndarray) -> None:
    ok, buf = cv2.imencode(".png", image_bgr)
    if not ok:
        raise OSError(f"{path}: PNG encoding failed")
    atomic_write_bytes(path, buf.tobytes())


def preview_grid(tiles: dict[str, np.ndarray | None], cell: int = 128) -> np.ndarray:
    """uint8 BGR grid: one row per validation face, columns COLUMNS, a header with their names.

    tiles: column name -> (N, R, R, 3) uint8 BGR, or None for a direction the model cannot swap
    (drawn grey with 'n/a').
    """
    rows = next(len(v) for v in tiles.values() if v is not None)
    header = 22
    grid = np.full((header + rows * cell, len(COLUMNS) * cell, 3), 32, np.uint8)
    for c, name in enumerate(COLUMNS):
        cv2.putText(grid, name, (c * cell + 6, 16), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (255, 255, 255), 1, cv2.LINE_AA)
        images = tiles.get(name)
        for r in range(rows):
            y, x = header + r * cell, c * cell
            if images is None:
                grid[y : y + cell, x : x + cell] = 96
                cv2.putText(grid, "n/a", (x + cell // 3, y + cell // 2), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (200,) * 3, 1)
            else:
                grid[y : y + cell, x : x + cell] = cv2.resize(images[r], (cell, cell), interpolation=cv2.INTER_CUBIC)
    return grid


def read_history(path: Path) -> list[dict[str, float]]:
    if not path.is_file():
        return []
    with path.open(newline="") as f:
        return [{k: float(v) for k, v in row.items() if v not in ("", None)} for row in csv.DictReader(f)]


def write_history(path: Path, rows: list[dict[str, float]]) -> None:
    """Rewrite the whole CSV atomically (it stays small: one row per logged step)."""
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=HISTORY_FIELDS, extrasaction="ignore")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: (f"{v:.6g}" if isinstance(v, float) else v) for k, v in row.items()})
    atomic_write_bytes(path, buf.getvalue().encode())


def plot_history(path: Path, rows: list[dict[str, float]]) -> None:
    """Loss plot PNG: training losses (log scale) and validation SSIM per identity vs iteration."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax_loss, ax_val) = plt.subplots(1, 2, figsize=(11, 4))
    for key in ("loss_a", "loss_b", "loss_mask", "loss_gan", "loss_cycle"):
        vals = [(r["iteration"], r[key]) for r in rows if r.get(key, 0) > 0]
        if vals:
            ax_loss.plot(*zip(*vals, strict=True), label=key)
    ax_loss.set(xlabel="iteration", ylabel="loss (smoothed)", yscale="log", title="training loss")
    if ax_loss.lines:
        ax_loss.legend()
    for key, label in (("val_ssim_aa", "A->A"), ("val_ssim_bb", "B->B")):
        vals = [(r["iteration"], r[key]) for r in rows if key in r]
        if vals:
            ax_val.plot(*zip(*vals, strict=True), marker="o", label=label)
    ax_val.set(xlabel="iteration", ylabel="masked SSIM", title="validation SSIM (held-out faces)")
    if ax_val.lines:
        ax_val.legend()
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90)
    plt.close(fig)
    atomic_write_bytes(path, buf.getvalue())
