"""How `swapstream extract` changes a faceset: all at once, or not at all.

FACESET/faceset.json is replaced (atomically, common/faceset.py) only when a run ends: finished,
or interrupted (Ctrl-C, SIGTERM, SIGHUP: what the last segment boundary saved goes in, as before).
Until then the run's state is saved at each segment boundary to FACESET/.faceset.pending.json,
together with the hash of the faceset.json it started from, so a killed run resumes there and a
pending state made against another faceset.json is dropped. New faces are written under their
final names in faces/ and masks/ and listed by no faceset.json until the run ends.

A refused run (a UserError: a video found truncated part way, no face anywhere) puts nothing in:
the pending state and every file it wrote go, faceset.json is left byte-identical, and a faceset
folder the run created is removed. A run that ends with an empty new faceset removes it too.
Files the run takes out of the faceset (blurred faces) are deleted only once a faceset.json that
no longer lists them is in place, and no file that faceset.json does not list is left behind.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import shutil
import tempfile
from pathlib import Path

from swapstream.common.atomic_files import atomic_write_text
from swapstream.common.errors import UserError, user_error
from swapstream.common.faceset import MANIFEST, PENDING, FaceRecord, Faceset

IMAGE_FOLDERS = ("faces", "masks")


def _manifest_hash(path: Path) -> str:
    """SHA-256 of PATH's faceset.json ('' when there is none)."""
    manifest = path / MANIFEST
    return hashlib.sha256(manifest.read_bytes()).hexdigest() if manifest.is_file() else ""


def _listed(fs: Faceset | None) -> set[str]:
    return {rel for r in fs.faces for rel in (r.file, r.mask)} if fs is not None else set()


class FacesetUpdate:
    """The faceset a run extracts into (`fs`: its working state) and how that state gets in.

    checkpoint() at segment boundaries; commit() when the run ends; interrupted() on Ctrl-C;
    discard() when it is refused. open() is the only way in."""

    def __init__(self, path: Path, committed: Faceset | None, fs: Faceset, made: list[Path]):
        self.path = path
        self.committed = committed  # what faceset.json lists now (None: there is none)
        self.fs = fs
        self._made = made  # folders this run created, outermost first
        self._base = _manifest_hash(path)

    @classmethod
    def open(cls, path: str | Path, face_type: str, size: int) -> FacesetUpdate:
        """The faceset at PATH to extract into (created if absent; a contract other than
        FACE_TYPE at SIZE is refused), resumed from a pending state made against its faceset.json."""
        path = Path(path)
        committed = Faceset.open(path) if (path / MANIFEST).exists() else None
        if committed is not None and (committed.face_type, committed.size) != (face_type, size):
            raise user_error(
                path,
                f"holds {committed.face_type} faces at {committed.size} px; cannot append {face_type} at {size} px",
            )
        if path.exists() and not path.is_dir():
            raise user_error(path, "exists and is not a directory")
        outermost = next((p for p in reversed((path, *path.parents)) if not p.exists()), None)
        made = (
            [outermost] if outermost is not None else [path / sub for sub in IMAGE_FOLDERS if not (path / sub).exists()]
        )
        try:
            for sub in IMAGE_FOLDERS:
                (path / sub).mkdir(parents=True, exist_ok=True)
            with tempfile.NamedTemporaryFile(dir=path, prefix=".write-test-"):
                pass
        except OSError as e:
            for folder in made:
                shutil.rmtree(folder, ignore_errors=True)
            raise user_error(path, f"cannot write here: {e.strerror or e}") from None
        ours = committed is not None or (path / PENDING).exists()  # faces/ and masks/ hold only our files
        update = cls(path, committed, Faceset(path, face_type, size), made)
        update.fs = update._pending() or (Faceset.open(path) if committed is not None else update.fs)  # a copy
        if ours:
            update._remove_unlisted(_listed(committed) | _listed(update.fs))  # a killed run's strays
        return update

    def _pending(self) -> Faceset | None:
        """The pending state of a killed run, when it was made against today's faceset.json."""
        pending = self.path / PENDING
        try:
            saved = json.loads(pending.read_text())
        except (OSError, ValueError):
            pending.unlink(missing_ok=True)
            return None
        if not isinstance(saved, dict) or saved.get("base") != self._base:
            pending.unlink(missing_ok=True)  # made against another faceset.json: its files are strays
            return None
        try:
            fs = Faceset.from_manifest(self.path, saved.get("faceset"), pending)
        except UserError:
            fs = None
        if fs is None or (fs.face_type, fs.size) != (self.fs.face_type, self.fs.size):
            pending.unlink(missing_ok=True)  # unusable: the run starts from faceset.json
            return None
        return fs

    # -- during the run ---------------------------------------------------------------------------
    def checkpoint(self) -> None:
        """Save the working state (a segment boundary): a killed run resumes from here."""
        state = {"base": self._base, "faceset": self.fs.to_json()}
        atomic_write_text(self.path / PENDING, json.dumps(state, separators=(",", ":")))

    def remove_files(self, records: list[FaceRecord]) -> None:
        """Delete the files of records already taken out of the working state and checkpointed;
        those faceset.json still lists go at commit, once it no longer lists them."""
        listed = _listed(self.committed)
        for rel in (rel for r in records for rel in (r.file, r.mask)):
            if rel not in listed:
                (self.path / rel).unlink(missing_ok=True)

    # -- the end ----------------------------------------------------------------------------------
    def commit(self) -> Faceset:
        """Put the working state in: faceset.json replaced at once, then what it no longer lists
        deleted. A new faceset that holds no face is removed instead (discard)."""
        if self.committed is None and not self.fs.faces:
            self.discard()
            return self.fs
        self.fs.save()
        (self.path / PENDING).unlink(missing_ok=True)
        self.committed, self._made = self.fs, []
        self._remove_unlisted(_listed(self.fs))
        return self.fs

    def interrupted(self) -> None:
        """Ctrl-C: put in what the last checkpoint saved (files written since then go); with no
        checkpoint yet, nothing was saved and the run is undone as a refused one is."""
        pending = self._pending() if (self.path / PENDING).exists() else None
        if pending is None:
            self.discard()
        else:
            self.fs = pending
            self.commit()

    def discard(self) -> None:
        """A refused run: faceset.json stays as it was, everything the run wrote goes, and so do
        the folders it created."""
        (self.path / PENDING).unlink(missing_ok=True)
        keep = _listed(self.committed)
        for rel in _listed(self.fs) - keep:
            (self.path / rel).unlink(missing_ok=True)
        if self.committed is not None:
            self._remove_unlisted(keep)
        for folder in self._made:
            if folder.name in IMAGE_FOLDERS and folder.parent == self.path:
                with contextlib.suppress(OSError):
                    folder.rmdir()  # only if empty: a folder faceset.json does not own
            else:
                shutil.rmtree(folder, ignore_errors=True)  # made by this run: all in it is the run's
        self._made = []

    def _remove_unlisted(self, keep: set[str]) -> None:
        """Delete every file in faces/ and masks/ that KEEP does not name (the faceset is ours)."""
        for sub in IMAGE_FOLDERS:
            folder = self.path / sub
            for file in folder.iterdir() if folder.is_dir() else ():
                if file.is_file() and f"{sub}/{file.name}" not in keep:
                    file.unlink(missing_ok=True)
