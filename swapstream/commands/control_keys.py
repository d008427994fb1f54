"""Terminal keys for `swapstream live`: each key press becomes a control message on the same
ControlBoard that the studio page drives (engine/pipeline/controls.py): one mechanism, applied
between two frames, refused values reported instead of raised.
"""

from __future__ import annotations

import contextlib
import os
import select
import sys
import threading

# key -> (board method, control, argument)
KEYS: dict[str, tuple[str, str, object]] = {
    "s": ("toggle", "swap", None),
    "c": ("cycle", "color", 1),
    "m": ("cycle", "mask", 1),
    "k": ("toggle", "keep_mouth", None),
    "b": ("cycle", "blend", 1),
    "f": ("cycle", "faces", 1),
    "e": ("nudge", "erode", 0.01),
    "E": ("nudge", "erode", -0.01),
    "u": ("nudge", "blur", 0.01),
    "U": ("nudge", "blur", -0.01),
    "d": ("nudge", "detail", 0.25),
    "D": ("nudge", "detail", -0.25),
    "t": ("nudge", "steady", 0.25),
    "T": ("nudge", "steady", -0.25),
    "]": ("nudge", "target_delay_ms", 10.0),
    "[": ("nudge", "target_delay_ms", -10.0),
}


def key_help() -> str:
    return (
        "keys: s swap on/off, c colour, m mask, k keep mouth on/off, b blend, f faces, e/E erode +/-, u/U blur +/-, "
        "d/D detail +/-, t/T steady +/-, ]/[ target delay +/- 10 ms"
    )


def handle_key(board, key: str) -> str | None:
    """Apply the control bound to `key`; a line saying what changed (None for an unbound key)."""
    from swapstream.engine.pipeline.controls import ControlError

    bound = KEYS.get(key)
    if bound is None:
        return None
    method, control, arg = bound
    try:
        fn = getattr(board, method)
        settings = fn(control) if arg is None else fn(control, arg)
    except ControlError as e:
        return f"refused: {e}"
    value = getattr(settings, control)
    return f"{control} = {value:g}" if isinstance(value, float) else f"{control} = {value}"


class KeyReader:
    """Reads single key presses from a terminal on its own thread (cbreak mode, restored on stop)."""

    def __init__(self, board, stream=None, out=None):
        self.board = board
        self.stream = stream or sys.stdin
        self.out = out or sys.stderr
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._saved = None

    @staticmethod
    def usable(stream=None) -> bool:
        stream = stream or sys.stdin
        return hasattr(stream, "isatty") and stream.isatty()

    def start(self) -> None:
        import termios
        import tty

        fd = self.stream.fileno()
        self._saved = termios.tcgetattr(fd)
        tty.setcbreak(fd)
        self._thread = threading.Thread(target=self._loop, name="live-keys", daemon=True)
        self._thread.start()
        print(key_help(), file=self.out, flush=True)

    def _loop(self) -> None:
        while not self._stop.is_set():
            ready, _, _ = select.select([self.stream], [], [], 0.2)
            if not ready:
                continue
            # The raw descriptor, not the text stream: its buffer would hide keys from select().
            keys = os.read(self.stream.fileno(), 64).decode("utf-8", "ignore")
            if not keys:
                return
            for key in keys:
                line = handle_key(self.board, key)
                if line is not None:
                    print(f"control: {line}", file=self.out, flush=True)

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(1.0)
        if self._saved is not None:
            import termios

            with contextlib.suppress(Exception):
                termios.tcsetattr(self.stream.fileno(), termios.TCSADRAIN, self._saved)
            self._saved = None
