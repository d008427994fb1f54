"""The swap's knobs, each declared once: its default, its range or choices, its help, its
command-line flag and its `live` keys, as one field of SwapConfig.

Everything else derives from these fields: configs/engine.yaml's `swap:` section (engine_config),
the command-line flags (commands/swap_flags.py) and their overrides (swap_session/from_args.py),
the studio's controls and the settings a running pipeline can change (pipeline/controls.py:
SwapSettings is a SwapConfig), `live`'s terminal keys (commands/control_keys.py), and the
validation of every value, wherever it comes from. A stage reads the knobs it uses from a
SwapConfig when built and from each new SwapSettings (its `apply_settings`), so adding a knob is
a field here and the code of the stage that uses it.

This module imports nothing heavy: the command-line parser reads it on every run.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from dataclasses import dataclass, field

from swapstream.common.choices import (
    BLEND_MODE_HELP,
    BLEND_MODES,
    COLOR_MODE_HELP,
    COLOR_MODES,
    MASK_MODE_HELP,
    MASK_MODES,
)


class ControlError(ValueError):
    """A setting's value was refused; the message says why (shown to the user as is)."""


@dataclass(frozen=True)
class ControlSpec:
    """One controllable setting. kind: 'bool', 'choice', 'number' (lo <= v <= hi, or < hi when
    hi_open), 'model' (a name from the models folder, resolved by the board's model loader) or
    'source' (a camera or file name, opened by the board's applier).

    For a knob (a SwapConfig field) also: label, its short name in `live`'s key help; its
    command-line flag `--KEY` (`--keep-mouth` for keep_mouth) has the help flag_help, or for a
    choice the choices described by choice_help (neither: no flag); keys, its `live` keys: one
    that toggles a bool or cycles a choice, or two that move a number up and down by key_step."""

    key: str
    kind: str
    help: str
    choices: tuple[str, ...] = ()
    lo: float = 0.0
    hi: float = 0.0
    hi_open: bool = False
    step: float = 0.0
    label: str = field(default="", compare=False)
    flag_help: str = field(default="", compare=False)
    choice_help: dict | None = field(default=None, compare=False, repr=False)
    keys: str = field(default="", compare=False)
    key_step: float = field(default=0.0, compare=False)

    def as_dict(self) -> dict:
        """What a front end needs to draw the control (JSON-ready)."""
        names = ("key", "kind", "help", "choices", "lo", "hi", "hi_open", "step")
        return {name: getattr(self, name) for name in names}

    def check(self, value: object):
        """The value, typed, if this setting accepts it; otherwise ControlError naming what is accepted."""
        key = self.key
        if self.kind == "bool":
            if not isinstance(value, bool):
                raise ControlError(f"{key} must be true or false, got {_short(value)}")
            return value
        if self.kind in ("choice", "model", "source"):
            if not isinstance(value, str) or (self.choices and value not in self.choices):
                accepted = ", ".join(self.choices) if self.choices else f"a {self.kind} name"
                raise ControlError(f"{key} must be one of: {accepted}; got {_short(value)}")
            return value
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise ControlError(f"{key} must be a number, got {_short(value)}")
        upper_ok = value < self.hi if self.hi_open else value <= self.hi
        if not (self.lo <= value and upper_ok):
            bracket = ")" if self.hi_open else "]"
            raise ControlError(f"{key} must be in [{self.lo:g}, {self.hi:g}{bracket}, got {value:g}")
        return float(value)


