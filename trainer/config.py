"""Model and training configuration: frozen dataclasses, built once from a preset YAML.

`ModelConfig` holds the model's constructor arguments; it is stored in every checkpoint
(`ModelConfig.to_dict()`) so export and resume never need the training command line.
`TrainConfig` holds everything the loop needs that does not change the weights' shapes.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from swapstream.common.choices import FACE_TYPES, INPUT_SCALES, OUTPUT_SCALES, TRAIN_PRECISIONS
from swapstream.common.errors import user_error

ARCHS = ("df", "liae")
LR_SCHEDULES = ("cosine", "constant")
PRESETS_DIR = Path(__file__).resolve().parents[1] / "configs" / "presets"

# The encoder halves the resolution four times before the dense bottleneck.
RESOLUTION_MULTIPLE = 16


@dataclass(frozen=True)
class ModelConfig:
    """Constructor arguments of a `SwapAutoencoder` (see trainer/model.py).

    arch: 'df' (shared encoder + inter, one decoder per identity) or 'liae'
        (encoder, inter_AB, inter_B, one shared decoder), as in DeepFaceLab's SAEHD.
    resolution: side of the grid the network codes a face on, a multiple of 16; the side of
        the square input face unless input_scale is 2.
    ae_dims: width of the dense bottleneck. e_dims / d_dims / d_mask_dims: base channel
        widths of the encoder, the face decoder and the mask decoder.
    face_type: the alignment face type the model is trained on (engine.face.align.FACE_TYPES).
    output_scale: 1 renders faces at `resolution`; 2 ends each decoder (face and mask) in a
        depth-to-space step and renders 2 x resolution (DeepFaceLab's "-d"), trained against
        targets at that output resolution. Checkpoints from before the option read as 1.
    input_scale: 1 reads faces at `resolution`; 2 reads 2 x resolution and folds each 2x2 block
        of pixels into channels before the encoder's first conv (space-to-depth), so the model
        sees twice the detail of its grid at almost the same cost. Checkpoints from before the
        option read as 1.
    """

    arch: str
    resolution: int
    ae_dims: int
    e_dims: int
    d_dims: int
    d_mask_dims: int
    face_type: str = "whole"
    output_scale: int = 1
    input_scale: int = 1

    @property
    def input_resolution(self) -> int:
        """Side of the face crops the model reads."""
        return self.resolution * self.input_scale

    @property
    def output_resolution(self) -> int:
        """Side of the faces and masks the model renders (and is trained against)."""
        return self.resolution * self.output_scale

    def __post_init__(self) -> None:
        if self.arch not in ARCHS:
            raise ValueError(f"arch must be one of {ARCHS}, got {self.arch!r}")
        for name in ("resolution", "ae_dims", "e_dims", "d_dims", "d_mask_dims"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        if self.resolution % RESOLUTION_MULTIPLE or not 32 <= self.resolution <= 1024:
            raise ValueError(f"resolution must be a multiple of 16 in [32, 1024], got {self.resolution}")
        if self.face_type not in FACE_TYPES:
            raise ValueError(f"face_type must be one of {FACE_TYPES}, got {self.face_type!r}")
        for name, allowed in (("output_scale", OUTPUT_SCALES), ("input_scale", INPUT_SCALES)):
            value = getattr(self, name)
            if isinstance(value, bool) or value not in allowed:
                raise ValueError(f"{name} must be one of {allowed}, got {value!r}")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ModelConfig:
        """Build from a plain dict (a checkpoint's "model_config" or a preset's `model:` section).

        Raises ValueError on unknown or missing keys and on bad values.
        """
        return _from_dict(cls, d)


@dataclass(frozen=True)
class TrainConfig:
    """Settings of the training loop (trainer/train.py); none of them change the weights' shapes."""

    batch_size: int = 32
    lr: float = 5e-5
    lr_schedule: str = "cosine"  # cosine decays to lr * lr_min_ratio over the iteration budget
    lr_warmup_iters: int = 200
    lr_min_ratio: float = 0.1
    adam_beta1: float = 0.5  # DeepFaceLab's Adam betas: a low beta1 keeps the autoencoder responsive
    adam_beta2: float = 0.999
    grad_clip: float = 1.0
    # Loss weights: masked DSSIM + masked MSE on the face, MSE on the mask.
    dssim_weight: float = 10.0
    mse_weight: float = 10.0
    mask_weight: float = 10.0
    eyes_mouth_weight: float = 3.0  # multiplier of the per-pixel losses inside eye and mouth regions
    eyes_dssim_weight: float = 0.0  # > 0: DSSIM's multiplier inside the eyes instead of eyes_mouth_weight
    edge_weight: float = 0.0  # the face's gradient L1 (trainer/losses.py edge_loss), against blur
    # A's faces swapped to B and back must give A again (SwapAutoencoder.cycle): the swap then has
    # to carry A's expression through B's decoder (a closed mouth stays closed). DF only; 0: off.
    cycle_weight: float = 0.0
    gan_power: float = 0.0  # 0 disables the patch discriminator
    gan_dims: int = 16
    # Share of the budget (iterations or minutes) before the GAN term and the discriminator's steps
    # begin: DeepFaceLab turns GAN on once the face has converged, a sharpening phase.
    gan_start: float = 0.0
    # Augmentation (DeepFaceLab style): warp and affine apply to the input only; flip and
    # colour jitter to input and target alike.
    random_warp: bool = True
    random_flip: bool = True
    affine_scale: float = 0.05
    affine_rotation: float = 10.0  # degrees
    affine_shift: float = 0.05  # share of the resolution
    color_jitter: float = 0.05
    color_transfer: bool = False  # rct: A's batch toward B's colour statistics
    yaw_balance: bool = True
    eye_balance: float = 0.0  # 0..1: draw faces with rarer eye openness more often (trainer/sampling.py)
    mouth_balance: float = 0.0  # 0..1: the same for mouth openness
    icnr: bool = False  # ICNR initialisation of every conv before a pixel shuffle (a fresh run's weights)
    synthetic_blinks: float = 0.0  # 0..1: share of draws with closed eyes, for facesets that never close them
    balance_cap: float = 8.0  # ... but no face more than this many times as often as without them
    validation_faces: int = 8
    precision: str = "auto"
    data_workers: int = 1
    preview_minutes: float = 5.0
    checkpoint_minutes: float = 10.0
    loss_smoothing: float = 0.98  # EMA factor of the losses shown and saved

    def __post_init__(self) -> None:
        positive = ("batch_size", "lr", "adam_beta2", "grad_clip", "preview_minutes", "checkpoint_minutes", "gan_dims")
        for name in positive:
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be > 0, got {getattr(self, name)!r}")
        non_negative = (
            "lr_warmup_iters",
            "dssim_weight",
            "mse_weight",
            "edge_weight",
            "cycle_weight",
            "mask_weight",
            "gan_power",
            "affine_scale",
            "affine_rotation",
            "affine_shift",
            "color_jitter",
            "validation_faces",
            "data_workers",
        )
        for name in non_negative:
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)!r}")
        if self.eyes_mouth_weight < 1:
            raise ValueError(f"eyes_mouth_weight must be >= 1, got {self.eyes_mouth_weight}")
        if self.eyes_dssim_weight != 0 and self.eyes_dssim_weight < 1:
            raise ValueError(f"eyes_dssim_weight must be 0 (off) or >= 1, got {self.eyes_dssim_weight}")
        for name in ("eye_balance", "mouth_balance", "synthetic_blinks", "gan_start"):
            if not 0 <= getattr(self, name) <= 1:
                raise ValueError(f"{name} must be in [0, 1], got {getattr(self, name)}")
        if not self.balance_cap >= 1:
            raise ValueError(f"balance_cap must be >= 1, got {self.balance_cap}")
        for name in ("adam_beta1", "adam_beta2", "lr_min_ratio", "loss_smoothing"):
            if not 0 <= getattr(self, name) < 1 + (name == "lr_min_ratio"):
                raise ValueError(f"{name} out of range: {getattr(self, name)!r}")
        if self.lr_schedule not in LR_SCHEDULES:
            raise ValueError(f"lr_schedule must be one of {LR_SCHEDULES}, got {self.lr_schedule!r}")
        if self.precision not in TRAIN_PRECISIONS:
            raise ValueError(f"precision must be one of {TRAIN_PRECISIONS}, got {self.precision!r}")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TrainConfig:
        """Build from a plain dict; missing keys take the defaults. Raises ValueError on bad input."""
        if isinstance(d, dict) and "eye_balance_cap" in d:  # its name in checkpoints before mouth balance
            d = {("balance_cap" if k == "eye_balance_cap" else k): v for k, v in d.items()}
        return _from_dict(cls, d, require_all=False)


