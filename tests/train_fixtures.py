"""Small real facesets for the trainer's tests, built once per test module with `trainer.extract`.

Not a conftest (tests/conftest.py belongs to another area): test modules import these helpers.
"""

from __future__ import annotations

from pathlib import Path

import pytest

MEDIA = Path(__file__).resolve().parents[2] / "shared" / "media"


def media_clip(name: str) -> Path:
    path = MEDIA / name
    if not path.is_file():
        pytest.skip(f"test media {path} is absent (CI has ../shared/media; a fresh clone may not)")
    return path


def build_faceset(clip: str, out: Path, size: int = 64, every: int = 8) -> Path:
    """Faceset of every `every`-th frame of ../shared/media/<clip>, whole faces at `size` px."""
    from swapstream.trainer.extract import ExtractConfig, extract

    extract([media_clip(clip)], out, ExtractConfig(face_type="whole", size=size, every=every), progress=False)
    return out


def pair_facesets(tmp_path_factory, size: int = 64) -> tuple[Path, Path]:
    """(A, B): two different men, d18.mp4 and d19.mp4, ~27 and ~31 faces."""
    root = tmp_path_factory.mktemp("facesets")
    return build_faceset("d18.mp4", root / "A", size), build_faceset("d19.mp4", root / "B", size)
