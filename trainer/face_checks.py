"""Quality checks of extracted faces that need the whole source: blur relative to the source's own
sharpness, and the warnings a user must see when a filter throws most of a source away.

Blur is judged against the source, never against one absolute number: footage differs (a phone
clip of a 150 px face is far softer, per pixel, than a studio close-up, and both are usable), so a
face is "blurred" when it is much softer than the source's median face. Sharpness is the variance
of the Laplacian inside the face mask, measured at the face's native resolution (the aligned crop
is never upscaled for it: upscaling is interpolation, and it would make every small face read
blurred). The default ratio, 0.25, is about what a Gaussian blur of sigma 1 px at that resolution
does to a sharp face (measured: 0.28; sigma 0.5 px: 0.71, sigma 2 px: 0.10). An absolute floor
(--min-sharpness) is available and off by default.
"""

from __future__ import annotations

from collections import Counter

import cv2
import numpy as np
from swapstream.engine.face.align import MAX_UPSCALE, alignment_matrix, scale_of, transform_points, warp_face
from swapstream.engine.face.mask import hull_mask

from swapstream.common.faceset import FaceRecord, Faceset

# The option a user changes when one filter rejects most of a source.
OPTION_OF_REASON = {
    "too small": "--min-face",
    "too turned": "--max-yaw",
    "blurred": "--blur-ratio (or --min-sharpness)",
}


def sharpness(
    frame: np.ndarray, landmarks: np.ndarray, face_type_name: str, size: int, m: np.ndarray | None = None
) -> float:
    """Variance of the Laplacian of the grey face inside its (slightly eroded) hull mask, on the
    aligned crop at min(size, the face's native resolution). m: the face's alignment matrix at
    `size`, when the caller has it."""
    m = alignment_matrix(landmarks, face_type_name, size) if m is None else m
    scale = scale_of(m)
    r = size if scale <= 1 else max(16, round(size / scale))
    m = m * (r / size)
    crop = warp_face(frame, m, r)
    mask = hull_mask(transform_points(landmarks, m), r, face_type_name)
    k = max(1, r // 32)  # keep the face/background edge out of the measure
    mask = cv2.erode(mask, np.ones((2 * k + 1, 2 * k + 1), np.uint8))
    lap = cv2.Laplacian(cv2.cvtColor(crop, cv2.COLOR_BGR2GRAY), cv2.CV_32F)
    inside = lap[mask > 127]
    return float(inside.var()) if inside.size else 0.0


def is_upscaled(matrix: np.ndarray) -> bool:
    """True when the face is too small for a useful crop at this size (engine.face.align.MAX_UPSCALE)."""
    return scale_of(matrix) > MAX_UPSCALE


def blurred_records(records: list[FaceRecord], ratio: float) -> list[FaceRecord]:
    """The records (faces of one source, or one run's photos) sharper than nothing but `ratio` x
    their own median: the faces to drop as blurred. ratio 0 turns the check off."""
    if not records or ratio <= 0:
        return []
    median = float(np.median([r.sharpness for r in records]))
    return [r for r in records if r.sharpness < ratio * median]


def remove_records(fs: Faceset, records: list[FaceRecord]) -> None:
    """Take `records` out of the faceset's list (the caller saves the state, then deletes their
    files: a crash in between leaves unlisted files, never a listed face without its file)."""
    gone = {id(r) for r in records}
    fs.faces = [r for r in fs.faces if id(r) not in gone]


def source_warnings(name: str, kept: int, rejected: Counter, upscaled: int, size: int) -> list[str]:
    """Loud messages for one source: a filter that rejected most of its faces (naming the option),
    and faces kept although too small for a useful crop at `size`."""
    out = []
    judged = kept + sum(rejected[r] for r in OPTION_OF_REASON)
    worst = max(OPTION_OF_REASON, key=lambda r: rejected[r])
    if judged and rejected[worst] > judged / 2:
        out.append(
            f"{name}: {rejected[worst]} of {judged} faces rejected as {worst}; if they look fine to you, "
            f"change {OPTION_OF_REASON[worst]} (see swapstream extract --help)"
        )
    if upscaled:
        out.append(
            f"{name}: {upscaled} of {kept} kept faces are too small for a useful {size} px crop (upscaled more "
            f"than {MAX_UPSCALE:g}x); they will train a soft model: use a smaller --size or closer footage"
        )
    return out