def _short(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def knob(default, kind: str, help: str, **spec):
    """A SwapConfig field whose ControlSpec (the rest of the arguments) rides in its metadata."""
    return field(default=default, metadata={"knob": (kind, help, spec)})


@dataclass(frozen=True)
class SwapConfig:
    """The swap's knobs (see the module docstring); occluder: occlusion model file ('' = none),
    needed by mask 'occlusion' (engine/stages/mask_refine.py); detail_from: the target's faceset
    whose own detail `detail` adds (engine.image.target_detail; '' = the model's detail bank beside
    it, MODEL.detail, if there is one; 'driver' = the driving face's own, engine.image.detail).
    Neither is a knob: each is loaded once."""

    color: str = knob(
        "rct", "choice", "colour transfer to the swapped face", choices=COLOR_MODES, label="colour",
        choice_help=COLOR_MODE_HELP, keys="c",
    )  # fmt: skip
    color_strength: float = knob(
        1.0, "number", "how much of the colour transfer is applied", hi=1.0, step=0.05, label="colour strength",
        keys="oO", key_step=0.1,
        flag_help="how much of the colour transfer the swapped face takes: 1 = all of it, 0 = none (the "
        "model's own colours), 0.5 = halfway, for a transfer that overcorrects (a face half in shadow)",
    )  # fmt: skip
    mask: str = knob(
        "both", "choice", "what limits the blend", choices=MASK_MODES, label="mask", choice_help=MASK_MODE_HELP,
        keys="m",
    )  # fmt: skip
    keep_mouth: bool = knob(
        False, "bool", "keep the driver's own teeth and tongue inside an open mouth", label="keep mouth", keys="k",
        flag_help="keep the driver's own teeth and tongue inside an open mouth (feathered): real speech when "
        "the model's teeth are soft",
    )  # fmt: skip
    blend: str = knob(
        "feather", "choice", "how the face is composited", choices=BLEND_MODES, label="blend",
        choice_help=BLEND_MODE_HELP, keys="b",
    )  # fmt: skip
    erode: float = knob(
        0.05, "number", "mask erosion (fraction of the crop)", hi=0.5, hi_open=True, step=0.01, label="erode",
        keys="eE", key_step=0.01,
    )  # fmt: skip
    blur: float = knob(
        0.05, "number", "feather width (fraction of the crop)", hi=0.5, hi_open=True, step=0.01, label="blur",
        keys="uU", key_step=0.01,
    )  # fmt: skip
    detail: float = knob(
        1.0, "number", "the target's own fine detail added inside the face", hi=2.0, step=0.1, label="detail",
        keys="dD", key_step=0.25,
        flag_help="add the target's own fine detail (lashes, lid creases, brows, nostrils, skin texture) that "
        "is finer than the model renders, inside the swapped face except the mouth, from the target's "
        "faces nearest in pose and expression (see --detail-from): 1 = all the render lacks, 0 = none, "
        "2 = twice (harsh). Sharpens faces pasted larger than the model's crop (close-ups)",
    )  # fmt: skip
    mouth: float = knob(
        1.0, "number", "the target's own mouth, shaped to the driver's lips", hi=1.0, step=0.1, label="mouth",
        keys="hH", key_step=0.25,
        flag_help="lay the target's own mouth over the swapped face: of the target's faces beside the model "
        "(its detail bank, see --detail-from), the one whose lips fit the driver's best is bent onto the "
        "driver's lips and colour-matched, so the mouth opens, closes and smiles with the driver's even "
        "where the model draws another state (1 = fully, 0 = the model's own mouth). Where no face of "
        "the target's fits (a mouth opened wider than the target ever does), the model's mouth stays",
    )  # fmt: skip
    eyes: float = knob(
        1.0, "number", "the target's own shut eyes through the driver's blinks", hi=1.0, step=0.1, label="eyes",
        keys="yY", key_step=0.25,
        flag_help="while the driver's eyes are shut, lay the target's own shut eyes over the swapped face: of "
        "the target's faces beside the model (its detail bank, see --detail-from), the one whose eyes fit "
        "the driver's best is warped onto the driver's eyes and colour-matched, where the model still draws "
        "them open (1 = fully, 0 = the model's own eyes). Open eyes, and eyes the model already shuts, stay "
        "the model's",
    )  # fmt: skip
    steady: float = knob(
        1.0, "number", "hold the face's change per frame to the camera face's own", hi=1.0, step=0.1,
        label="steady", keys="tT", key_step=0.25,
        flag_help="hold the swapped face's change from frame to frame to the driving face's own, so a still "
        "face does not shimmer with the model's jitter (blinks, speech and lighting changes pass): 1 = "
        "fully, 0 = off",
    )  # fmt: skip
    occluder: str = ""
    detail_from: str = ""

    def __post_init__(self) -> None:
        for spec in knob_specs():
            object.__setattr__(self, spec.key, spec.check(getattr(self, spec.key)))
        if self.mask == "occlusion" and not self.occluder:
            raise ControlError(
                "mask occlusion needs an occlusion model (--occluder FILE, made by `swapstream train-mask`)"
            )

    @property
    def mask_use(self) -> MaskUse:
        """What `mask` means for the infer and blend stages."""
        return MaskUse(model=self.mask != "hull", hull=self.mask != "model", occlusion=self.mask == "occlusion")


@dataclass(frozen=True)
class MaskUse:
    """The blend mask's parts: the model's learned mask, the landmark hull (both: their minimum),
    and the occlusion model's verdict on top."""

    model: bool
    hull: bool
    occlusion: bool


@functools.cache
def knob_specs() -> tuple[ControlSpec, ...]:
    """Every knob's ControlSpec, in SwapConfig's field order (the studio shows them so)."""
    out = []
    for f in dataclasses.fields(SwapConfig):
        if "knob" in f.metadata:
            kind, help_text, spec = f.metadata["knob"]
            out.append(ControlSpec(f.name, kind, help_text, **spec))
    return tuple(out)
