"""A contact sheet: a grid of a sample of a faceset's faces with their masks outlined."""

from __future__ import annotations

import cv2
import numpy as np

from swapstream.common.faceset import Faceset, atomic_write_image


def contact_sheet(fs: Faceset, columns: int = 8, rows: int = 6, thumb: int = 128) -> np.ndarray:
    """BGR uint8 image of up to columns*rows faces sampled evenly across the faceset."""
    n = len(fs)
    picks = np.unique(np.linspace(0, n - 1, min(n, columns * rows)).round().astype(int)) if n else []
    sheet = np.full((max(1, -(-len(picks) // columns)) * thumb, columns * thumb, 3), 32, np.uint8)
    for slot, i in enumerate(picks):
        face = cv2.resize(fs.image(i), (thumb, thumb), interpolation=cv2.INTER_AREA)
        mask = cv2.resize(fs.mask(i), (thumb, thumb), interpolation=cv2.INTER_NEAREST)
        contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
        cv2.drawContours(face, contours, -1, (0, 255, 0), 1, cv2.LINE_AA)
        rec = fs.faces[i]
        cv2.putText(
            face,
            f"{rec.frame} y{rec.yaw:+.0f}",
            (3, thumb - 5),
            cv2.FONT_HERSHEY_SIMPLEX,
            0.35,
            (255, 255, 255),
            1,
            cv2.LINE_AA,
        )
        r, c = divmod(slot, columns)
        sheet[r * thumb : (r + 1) * thumb, c * thumb : (c + 1) * thumb] = face
    return sheet


def write_contact_sheet(fs: Faceset) -> None:
    atomic_write_image(fs.path / "contact_sheet.png", contact_sheet(fs))