def _from_dict(cls: type, d: dict[str, Any], require_all: bool = True) -> Any:
    if not isinstance(d, dict):
        raise ValueError(f"{cls.__name__}: expected a mapping, got {type(d).__name__}")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(d) - set(fields))
    if unknown:
        raise ValueError(f"unknown key {unknown[0]!r} (known: {', '.join(fields)})")
    if require_all:
        missing = [n for n, f in fields.items() if n not in d and f.default is dataclasses.MISSING]
        if missing:
            raise ValueError(f"missing key {missing[0]!r}")
    kwargs = {}
    for name, value in d.items():
        default = fields[name].default
        expected = type(default) if default is not dataclasses.MISSING else None
        # YAML writes 1e-4 as a string and 10 for 10.0: accept ints for floats, numeric strings for floats.
        if expected is float and isinstance(value, (int, str)) and not isinstance(value, bool):
            try:
                value = float(value)
            except ValueError:
                raise ValueError(f"{name} must be a number, got {value!r}") from None
        elif expected is not None and not isinstance(value, expected):
            raise ValueError(f"{name} must be {expected.__name__}, got {value!r}")
        kwargs[name] = value
    return cls(**kwargs)


def preset_path(name_or_path: str | Path) -> Path:
    """configs/presets/<name>.yaml for a bare name, else the path itself."""
    text = str(name_or_path)
    if text.endswith((".yaml", ".yml")) or "/" in text:
        return Path(text)
    return PRESETS_DIR / f"{text}.yaml"


