"""Small real facesets for the trainer's tests, built once per test module with `trainer.extract`
from the public-domain faces of tests/photo_fixtures.py (no ../shared/media needed).

Not a conftest (tests/conftest.py belongs to another area): test modules import these helpers.
"""

from __future__ import annotations

from pathlib import Path

from photo_fixtures import face_frames, write_face_clip

EVERY = 4  # every 4th frame of the clip: the poses of 4 s of head motion in 32 faces


def build_faceset(person: str, out: Path, size: int = 64, faces: int = 32) -> Path:
    """Faceset of `faces` frames, every EVERY-th of PERSON's clip (photo_fixtures.PEOPLE), whole
    faces at `size` px."""
    from swapstream.trainer.extract import ExtractConfig, extract

    frames = face_frames(person, faces * EVERY)[::EVERY]
    clip = write_face_clip(out.with_name(f"{out.name}.mp4"), frames)
    extract([clip], out, ExtractConfig(face_type="whole", size=size), progress=False)
    return out


def pair_facesets(tmp_path_factory, size: int = 64) -> tuple[Path, Path]:
    """(A, B): two different women, the astronaut and Grace Hopper, 32 faces each."""
    root = tmp_path_factory.mktemp("facesets")
    return build_faceset("astronaut", root / "A", size), build_faceset("hopper", root / "B", size)
