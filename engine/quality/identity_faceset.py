"""A minimal, read-only view of a faceset: the identity the swap should produce.

The full reader lives in trainer/faceset.py, which engine may not import; the judge needs only
the aligned crops and their landmarks, so this reads faceset.json and faces/*.jpg directly and
validates what it uses.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from swapstream.engine.face.landmarks import N_LANDMARKS

from swapstream.common.errors import user_error

FORMAT = "swapstream-faceset"
KNOWN_VERSIONS = (1,)
MANIFEST = "faceset.json"


@dataclass(frozen=True)
class IdentityFace:
    """One aligned crop: image file and float32 (478, 2) landmarks in crop pixels."""

    file: Path
    landmarks: np.ndarray


@dataclass(frozen=True)
class IdentityFaceset:
    """The faces of one person, as listed by a faceset manifest."""

    path: Path
    face_type: str
    size: int
    faces: tuple[IdentityFace, ...]

    @classmethod
    def open(cls, path: Path) -> IdentityFaceset:
        manifest = path / MANIFEST
        if not manifest.is_file():
            raise user_error(path, f"not a faceset (no {MANIFEST}; make one with `swapstream extract`)")
        try:
            meta = json.loads(manifest.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
            raise user_error(manifest, f"unreadable manifest ({e})") from None
        if not isinstance(meta, dict) or meta.get("format") != FORMAT:
            raise user_error(manifest, f"not a {FORMAT} manifest")
        if meta.get("version") not in KNOWN_VERSIONS:
            raise user_error(manifest, f"unsupported faceset version {meta.get('version')!r}")
        size = meta.get("size")
        if not isinstance(size, int) or size < 32:
            raise user_error(manifest, f"bad crop size {size!r}")
        records = meta.get("faces")
        if not isinstance(records, list) or not records:
            raise user_error(manifest, "lists no faces")
        faces = tuple(_face(path, manifest, i, r) for i, r in enumerate(records))
        return cls(path, str(meta.get("face_type", "")), size, faces)

    def image(self, i: int) -> np.ndarray:
        """BGR uint8 (size, size, 3) crop of face i."""
        file = self.faces[i].file
        img = cv2.imread(str(file), cv2.IMREAD_COLOR)
        if img is None:
            raise user_error(file, "missing or unreadable face image")
        if img.shape[:2] != (self.size, self.size):
            raise user_error(file, f"is {img.shape[1]}x{img.shape[0]}, the manifest says {self.size}x{self.size}")
        return img

    def __len__(self) -> int:
        return len(self.faces)


def _face(root: Path, manifest: Path, i: int, record: object) -> IdentityFace:
    try:
        file = root / str(record["file"])  # type: ignore[index]
        landmarks = np.asarray(record["landmarks"], np.float32)  # type: ignore[index]
    except (TypeError, KeyError, ValueError):
        raise user_error(manifest, f"face {i}: needs 'file' and numeric 'landmarks'") from None
    if landmarks.shape != (N_LANDMARKS, 2) or not np.isfinite(landmarks).all():
        raise user_error(manifest, f"face {i}: landmarks must be {N_LANDMARKS} finite (x, y) points")
    if root.resolve() not in file.resolve().parents:
        raise user_error(manifest, f"face {i}: file {file} lies outside the faceset")
    return IdentityFace(file, landmarks)
