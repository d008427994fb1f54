"""Checks every command runs on its output paths before any work starts.

An output must not be one of the command's inputs (source video, model, driving video, faceset),
must not be a folder or a device, and its folder must exist and accept a new file: probed by
creating (and removing) an empty temp file, which is the only test that also holds for root and
for read-only or special file systems such as /proc.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable
from pathlib import Path

from swapstream.common.errors import user_error


def _same_file(a: Path, b: Path) -> bool:
    try:
        return a.exists() and b.exists() and os.path.samefile(a, b)
    except OSError:
        return False


def _inside(path: Path, folder: Path) -> bool:
    try:
        return folder.is_dir() and path.exists() and path.resolve().is_relative_to(folder.resolve())
    except OSError:
        return False


def check_not_an_input(path: Path, inputs: Iterable[Path | None], flag: str = "") -> None:
    """UserError when PATH is (the same file as) one of INPUTS, or an existing file inside an
    input folder (a faceset); None inputs are skipped."""
    named = f"{flag} " if flag else ""
    for inp in inputs:
        if inp is None:
            continue
        if _same_file(Path(path), Path(inp)):
            raise user_error(path, f"{named}output would overwrite the input {inp}: choose another name")
        if _inside(Path(path), Path(inp)):
            raise user_error(path, f"{named}output would overwrite a file of the input folder {inp}")


def check_folder_apart(folder: Path, inputs: Iterable[Path], flag: str = "-o") -> None:
    """UserError when the output FOLDER is an input folder, lies inside one, or holds an input:
    a run must never read back what it writes (extract photos/ -o photos/ would take its own
    contact sheet for a photo next time) nor write over what it reads."""
    out = Path(folder).resolve()
    for inp in inputs:
        src = Path(inp).resolve()
        if src.is_dir() and out.is_relative_to(src):
            where = "is the input folder" if out == src else "lies inside the input folder"
            raise user_error(
                folder, f"{flag} {where} {inp}: its own files would be read back as input; choose a folder outside it"
            )
        if src.is_relative_to(out):
            raise user_error(folder, f"{flag} holds the input {inp}: choose an output folder apart from the inputs")


def probe_folder(path: Path, make_parents: bool = False) -> None:
    """UserError unless a new file can be created in PATH's folder. make_parents: the writer
    creates missing folders, so the nearest existing one is probed instead."""
    parent = path.parent if str(path.parent) else Path(".")
    if make_parents:
        while not parent.exists() and parent != parent.parent:
            parent = parent.parent
    if not parent.is_dir():
        raise user_error(path, f"cannot write: folder {parent} does not exist")
    try:
        fd, probe = tempfile.mkstemp(prefix=".swapstream-probe-", dir=parent)
    except OSError as e:
        raise user_error(path, f"cannot write in folder {parent} ({e.strerror or e})") from None
    os.close(fd)
    os.unlink(probe)


def check_output_file(
    path: Path, inputs: Iterable[Path | None] = (), flag: str = "", make_parents: bool = False
) -> None:
    """Fail early (before any work) when the file PATH cannot be written as an output.
    make_parents: the writer (atomic_open) creates missing folders."""
    path = Path(path)
    check_not_an_input(path, inputs, flag)
    if path.is_dir():
        raise user_error(path, "is a folder, expected a file name")
    if path.exists() and not path.is_file():
        raise user_error(path, "exists and is not a regular file (a device or FIFO): choose a file name")
    probe_folder(path, make_parents)


def _same_target(a: Path, b: Path) -> bool:
    """Do two output names write the same file? Compared absolute, with symlinks resolved, and by
    inode when both exist (a hard link)."""
    try:
        return _same_file(a, b) or os.path.normcase(a.resolve()) == os.path.normcase(b.resolve())
    except (OSError, RuntimeError):  # a symlink loop: check_output_file reports the path itself
        return False


def check_output_files(
    outputs: Iterable[tuple[str, Path | None]], inputs: Iterable[Path | None] = (), make_parents: bool = False
) -> None:
    """check_output_file for each (flag, path) of a command with several outputs (None: not asked
    for), and UserError when two of them name the same file: the second would replace the first."""
    named = [(flag, Path(path)) for flag, path in outputs if path is not None]
    inputs = tuple(inputs)
    for i, (flag, path) in enumerate(named):
        check_output_file(path, inputs, flag, make_parents)
        for other_flag, other in named[:i]:
            if _same_target(path, other):
                raise user_error(path, f"{other_flag} and {flag} name the same file: give each its own name")


def check_output_folder(path: Path, inputs: Iterable[Path | None] = ()) -> None:
    """Fail early when PATH cannot become a new output folder (absent or empty, parent writable)."""
    path = Path(path)
    check_not_an_input(path, inputs)
    if path.exists() and (not path.is_dir() or any(path.iterdir())):
        raise user_error(path, "exists and is not an empty folder")
    probe_folder(path)


def free_partial_name(path: Path) -> Path:
    """NAME.partial.EXT (or NAME.partial for a folder), or NAME.partial-2.EXT ... when taken."""
    path = Path(path)
    stem, suffix = (path.stem, path.suffix) if path.suffix else (path.name, "")
    for n in range(1, 10_000):
        tag = "partial" if n == 1 else f"partial-{n}"
        candidate = path.with_name(f"{stem}.{tag}{suffix}")
        if not os.path.lexists(candidate):
            return candidate
    raise user_error(path, "too many .partial files beside it: remove some")
