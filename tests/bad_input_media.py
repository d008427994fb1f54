"""Small files for tests/test_bad_inputs.py, all made here in a second or two.

Clips are made from the moving public-domain faces of tests/photo_fixtures.py (a face ~110 px tall
at 256x192) with PyAV (no ffmpeg binary needed): a plain clip, a longer one for signals, a
'phone' clip stored sideways with a 90 degree display flag, and a faststart clip cut mid-stream
(truncated).
Models are the colour-inverting contract model of test_pipeline_models and two broken twins.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import signal
import subprocess
import sys
import threading
import time
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
from conftest import REPO
from photo_fixtures import face_frames

SIZE = (256, 192)  # w, h: not square, so a lost rotation shows in the frame size
TINY_PRESET = (
    "model: {arch: df, resolution: 32, ae_dims: 32, e_dims: 8, d_dims: 8, d_mask_dims: 4, face_type: whole}\n"
    "train: {batch_size: 2, validation_faces: 2, precision: fp32, preview_minutes: 60, checkpoint_minutes: 60}\n"
)


def clip_frames(person: str, count: int, size: tuple[int, int] = SIZE) -> list[np.ndarray]:
    """The first `count` frames of PERSON's clip (photo_fixtures.PEOPLE) rendered w px square and cut
    to the middle h rows: BGR uint8 (h, w, 3) for size = (w, h), h <= w."""
    w, h = size
    top = (w - h) // 2
    return [np.ascontiguousarray(f[top : top + h]) for f in face_frames(person, count, side=w)]


def write_clip(path: Path, frames: list[np.ndarray], rotation: int = 0, faststart: bool = False, gop: int = 0) -> Path:
    """H.264 MP4 at 30 fps; rotation: display flag (degrees counter-clockwise); gop > 0: a keyframe
    every gop frames (where convert's segments can start)."""
    with av.open(str(path), "w", options={"movflags": "faststart"} if faststart else {}) as c:
        s = c.add_stream("libx264", rate=30)
        s.height, s.width = frames[0].shape[:2]
        s.pix_fmt = "yuv420p"
        s.options = {"crf": "16"} | ({"g": str(gop), "keyint_min": str(gop)} if gop else {})
        if rotation:
            s.set_display_rotation(rotation)
        for i, image in enumerate(frames):
            f = av.VideoFrame.from_ndarray(np.ascontiguousarray(image), format="bgr24")
            f.pts, f.time_base = i, Fraction(1, 30)
            for p in s.encode(f):
                c.mux(p)
        for p in s.encode(None):
            c.mux(p)
    return path


def truncated_clip(path: Path, frames: list[np.ndarray]) -> Path:
    """A faststart MP4 (index first) cut mid-stream: it opens and declares every frame."""
    full = write_clip(path.with_name("full_" + path.name), frames, faststart=True)
    with av.open(str(full)) as c:
        positions = [p.pos for p in c.demux(video=0) if p.pos is not None and p.pos >= 0]
    data = full.read_bytes()
    full.unlink()
    path.write_bytes(data[: positions[len(positions) // 2] + 10])  # half the frames, one cut short
    return path


def decode(path: Path) -> list[np.ndarray]:
    with av.open(str(path)) as c:
        return [f.to_ndarray(format="bgr24") for f in c.decode(video=0)]


def broken_models(folder: Path) -> dict[str, Path]:
    """Models whose outputs contradict their metadata (float32 face output, 2x too small mask), and
    whose metadata was edited (zeroed hash, another face type)."""
    import onnx
    from model_fixtures import write_invert_model

    good = write_invert_model(folder / "model.onnx", 64)
    dtype = onnx.load(str(good))
    for node in dtype.graph.node:
        if node.output[0] == "swapped":  # drop the cast back to uint8: the face comes out float32
            node.attribute[0].i = onnx.TensorProto.FLOAT
    dtype.graph.output[0].type.tensor_type.elem_type = onnx.TensorProto.FLOAT
    onnx.save(dtype, str(folder / "bad_dtype.onnx"))
    shape = onnx.load(str(good))
    for prop in shape.metadata_props:
        if prop.key == "swapstream.output_resolution":
            prop.value = "128"
    if not any(p.key == "swapstream.output_resolution" for p in shape.metadata_props):
        shape.metadata_props.add(key="swapstream.output_resolution", value="128")
    onnx.save(shape, str(folder / "bad_shape.onnx"))
    edits = {
        "zeroed_hash": ("swapstream.weights_sha256", "0" * 64),
        "edited_face_type": ("swapstream.face_type", "head"),
    }
    for name, (key, value) in edits.items():  # metadata edited after export (issue 26)
        edited = onnx.load(str(good))
        next(p for p in edited.metadata_props if p.key == key).value = value
        onnx.save(edited, str(folder / f"{name}.onnx"))
    return {"model": good, "bad_dtype": folder / "bad_dtype.onnx", "bad_shape": folder / "bad_shape.onnx"}


# -- checksums ----------------------------------------------------------------------------------
def digest(root: Path) -> dict[str, str]:
    """relative path -> sha256 of every regular file under root (FIFOs are listed, not read)."""
    out = {}
    for p in sorted(root.rglob("*")):
        rel = str(p.relative_to(root))
        if p.is_fifo():
            out[rel] = "fifo"
        elif p.is_file():
            out[rel] = hashlib.sha256(p.read_bytes()).hexdigest()
    return out


def leftovers(root: Path) -> list[str]:
    """Hidden temp files and folders our writers use (.NAME.*.tmp, .NAME.*.partial*)."""
    return [str(p) for p in root.rglob(".*") if p.name.endswith(".tmp") or ".partial" in p.name]


# -- subprocesses --------------------------------------------------------------------------------
def _ignore(signum, frame) -> None:
    """A handler that does nothing: unlike SIG_IGN it is reset to the default across exec."""


@contextlib.contextmanager
def _terminal_signals():
    """The child starts with Ctrl-C and SIGHUP at their defaults, as a terminal's foreground job
    has them: a test run started in the background by a non-interactive shell ignores SIGINT, one
    started under nohup ignores SIGHUP, and an ignored signal stays ignored across exec (a handled
    one is reset to the default). Meanwhile this process handles them as before."""
    on_main = threading.current_thread() is threading.main_thread()
    stand_ins = {signal.SIGINT: signal.default_int_handler, signal.SIGHUP: _ignore}
    ignored = [s for s in stand_ins if on_main and signal.getsignal(s) == signal.SIG_IGN]
    for sig in ignored:
        signal.signal(sig, stand_ins[sig])
    try:
        yield
    finally:
        for sig in ignored:
            signal.signal(sig, signal.SIG_IGN)


class Command:
    """`python -m swapstream ARGV` with stderr read on a thread, so a test can wait for a line."""

    def __init__(self, argv: list[str], verbose: bool = False):
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        cmd = [sys.executable, "-m", "swapstream", *(["-v"] if verbose else []), *argv]
        with _terminal_signals():
            self.proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.err = ""
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        for chunk in iter(lambda: self.proc.stderr.read1(4096), b""):
            self.err += chunk.decode(errors="replace")

    def wait_for(self, pattern: str, timeout: float = 60.0) -> re.Match:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = re.search(pattern, self.err)
            if found or self.proc.poll() is not None:
                assert found, f"exited {self.proc.returncode} before {pattern!r}:\n{self.err}"
                return found
            time.sleep(0.05)
        raise AssertionError(f"no {pattern!r} within {timeout} s:\n{self.err}")

    def wait_until(self, condition, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            assert self.proc.poll() is None, f"exited {self.proc.returncode}:\n{self.err}"
            assert time.monotonic() < deadline, f"timed out:\n{self.err}"
            time.sleep(0.05)

    def finish(self, timeout: float = 60.0) -> tuple[int, str]:
        code = self.proc.wait(timeout)
        self._reader.join(5)
        self.proc.stdout.close()
        self.proc.stderr.close()
        return code, self.err
