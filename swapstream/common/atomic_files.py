"""Write a file so that readers see the old content or the new, never half of it.

Every file and folder swapstream creates gets the permissions the user's umask gives any new
file (0644 / 0755 under the usual umask 022), although temp files start private (0600/0700).
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO

STALE_TEMP_AGE_S = 60.0  # a temp file untouched this long belongs to a writer that was killed
_umask_lock = threading.Lock()


def current_umask() -> int:
    """The process umask (read without changing it where /proc says it, else set-and-restore)."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    with _umask_lock:
        mask = os.umask(0o022)
        os.umask(mask)
    return mask


def honour_umask(path: str | Path) -> None:
    """Give a file (0666) or folder (0777) made private by mkstemp/mkdtemp the umask's mode."""
    base = 0o777 if Path(path).is_dir() else 0o666
    os.chmod(path, base & ~current_umask())


def temp_name_pattern(path: str | Path) -> str:
    """Glob of the temp files atomic_open makes for PATH (in PATH's folder)."""
    return f".{Path(path).name}.*.tmp"


def remove_stale_temp_files(path: str | Path, min_age_s: float = STALE_TEMP_AGE_S) -> list[Path]:
    """Delete leftovers of killed atomic writes of PATH (`.NAME.*.tmp` beside it, untouched for
    min_age_s; a write in progress keeps its temp file fresh). Returns what was removed."""
    path = Path(path)
    removed = []
    if not path.parent.is_dir():
        return removed
    now = time.time()
    for tmp in path.parent.glob(temp_name_pattern(path)):
        try:
            if tmp.is_file() and now - tmp.stat().st_mtime >= min_age_s:
                tmp.unlink()
                removed.append(tmp)
        except OSError:
            continue  # another process removed it, or it is not ours to remove
    return removed


@contextlib.contextmanager
def atomic_open(path: str | Path, mode: str = "wb") -> Iterator[IO]:
    """Open a temp file beside PATH for writing; on a clean exit fsync it, give it the umask's mode
    and rename it over PATH. On any exception (Ctrl-C included) the temp file is removed and PATH
    is untouched (a killed process leaves it behind: see remove_stale_temp_files).

    mode: "wb" or "w" (UTF-8 text).
    """
    if mode not in ("wb", "w"):
        raise ValueError(f"atomic_open writes only: mode 'wb' or 'w', got {mode!r}")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, mode, **({"encoding": "utf-8"} if mode == "w" else {})) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        honour_umask(tmp)  # mkstemp creates 0600; these are ordinary user files
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    with atomic_open(path, "wb") as f:
        f.write(data)


def atomic_write_text(path: str | Path, text: str) -> None:
    atomic_write_bytes(path, text.encode())
