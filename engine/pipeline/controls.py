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
import math
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from swapstream.common.arg_types import MAX_DETAIL, MAX_TARGET_FPS
from swapstream.common.choices import BLEND_MODES, COLOR_MODES, FACE_SELECTIONS, MASK_MODES, OUTPUT_SIZES

MAX_TARGET_DELAY_MS = 1000.0
# Controls that only a front end with an applier for them can change (the studio: it opens the
# source or the virtual camera on the caller's thread, so a failure is a refusal, not a crash).
FRONT_END_ONLY = {"source": "switching the source", "vcam": "the virtual camera", "output_size": "the output size"}


class ControlError(ValueError):
    """A control message was refused; the message says why (shown to the user as is)."""


@dataclass(frozen=True)
class ControlSpec:
    """One controllable setting. kind: 'bool', 'choice', 'number' (lo <= v <= hi, or < hi when
    hi_open), 'model' (a name from the models folder, resolved by the board's model loader) or
    'source' (a camera or file name, opened by the board's applier)."""

    key: str
    kind: str
    help: str
    choices: tuple[str, ...] = ()
    lo: float = 0.0
    hi: float = 0.0
    hi_open: bool = False
    step: float = 0.0

    def as_dict(self) -> dict:
        return dataclasses.asdict(self)


CONTROLS: dict[str, ControlSpec] = {
    s.key: s
    for s in (
        ControlSpec("swap", "bool", "swap faces (off: the camera image passes through untouched)"),
        ControlSpec("faces", "choice", "which faces are swapped", FACE_SELECTIONS),
        ControlSpec("color", "choice", "colour transfer to the swapped face", COLOR_MODES),
        ControlSpec("mask", "choice", "what limits the blend", MASK_MODES),
        ControlSpec("keep_mouth", "bool", "keep the driver's own teeth and tongue inside an open mouth"),
        ControlSpec("blend", "choice", "how the face is composited", BLEND_MODES),
        ControlSpec("erode", "number", "mask erosion (fraction of the crop)", lo=0.0, hi=0.5, hi_open=True, step=0.01),
        ControlSpec("blur", "number", "feather width (fraction of the crop)", lo=0.0, hi=0.5, hi_open=True, step=0.01),
        ControlSpec("detail", "number", "the target's own fine detail added inside the face", hi=MAX_DETAIL, step=0.1),
        ControlSpec("steady", "number", "hold the face's change per frame to the camera face's own", hi=1.0, step=0.1),
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
class SwapSettings:
    """Everything a front end can change while the pipeline runs. `model` is the loaded model
    object (an engine.runtime SwapModel, or None to keep the one the stages were built with)."""

    swap: bool = True
    faces: str = "largest"
    color: str = "rct"
    mask: str = "both"
    keep_mouth: bool = False
    blend: str = "feather"
    erode: float = 0.05
    blur: float = 0.05
    detail: float = 1.0
    steady: float = 1.0
    target_delay_ms: float = 0.0
    recording: bool = False
    model: str = ""
    model_obj: object = field(default=None, compare=False, repr=False)
    occluder: str = ""  # the occlusion model's file name ('' = none loaded: mask occlusion is refused)
    source: str = ""
    vcam: bool = False
    output_size: str = "source"
    governor: bool = False
    target_fps: float = 0.0

    @classmethod
    def from_config(cls, cfg, model=None, *, recording: bool = False, target_delay_ms: float = 0.0) -> SwapSettings:
        """The settings an EngineConfig starts with (model: the SwapModel the stages were built with)."""
        s = cfg.swap
        name = getattr(getattr(model, "path", None), "name", "")
        return cls(
            faces=cfg.detect.faces,
            color=s.color,
            mask=s.mask,
            keep_mouth=s.keep_mouth,
            blend=s.blend,
            erode=s.erode,
            blur=s.blur,
            detail=s.detail,
            steady=s.steady,
            target_delay_ms=validate_value("target_delay_ms", target_delay_ms),
            recording=recording,
            model=name,
            model_obj=model,
            occluder=s.occluder,
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
    if spec.kind == "bool":
        if not isinstance(value, bool):
            raise ControlError(f"{key} must be true or false, got {_short(value)}")
        return value
    if spec.kind in ("choice", "model", "source"):
        if not isinstance(value, str) or (spec.choices and value not in spec.choices):
            accepted = ", ".join(spec.choices) if spec.choices else f"a {spec.kind} name"
            raise ControlError(f"{key} must be one of: {accepted}; got {_short(value)}")
        return value
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ControlError(f"{key} must be a number, got {_short(value)}")
    upper_ok = value < spec.hi if spec.hi_open else value <= spec.hi
    if not (spec.lo <= value and upper_ok):
        bracket = ")" if spec.hi_open else "]"
        raise ControlError(f"{key} must be in [{spec.lo:g}, {spec.hi:g}{bracket}, got {value:g}")
    return float(value)


def _short(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


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
        if msg.key == "mask" and value == "occlusion" and not self._current.occluder:
            raise ControlError("mask occlusion needs an occlusion model: start with --occluder FILE")
        changes: dict[str, object] = {msg.key: value}
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
    """Bring one pipeline part in line with `settings` (on that part's own thread, between packets).

    Parts that own their controls define `apply_settings(settings)`; the engine's swap stages are
    adjusted here, through their public attributes, so the mapping of controls to stages is in
    one place.
    """
    own = getattr(part, "apply_settings", None)
    if own is not None:
        own(settings)
        return
    from swapstream.engine.stages.blend import BlendConfig, BlendStage
    from swapstream.engine.stages.color import ColorStage
    from swapstream.engine.stages.faces import AlignStage, DetectStage
    from swapstream.engine.stages.infer import InferStage
    from swapstream.engine.stages.steady import SteadyStage

    contract = getattr(settings.model_obj, "contract", None)
    # Crops are aligned, colour-matched and blended at the model's output resolution.
    size = getattr(contract, "output_resolution", None) or getattr(contract, "resolution", None)
    if isinstance(part, DetectStage) and part.cfg.faces != settings.faces:
        part.cfg = dataclasses.replace(part.cfg, faces=settings.faces)
        part.close()
        part.setup()  # a new tracker for the new number of faces
    elif isinstance(part, AlignStage) and contract is not None:
        part.face_type, part.resolution = contract.face_type, size
    elif isinstance(part, InferStage):
        part.mask_source = settings.mask
        if settings.model_obj is not None:
            part.model = settings.model_obj
    elif isinstance(part, ColorStage):
        part.mode = settings.color
    elif isinstance(part, SteadyStage):
        part.strength = settings.steady
    elif isinstance(part, BlendStage):
        resolution = size if contract is not None else part.resolution
        part.cfg = BlendConfig(settings.blend, settings.erode, settings.blur, settings.detail)
        if part.refiner is not None:
            part.refiner.keep_mouth, part.refiner.occlusion = settings.keep_mouth, settings.mask == "occlusion"
            part.refiner.face_type = contract.face_type if contract is not None else part.refiner.face_type
        part.resolution = resolution
        part.erode_px = round(part.cfg.erode * resolution)
        part.blur_px = round(part.cfg.blur * resolution)
        if settings.model_obj is not None and settings.model_obj is not part.detail_model:
            from swapstream.engine.pipeline.build import detail_beside

            # Another model swaps in another person: only that model's own detail bank fits it.
            part.target, part.detail_model = detail_beside(settings.model_obj), settings.model_obj
