"""The models folder of the studio's model picker: names only, never a path that leaves it."""

from __future__ import annotations

from collections import OrderedDict
from pathlib import Path

from swapstream.common.errors import UserError
from swapstream.engine.pipeline.controls import ControlError

MODEL_SUFFIXES = (".onnx", ".dfm")
KEEP_LOADED = 3  # models kept in memory, so switching back and forth is instant


class ModelFolder:
    """Lists the swap models directly inside `root` and loads one by file name.

    A name with a path separator, a hidden name, or a file (or symlink) that resolves outside the
    folder is refused, so the page can never make the server open another file.
    load(path) -> model: the loader (engine.runtime.model.load_swap_model with the CLI's runtime
    settings), called at most once per name while it stays among the last KEEP_LOADED used.
    """

    def __init__(self, root: Path, load, current=None):
        self.root = Path(root).resolve()
        self._load = load
        self._loaded: OrderedDict[str, object] = OrderedDict()
        if current is not None and Path(current.path).resolve().parent == self.root:
            self._loaded[Path(current.path).name] = current

    def names(self) -> list[str]:
        if not self.root.is_dir():
            return []
        return sorted(
            p.name
            for p in self.root.iterdir()
            if p.suffix.lower() in MODEL_SUFFIXES and not p.name.startswith(".") and self._inside(p)
        )

    def _inside(self, path: Path) -> bool:
        try:
            resolved = path.resolve(strict=True)
        except OSError:
            return False
        return resolved.parent == self.root and resolved.is_file()

    def path_of(self, name: str) -> Path:
        """The file for `name`, or ControlError when it is not a model directly in the folder."""
        bad = not name or "/" in name or "\\" in name or name.startswith(".") or "\x00" in name
        if bad or Path(name).suffix.lower() not in MODEL_SUFFIXES or not self._inside(self.root / name):
            raise ControlError(f"model must be one of the files in the models folder: {', '.join(self.names()) or '-'}")
        return self.root / name

    def __call__(self, name: str):
        """Load (or reuse) the model `name`; ControlError for a refused name or model."""
        path = self.path_of(name)
        if name in self._loaded:
            self._loaded.move_to_end(name)
            return self._loaded[name]
        try:
            model = self._load(path)
        except UserError as e:
            raise ControlError(str(e)) from None
        model.warmup(1)
        self._loaded[name] = model
        while len(self._loaded) > KEEP_LOADED:
            self._loaded.popitem(last=False)
        return model
