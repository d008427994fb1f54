"""The faceset: a self-describing, versioned directory of aligned faces (no pickle anywhere).

    FACESET/faceset.json   manifest: format, version, contract (face type, size, template id),
                           per-source progress and per-face records (see FaceRecord)
    FACESET/faces/*.jpg    aligned crops, BGR, size x size
    FACESET/masks/*.png    uint8 0/255 face masks, size x size
    FACESET/contact_sheet.png

Image files are written before the manifest names them and the manifest is replaced
atomically, so a crash at any point leaves a faceset that opens and lists only complete faces.
extract changes a faceset all at once (trainer/faceset_update.py): FACESET/.faceset.pending.json
holds a run's progress until the run ends; readers never look at it.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path

import cv2
import numpy as np

from swapstream.common.alignment_ids import CONTRACT_VERSION, N_LANDMARKS, TEMPLATE_ID
from swapstream.common.atomic_files import atomic_write_text
from swapstream.common.choices import FACE_TYPES
from swapstream.common.errors import user_error

FORMAT = "swapstream-faceset"
VERSION = 1
MANIFEST = "faceset.json"
# extract's state between segment boundaries, until the run puts it in (trainer/faceset_update.py)
PENDING = ".faceset.pending.json"


@dataclass
class FaceRecord:
    """One aligned face. landmarks: float32 (478, 2) in crop pixels; matrix: (2, 3) frame->crop."""

    file: str
    mask: str
    source: str
    frame: int
    landmarks: np.ndarray
    matrix: np.ndarray
    yaw: float
    pitch: float
    roll: float
    sharpness: float

    def to_json(self) -> dict:
        d = asdict(self)
        d["landmarks"] = np.round(self.landmarks[:, :2].astype(np.float64), 2).tolist()
        d["matrix"] = np.round(np.asarray(self.matrix, np.float64), 6).tolist()
        for k in ("yaw", "pitch", "roll", "sharpness"):
            d[k] = round(float(d[k]), 2)
        return d

    @classmethod
    def from_json(cls, d: dict) -> FaceRecord:
        """ValueError/KeyError/TypeError on a malformed record (the caller names the manifest)."""
        landmarks = np.asarray(d["landmarks"], np.float32)
        if landmarks.shape != (N_LANDMARKS, 2) or not np.isfinite(landmarks).all():
            raise ValueError(f"landmarks must be {N_LANDMARKS} finite (x, y) points")
        return cls(
            file=str(d["file"]),
            mask=str(d["mask"]),
            source=str(d["source"]),
            frame=int(d["frame"]),
            landmarks=landmarks,
            matrix=np.asarray(d["matrix"], np.float64).reshape(2, 3),
            yaw=float(d["yaw"]),
            pitch=float(d["pitch"]),
            roll=float(d["roll"]),
            sharpness=float(d["sharpness"]),
        )


@dataclass
class SourceProgress:
    """How far extraction got in one input file (so re-runs skip what is done)."""

    path: str
    frames_done: int = 0
    complete: bool = False
    faces_found: int = 0


@dataclass
class Faceset:
    path: Path
    face_type: str
    size: int
    template: str = TEMPLATE_ID
    contract: int = CONTRACT_VERSION
    sources: dict[str, SourceProgress] = field(default_factory=dict)
    faces: list[FaceRecord] = field(default_factory=list)
    rejected: dict[str, int] = field(default_factory=dict)

    # -- opening ---------------------------------------------------------------------------
    @classmethod
    def open(cls, path: str | Path) -> Faceset:
        """Open an existing faceset; UserError naming the path when it is missing or invalid."""
        path = Path(path)
        manifest = path / MANIFEST
        if not path.exists():
            raise user_error(path, "no such faceset")
        if not manifest.is_file():
            raise user_error(path, f"not a faceset (no {MANIFEST}; make one with `swapstream extract`)")
        try:
            d = json.loads(manifest.read_text())
        except (OSError, ValueError) as e:
            raise user_error(manifest, f"unreadable manifest: {e}") from None
        return cls.from_manifest(path, d, manifest)

    @classmethod
    def from_manifest(cls, path: Path, d: object, manifest: Path) -> Faceset:
        """The faceset at PATH as the manifest dict D (read from the file MANIFEST) describes it."""
        if not isinstance(d, dict) or d.get("format") != FORMAT:
            raise user_error(manifest, f"not a {FORMAT} manifest")
        if d.get("version") != VERSION:
            raise user_error(manifest, f"faceset version {d.get('version')} is not supported (this is {VERSION})")
        if d.get("template") != TEMPLATE_ID or d.get("contract") != CONTRACT_VERSION:
            raise user_error(
                manifest,
                f"made with alignment template {d.get('template')} v{d.get('contract')}, "
                f"this swapstream uses {TEMPLATE_ID} v{CONTRACT_VERSION}: re-extract it",
            )
        if d.get("face_type") not in FACE_TYPES:
            raise user_error(manifest, f"unknown face type {d.get('face_type')!r}")
        try:
            return cls(
                path=path,
                face_type=d["face_type"],
                size=int(d["size"]),
                sources={k: SourceProgress(**v) for k, v in d.get("sources", {}).items()},
                faces=[_record(manifest, i, f) for i, f in enumerate(d.get("faces", []))],
                rejected={str(k): int(v) for k, v in d.get("rejected", {}).items()},
            )
        except (KeyError, TypeError, ValueError) as e:
            raise user_error(manifest, f"malformed manifest: {e!r}") from None

    @classmethod
    def open_or_create(cls, path: str | Path, face_type: str, size: int) -> Faceset:
        """Open PATH for appending, or start a new faceset there. The contract must match."""
        path = Path(path)
        if (path / MANIFEST).exists():
            fs = cls.open(path)
            if (fs.face_type, fs.size) != (face_type, size):
                raise user_error(
                    path,
                    f"holds {fs.face_type} faces at {fs.size} px; cannot append {face_type} at {size} px",
                )
            return fs
        if path.exists() and not path.is_dir():
            raise user_error(path, "exists and is not a directory")
        try:
            for sub in ("faces", "masks"):
                (path / sub).mkdir(parents=True, exist_ok=True)
            with tempfile.NamedTemporaryFile(dir=path, prefix=".write-test-"):
                pass
        except OSError as e:
            raise user_error(path, f"cannot write here: {e.strerror or e}") from None
        fs = cls(path=path, face_type=face_type, size=size)
        fs.save()
        return fs

    # -- reading ---------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.faces)

    def image(self, i: int) -> np.ndarray:
        """Aligned face i: uint8 (size, size, 3) BGR."""
        return self._read(self.faces[i].file, cv2.IMREAD_COLOR)

    def mask(self, i: int) -> np.ndarray:
        """Mask of face i: uint8 (size, size), 255 inside the face."""
        return self._read(self.faces[i].mask, cv2.IMREAD_GRAYSCALE)

    def _read(self, rel: str, flags: int) -> np.ndarray:
        file = self.path / rel
        if self.path.resolve() not in file.resolve().parents:  # a crafted manifest must not reach out
            raise user_error(file, "lies outside the faceset")
        img = cv2.imread(str(file), flags)
        if img is None or img.shape[:2] != (self.size, self.size):
            raise user_error(file, "missing or unreadable faceset image")
        return img

    # -- writing ---------------------------------------------------------------------------
    def write_face(self, record: FaceRecord, image: np.ndarray, mask: np.ndarray) -> None:
        """Write a face's files. The manifest lists it only at the next save()."""
        ok = cv2.imwrite(str(self.path / record.file), image, [cv2.IMWRITE_JPEG_QUALITY, 95])
        ok = ok and cv2.imwrite(str(self.path / record.mask), mask)
        if not ok:
            raise user_error(self.path / record.file, "could not write image (disk full or not writable?)")
        self.faces.append(record)

    def to_json(self) -> dict:
        return {
            "format": FORMAT,
            "version": VERSION,
            "face_type": self.face_type,
            "size": self.size,
            "template": self.template,
            "contract": self.contract,
            "count": len(self.faces),
            "sources": {k: asdict(v) for k, v in self.sources.items()},
            "rejected": self.rejected,
            "faces": [f.to_json() for f in self.faces],
        }

    def save(self) -> None:
        """Atomically replace the manifest (temp file, fsync, rename)."""
        atomic_write_text(self.path / MANIFEST, json.dumps(self.to_json(), separators=(",", ":")))


def _record(manifest: Path, i: int, d: object) -> FaceRecord:
    try:
        return FaceRecord.from_json(d)  # type: ignore[arg-type]
    except (KeyError, TypeError, ValueError) as e:
        raise user_error(manifest, f"face {i}: {e}") from None


def atomic_write_image(path: Path, image: np.ndarray) -> None:
    """cv2.imwrite to a temp name in the same folder, then rename over PATH."""
    tmp = path.with_name(f".{path.stem}.tmp{path.suffix}")
    if not cv2.imwrite(str(tmp), image):
        raise user_error(path, "could not write image")
    os.replace(tmp, path)
