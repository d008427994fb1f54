"""Live controls: typed, validated messages that change a running pipeline between frames.

One mechanism serves every front end (the `swapstream studio` page, the terminal keys of
`swapstream live`): a front end hands a ControlMessage (or its JSON form {"key": ..., "value": ...})
to `ControlBoard.submit`, which validates it, builds a new frozen `SwapSettings` and publishes it
by replacing one reference. The capture thread stamps the settings current at capture time onto
each packet; every stage and sink thread applies a packet's settings before processing that
packet whenever they differ from the ones it applied last (`apply_settings`). So each frame is
processed under one consistent set of settings, a change lands between two frames, and nothing
restarts. A refused message raises ControlError and changes nothing.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from swapstream.engine.swap_knobs import ControlError, ControlSpec, SwapConfig, knob_specs

from swapstream.common.arg_types import MAX_TARGET_FPS
from swapstream.common.choices import FACE_SELECTIONS, OUTPUT_SIZES

__all__ = ["CONTROLS", "ControlBoard", "ControlError", "ControlMessage", "ControlSpec", "SwapSettings"]

MAX_TARGET_DELAY_MS = 1000.0
# Controls that only a front end with an applier for them can change (the studio: it opens the
# source or the virtual camera on the caller's thread, so a failure is a refusal, not a crash).
FRONT_END_ONLY = {"source": "switching the source", "vcam": "the virtual camera", "output_size": "the output size"}

# The page shows the controls in this order: swap and faces, the swap's knobs (engine/swap_knobs.py),
# then pacing, recording and what the studio opens.
CONTROLS: dict[str, ControlSpec] = {
    s.key: s
    for s in (
        ControlSpec("swap", "bool", "swap faces (off: the camera image passes through untouched)"),
        ControlSpec("faces", "choice", "which faces are swapped", FACE_SELECTIONS),
        *knob_specs(),
        ControlSpec(
            "target_delay_ms",
            "number",
            "hold each frame until this long after its capture (0 = as soon as ready)",
            lo=0.0,
            hi=MAX_TARGET_DELAY_MS,
            step=5.0,
        ),
        ControlSpec("recording", "bool", "record the swapped stream to a file"),
        ControlSpec("model", "model", "swap model, from the models folder"),
        ControlSpec("source", "source", "camera or video file (the studio's --media folder)"),
        ControlSpec("vcam", "bool", "send the swapped stream to a virtual camera"),
        ControlSpec("output_size", "choice", "scale frames at capture to this height (never up)", OUTPUT_SIZES),
        ControlSpec("governor", "bool", "lower quality knobs in a fixed order when fps falls below the target"),
        ControlSpec(
            "target_fps", "number", "the governor's target (0 = the source's rate)", hi=MAX_TARGET_FPS, step=1.0
        ),
    )
}


@dataclass(frozen=True)
class SwapSettings(SwapConfig):
    """Everything a front end can change while the pipeline runs: the swap's knobs (SwapConfig,
    validated there, whichever way they change) and the run's own settings. `model` is the loaded
    model object (an engine.runtime SwapModel, or None to keep the one the stages were built with)."""

    swap: bool = True
    faces: str = "largest"
    target_delay_ms: float = 0.0
    recording: bool = False
    model: str = ""
    model_obj: object = field(default=None, compare=False, repr=False)
    source: str = ""
    vcam: bool = False
    output_size: str = "source"
    governor: bool = False
    target_fps: float = 0.0

    @classmethod
    def from_config(cls, cfg, model=None, *, recording: bool = False, target_delay_ms: float = 0.0) -> SwapSettings:
        """The settings an EngineConfig starts with (model: the SwapModel the stages were built with)."""
        knobs = {f.name: getattr(cfg.swap, f.name) for f in dataclasses.fields(SwapConfig)}
        return cls(
            **knobs,
            faces=cfg.detect.faces,
            target_delay_ms=validate_value("target_delay_ms", target_delay_ms),
            recording=recording,
            model=getattr(getattr(model, "path", None), "name", ""),
            model_obj=model,
        )

    def public(self) -> dict:
        """JSON-ready values (what the page shows)."""
        return {k.key: getattr(self, k.key) for k in CONTROLS.values()}


@dataclass(frozen=True)
class ControlMessage:
    """Set one setting: key (a CONTROLS key) to value."""

    key: str
    value: object

    @classmethod
    def parse(cls, obj: object) -> ControlMessage:
        """From its JSON form {"key": ..., "value": ...}; anything else is refused."""
        if not isinstance(obj, dict) or set(obj) != {"key", "value"}:
            raise ControlError('a control message is {"key": NAME, "value": VALUE}')
        key = obj["key"]
        if not isinstance(key, str) or key not in CONTROLS:
            raise ControlError(f"unknown control {str(key)[:40]!r} (known: {', '.join(CONTROLS)})")
        return cls(key, obj["value"])


def validate_value(key: str, value: object):
    """The value, typed, if `key` accepts it; otherwise ControlError naming what is accepted."""
    spec = CONTROLS.get(key)
    if spec is None:
        raise ControlError(f"unknown control {key!r} (known: {', '.join(CONTROLS)})")
    return spec.check(value)


class ControlBoard:
    """The mailbox between front ends and the pipeline: thread-safe, newest settings win.

    model_loader(name) -> loaded model, or raises ControlError/UserError: called on the caller's
    thread (loading takes a while; frames keep flowing meanwhile), never on a pipeline thread.
    appliers: key -> fn(value), called the same way before a FRONT_END_ONLY change is published
    (e.g. opening the new source); raising ControlError/UserError refuses the change.
    """

    def __init__(
        self,
        initial: SwapSettings,
        model_loader: Callable[[str], object] | None = None,
        appliers: dict[str, Callable[[object], object]] | None = None,
    ):
        self._lock = threading.Lock()
        self._load_lock = threading.Lock()
        self._current = initial
        self._loader = model_loader
        self._appliers = dict(appliers or {})
        self._events: deque[dict] = deque(maxlen=100)
        self._event_id = 0
        self.version = 0

    @property
    def current(self) -> SwapSettings:
        return self._current  # one reference read: atomic

    def submit(self, message: ControlMessage | dict) -> SwapSettings:
        """Validate and publish; returns the new settings. Raises ControlError (nothing changes)."""
        msg = message if isinstance(message, ControlMessage) else ControlMessage.parse(message)
        value = validate_value(msg.key, msg.value)
        changes: dict[str, object] = {msg.key: value}
        dataclasses.replace(self._current, **changes)  # refuses what SwapConfig refuses, before any applier
        if msg.key == "model":
            changes["model_obj"] = self._load_model(value)
        elif msg.key in FRONT_END_ONLY:
            if msg.key not in self._appliers:
                raise ControlError(f"{FRONT_END_ONLY[msg.key]} can only be changed in swapstream studio")
            self._call(self._appliers[msg.key], value)
        with self._lock:
            self._current = dataclasses.replace(self._current, **changes)
            self.version += 1
            new = self._current
        self.note(f"{msg.key} = {value}")
        return new

    def _load_model(self, name: str):
        if self._loader is None:
            raise ControlError("model switching needs a models folder (--models)")
        return self._call(self._loader, name)

    def _call(self, fn, value):
        from swapstream.common.errors import UserError

        with self._load_lock:
            try:
                return fn(value)
            except UserError as e:
                raise ControlError(str(e)) from None

    def toggle(self, key: str) -> SwapSettings:
        """Flip a bool control."""
        return self.submit(ControlMessage(key, not getattr(self.current, key)))

    def cycle(self, key: str, step: int = 1) -> SwapSettings:
        """Move a choice control to the next (step=1) or previous (-1) value it accepts now."""
        choices = CONTROLS[key].choices
        i = choices.index(getattr(self.current, key))
        for k in range(1, len(choices)):
            try:
                return self.submit(ControlMessage(key, choices[(i + k * step) % len(choices)]))
            except ControlError:  # e.g. mask occlusion without an occlusion model: skip it
                continue
        return self.current

    def nudge(self, key: str, delta: float) -> SwapSettings:
        """Add delta to a number control, clamped into its range."""
        spec = CONTROLS[key]
        hi = spec.hi - spec.step if spec.hi_open else spec.hi
        return self.submit(ControlMessage(key, min(hi, max(spec.lo, getattr(self.current, key) + delta))))

    def note(self, text: str, level: str = "info") -> None:
        """Record an event for front ends (a change applied, a failure while applying one)."""
        with self._lock:
            self._event_id += 1
            self._events.append({"id": self._event_id, "t": time.time(), "level": level, "text": text})

    def events(self, after: int = 0) -> list[dict]:
        with self._lock:
            return [e for e in self._events if e["id"] > after]


def apply_settings(part, settings: SwapSettings) -> None:
    """Bring one pipeline part in line with `settings` (on that part's own thread, between packets):
    each part that takes settings owns how, in its `apply_settings(settings)`."""
    own = getattr(part, "apply_settings", None)
    if own is not None:
        own(settings)