def available_presets() -> list[str]:
    return sorted(p.stem for p in PRESETS_DIR.glob("*.yaml"))


def load_preset(name_or_path: str | Path) -> tuple[ModelConfig, TrainConfig]:
    """Read and validate a preset YAML with sections `model:` (all ModelConfig fields) and `train:`.

    Raises UserError naming the file and the problem (missing file, unknown key, bad value).
    """
    path = preset_path(name_or_path)
    if not path.is_file():
        raise user_error(path, f"no such preset (available: {', '.join(available_presets())})")
    try:
        doc = yaml.safe_load(path.read_text())
    except yaml.YAMLError as e:
        raise user_error(path, f"not valid YAML: {e}") from None
    if not isinstance(doc, dict):
        raise user_error(path, "expected a mapping with sections 'model' and 'train'")
    unknown = sorted(set(doc) - {"model", "train", "description"})
    if unknown:
        raise user_error(path, f"unknown key {unknown[0]!r} (known: model, train, description)")
    if "model" not in doc:
        raise user_error(path, "missing section 'model'")
    try:
        model = ModelConfig.from_dict(doc["model"])
    except ValueError as e:
        raise user_error(path, f"model: {e}") from None
    try:
        train = TrainConfig.from_dict(doc.get("train") or {})
    except ValueError as e:
        raise user_error(path, f"train: {e}") from None
    return model, train
