"""Engine defaults: configs/engine.yaml -> one frozen EngineConfig, built once at the CLI edge.
Its `swap` section is engine.swap_knobs.SwapConfig, where every knob is declared.

The YAML is validated strictly (unknown or mistyped keys are refused with a UserError naming
the file), and the dataclass defaults below equal the shipped YAML, so an installed package
without the configs/ folder behaves exactly like a checkout.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path

from swapstream.engine.stages.camera import CameraConfig
from swapstream.engine.stages.faces import DetectConfig
from swapstream.engine.stages.sink_file import EncoderConfig
from swapstream.engine.swap_knobs import SwapConfig

from swapstream.common.errors import user_error

DEFAULT_PATH = Path(__file__).resolve().parents[1] / "configs" / "engine.yaml"
CONFIG_VERSION = 1


@dataclass(frozen=True)
class OfflineConfig:
    queue_depth: int = 8
    batch_size: int = 8


@dataclass(frozen=True)
class LiveConfig:
    queue_depth: int = 1
    camera: CameraConfig = field(default_factory=CameraConfig)
    vcam_pace: bool = True


@dataclass(frozen=True)
class CredentialsConfig:
    """Content credentials of every output (swapstream/credentials): enabled signs them (C2PA);
    sign_cert/sign_key: an organisation's certificate chain and key (PEM; '' = the per-user key
    made at first use). --credentials, --sign-cert and --sign-key override these."""

    enabled: bool = True
    sign_cert: str = ""
    sign_key: str = ""


@dataclass(frozen=True)
class EngineConfig:
    detect: DetectConfig = field(default_factory=DetectConfig)
    swap: SwapConfig = field(default_factory=SwapConfig)
    offline: OfflineConfig = field(default_factory=OfflineConfig)
    live: LiveConfig = field(default_factory=LiveConfig)
    output: EncoderConfig = field(default_factory=EncoderConfig)
    credentials: CredentialsConfig = field(default_factory=CredentialsConfig)

    def __post_init__(self) -> None:
        for name, depth in (("offline", self.offline.queue_depth), ("live", self.live.queue_depth)):
            if depth < 1:
                raise ValueError(f"{name}.queue_depth must be >= 1")
        if self.live.queue_depth > 2:
            raise ValueError("live.queue_depth must be 1 or 2 (deeper queues are pure latency)")
        if self.offline.batch_size < 1:
            raise ValueError("offline.batch_size must be >= 1")

    def replace(self, **sections) -> EngineConfig:
        """A copy with some sections' fields changed: replace(swap={'color': 'lct'})."""
        changed = {k: dataclasses.replace(getattr(self, k), **v) for k, v in sections.items()}
        return dataclasses.replace(self, **changed)


def _build(cls, data: object, where: str, path: Path):
    """cls(**data) recursively, refusing unknown keys and wrong types."""
    if not isinstance(data, dict):
        raise user_error(path, f"{where or 'top level'} must be a mapping")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - set(fields))
    if unknown:
        raise user_error(path, f"unknown key {where + '.' if where else ''}{unknown[0]} (known: {', '.join(fields)})")
    kwargs = {}
    for name, value in data.items():
        default = getattr(cls(), name)
        key = f"{where}.{name}" if where else name
        if dataclasses.is_dataclass(default):
            kwargs[name] = _build(type(default), value, key, path)
        elif isinstance(default, bool) != isinstance(value, bool) or (
            isinstance(default, (int, float)) and not isinstance(value, (int, float))
        ):
            raise user_error(path, f"{key} must be {type(default).__name__}, got {value!r}")
        elif isinstance(default, str) and not isinstance(value, str):
            raise user_error(path, f"{key} must be a string, got {value!r}")
        else:
            kwargs[name] = type(default)(value) if isinstance(default, float) else value
    try:
        return cls(**kwargs)
    except ValueError as e:
        raise user_error(path, f"{where or 'config'}: {e}") from None


def load_engine_config(path: str | Path | None = None) -> EngineConfig:
    """EngineConfig from a YAML file (default configs/engine.yaml; absent default file -> defaults)."""
    import yaml

    p = Path(path) if path is not None else DEFAULT_PATH
    if not p.is_file():
        if path is None:
            return EngineConfig()
        raise user_error(p, "no such config file")
    try:
        data = yaml.safe_load(p.read_text()) or {}
    except yaml.YAMLError as e:
        raise user_error(p, f"not valid YAML ({e})") from None
    if not isinstance(data, dict):
        raise user_error(p, "top level must be a mapping")
    data = dict(data)
    version = data.pop("version", CONFIG_VERSION)
    if version != CONFIG_VERSION:
        raise user_error(p, f"config version {version!r} is not supported (expected {CONFIG_VERSION})")
    return _build(EngineConfig, data, "", p)
