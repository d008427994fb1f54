"""NAME.parts/manifest.json: what a folder of finished segments was made from.

A parts folder is reused only by a run that would produce the same pixels: the same input
(size and SHA-256 of its first and last MiB), the same content (SHA-256) of every file that changes
pixels (the model, the occlusion model, each --reference photo or faceset and its model), the same
settings that change pixels (detection, swap, encoder, batch, face type, container: the values of
the engine config and the flags, so a config file is recorded by what it sets) and the same plan
(frame count, segment length, warm-up, the segments). Anything else is refused with the first
difference named, so finished work is never mixed with work done another way. Each finished part
is recorded with its frame count and SHA-256 when it is renamed into place (`parts`), so a resume
keeps only parts that are still what was written (convert_parts.jobs verifies them).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from pathlib import Path

from swapstream.common.atomic_files import atomic_write_text
from swapstream.common.errors import user_error
from swapstream.common.faceset import MANIFEST as FACESET_MANIFEST
from swapstream.common.faceset import Faceset

FORMAT = "swapstream-convert-parts"
VERSION = 2  # 2: files by content (model, occluder, references), parts with checksums
MANIFEST_NAME = "manifest.json"
MIB = 1 << 20
# Encoder fields applied at the join, not to the pixels of a part.
_JOIN_ONLY = ("label", "synthetic_label", "copy_audio")


def input_identity(path: Path) -> dict:
    """Size and SHA-256 of the first and last MiB: cheap for hours of video, and any re-encode,
    trim or replacement changes it."""
    size = path.stat().st_size
    with open(path, "rb") as f:
        head = hashlib.sha256(f.read(MIB)).hexdigest()
        f.seek(max(0, size - MIB))
        tail = hashlib.sha256(f.read(MIB)).hexdigest()
    return {"size": size, "head_sha256": head, "tail_sha256": tail}


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(4 * MIB), b""):
            digest.update(block)
    return digest.hexdigest()


def content_sha256(path: Path) -> str:
    """SHA-256 of a file, or of a faceset folder: its manifest and every face and mask it lists."""
    path = Path(path)
    if path.name == FACESET_MANIFEST and path.is_file():
        path = path.parent
    if not path.is_dir():
        return file_sha256(path)
    faceset = Faceset.open(path)
    digest = hashlib.sha256(file_sha256(path / FACESET_MANIFEST).encode())
    for record in faceset.faces:
        for rel in (record.file, record.mask):
            digest.update(f"{rel}:{file_sha256(path / rel) if (path / rel).is_file() else 'missing'}".encode())
    return digest.hexdigest()


def file_record(what: str, path: Path) -> dict:
    """How the manifest records a file that changes pixels: what it is (for messages), where it was
    and its content hash (only the hash is compared: a file moved elsewhere is still the same)."""
    path = Path(path)
    if not path.exists():
        raise user_error(path, f"no such file ({what})")
    try:
        sha = content_sha256(path)
    except OSError as e:
        raise user_error(path, f"cannot be read ({e.strerror or e})") from None
    return {"what": what, "path": str(path), "sha256": sha}


def pixel_settings(cfg, face_type: str | None, container: str, people: list[dict] | None = None) -> dict:
    """The settings of an engine.config.EngineConfig (and flags) that change a part's pixels;
    people: the --reference people (convert_parts.jobs.people_settings)."""
    encoder = {k: v for k, v in dataclasses.asdict(cfg.output).items() if k not in _JOIN_ONLY}
    swap = dataclasses.asdict(cfg.swap)
    swap.pop("occluder")  # a path: the occlusion model is recorded by its content (files)
    if swap.get("detail_from") not in ("", "driver"):
        swap.pop("detail_from")  # a path: the target's faces are recorded by their content (files)
    return {
        "detect": dataclasses.asdict(cfg.detect),
        "swap": swap,
        "encoder": encoder,
        "batch_size": cfg.offline.batch_size,
        "face_type": face_type,
        "container": container.lower(),
        "people": people or [],
    }


def build_manifest(input_id: dict, files: dict, settings: dict, plan: dict) -> dict:
    """files: {flag: file_record(...)} of every file that changes pixels; `parts` fills as parts finish."""
    return {
        "format": FORMAT,
        "version": VERSION,
        "input": input_id,
        "files": files,
        "settings": settings,
        "plan": plan,
        "parts": {},
    }


def write_manifest(folder: Path, manifest: dict) -> None:
    atomic_write_text(folder / MANIFEST_NAME, json.dumps(manifest, indent=1) + "\n")


def _first_difference(found: object, wanted: object, where: str = "") -> str | None:
    """'swap.color: lct there, rct here' for the first leaf that differs (None: equal)."""
    if isinstance(found, dict) and isinstance(wanted, dict):
        for key in sorted(set(found) | set(wanted)):
            diff = _first_difference(found.get(key), wanted.get(key), f"{where}.{key}" if where else key)
            if diff:
                return diff
        return None
    if found != wanted:
        return f"{where or 'value'}: {found!r} there, {wanted!r} here"
    return None


def _file_difference(found: object, wanted: dict) -> str | None:
    """'another occlusion model (--occluder b.onnx: ...)' for the first file whose content differs."""
    found = found if isinstance(found, dict) else {}
    for flag in [*wanted, *(f for f in found if f not in wanted)]:
        there, here = found.get(flag), wanted.get(flag)
        there_sha = there.get("sha256") if isinstance(there, dict) else None
        if here is None:
            return f"with {flag} {there.get('path') if isinstance(there, dict) else ''}, which this run lacks"
        if there_sha is None:
            return f"without {flag}, which this run adds ({here['path']})"
        if there_sha != here["sha256"]:
            return (
                f"with another {here['what']} ({flag} {here['path']}: its content differs, "
                f"SHA-256 {there_sha[:12]} there, {here['sha256'][:12]} here)"
            )
    return None


def check_manifest(folder: Path, wanted: dict) -> dict:
    """FOLDER's manifest, or UserError unless it was made as WANTED (naming what differs and what
    to do). Its `parts` records are not compared."""
    path = folder / MANIFEST_NAME
    try:
        found = json.loads(path.read_text())
    except (OSError, ValueError) as e:
        raise user_error(path, f"cannot be read ({e}): delete {folder} to start again") from None
    if not isinstance(found, dict) or found.get("format") != FORMAT:
        raise user_error(path, f"is not a {FORMAT} manifest: delete {folder} to start again")
    if found.get("version") != VERSION:
        raise user_error(
            path,
            f"was written by another swapstream (parts manifest v{found.get('version')}, this one reads "
            f"v{VERSION}): delete {folder} to start again",
        )
    difference = None
    if found.get("input") != wanted["input"]:
        difference = "from another input video (its size or content differ)"
    difference = difference or _file_difference(found.get("files"), wanted["files"])
    for key, what in (
        ("settings", "with other settings"),
        ("plan", "with another segment plan (--max-frames, --segment-seconds or the frame count)"),
    ):
        if not difference and found.get(key) != wanted[key]:
            difference = f"{what} ({_first_difference(found.get(key), wanted[key])})"
    if difference:
        raise user_error(
            folder,
            f"its parts were made {difference}: run with what they were made from, or delete the folder to start again",
        )
    return found
