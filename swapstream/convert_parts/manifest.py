"""NAME.parts/manifest.json: what a folder of finished segments was made from.

A parts folder is reused only by a run that would produce the same pixels: the same input
(size and SHA-256 of its first and last MiB), the same model file (SHA-256), the same settings
that change pixels (detection, swap, encoder, batch, face type, container) and the same plan
(frame count, segment length, warm-up, the segments). Anything else is refused with the first
difference named, so finished work is never mixed with work done another way.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from pathlib import Path

from swapstream.common.atomic_files import atomic_write_text
from swapstream.common.errors import user_error

FORMAT = "swapstream-convert-parts"
VERSION = 1
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


def pixel_settings(cfg, face_type: str | None, container: str, people: list[dict] | None = None) -> dict:
    """The settings of an engine.config.EngineConfig (and flags) that change a part's pixels;
    people: the --reference people (convert_parts.jobs.people_settings)."""
    encoder = {k: v for k, v in dataclasses.asdict(cfg.output).items() if k not in _JOIN_ONLY}
    return {
        "detect": dataclasses.asdict(cfg.detect),
        "swap": dataclasses.asdict(cfg.swap),
        "encoder": encoder,
        "batch_size": cfg.offline.batch_size,
        "face_type": face_type,
        "container": container.lower(),
        "people": people or [],
    }


def build_manifest(input_id: dict, model_sha: str, settings: dict, plan: dict) -> dict:
    return {
        "format": FORMAT,
        "version": VERSION,
        "input": input_id,
        "model_sha256": model_sha,
        "settings": settings,
        "plan": plan,
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


def check_manifest(folder: Path, wanted: dict) -> None:
    """UserError unless FOLDER's manifest equals WANTED (naming what differs and what to do)."""
    path = folder / MANIFEST_NAME
    try:
        found = json.loads(path.read_text())
    except (OSError, ValueError) as e:
        raise user_error(path, f"cannot be read ({e}): delete {folder} to start again") from None
    if not isinstance(found, dict) or found.get("format") != FORMAT or found.get("version") != VERSION:
        raise user_error(path, f"is not a {FORMAT} v{VERSION} manifest: delete {folder} to start again")
    checks = (
        ("input", "from another input video (its size or content differ)", False),
        ("model_sha256", "with another model file (its SHA-256 differs)", False),
        ("settings", "with other settings", True),
        ("plan", "with another segment plan (--max-frames, --segment-seconds or the frame count)", True),
    )
    for key, what, detailed in checks:
        if found.get(key) != wanted[key]:
            detail = f" ({_first_difference(found.get(key), wanted[key])})" if detailed else ""
            raise user_error(
                folder,
                f"its parts were made {what}{detail}: run with what they were made from, "
                "or delete the folder to start again",
            )
