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

# The run's own keys; every swap knob brings its own (engine/swap_knobs.py, ControlSpec.keys).
RUN_KEYS = (("s", "swap", "swap"), ("f", "faces", "faces"), ("][", "target_delay_ms", "target delay"))
DELAY_STEP_MS = 10.0


def _bindings() -> list[tuple[str, str, str, str, float]]:
    """(keys, control, label, kind, step) for every bound control, in key-help order."""
    from swapstream.engine.pipeline.controls import CONTROLS
    from swapstream.engine.swap_knobs import knob_specs

    out = [(k, c, label, CONTROLS[c].kind, DELAY_STEP_MS) for k, c, label in RUN_KEYS]
    out[2:2] = [(s.keys, s.key, s.label or s.key, s.kind, s.key_step) for s in knob_specs() if s.keys]
    return out


def _keys() -> dict[str, tuple[str, str, object]]:
    """key -> (board method, control, argument): a bool toggles, a choice cycles, a number has
    an up and a down key."""
    keys: dict[str, tuple[str, str, object]] = {}
    for chars, control, _label, kind, step in _bindings():
        if kind == "bool":
            keys[chars] = ("toggle", control, None)
        elif kind == "choice":
            keys[chars] = ("cycle", control, 1)
        else:
            keys[chars[0]], keys[chars[1]] = ("nudge", control, step), ("nudge", control, -step)
    if len(keys) != sum(len(chars) for chars, *_ in _bindings()):
        raise ValueError("two controls claim the same `live` key (engine/swap_knobs.py, RUN_KEYS)")
    return keys


KEYS = _keys()


def key_help() -> str:
    parts = []
    for chars, _control, label, kind, step in _bindings():
        if kind == "bool":
            parts.append(f"{chars} {label} on/off")
        elif kind == "choice":
            parts.append(f"{chars} {label}")
        else:
            unit = f" {step:g} ms" if chars == "][" else ""
            parts.append(f"{chars[0]}/{chars[1]} {label} +/-{unit}")
    return "keys: " + ", ".join(parts)


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
