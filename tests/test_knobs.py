"""Each swap knob is declared once (engine/swap_knobs.py) and reaches every front end from there:
the config file, the command-line flag, the studio's controls, the live settings and `live`'s keys,
with one range, refused the same way everywhere."""

from __future__ import annotations

import argparse
import dataclasses

import pytest
from swapstream.engine.engine_config import EngineConfig, load_engine_config
from swapstream.engine.pipeline.controls import CONTROLS, ControlBoard, ControlError, SwapSettings
from swapstream.engine.swap_knobs import SwapConfig, knob_specs

from swapstream.commands.control_keys import KEYS
from swapstream.commands.swap_flags import add_swap_arguments
from swapstream.common.errors import UserError
from swapstream.swap_session.from_args import engine_config_from_args


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(exit_on_error=False)
    add_swap_arguments(parser)
    return parser


def _other_value(spec, default):
    """A valid value other than the default."""
    if spec.kind == "bool":
        return not default
    if spec.kind == "choice":
        return next(c for c in spec.choices if c not in (default, "occlusion"))
    return spec.lo if default != spec.lo else spec.lo + spec.step


def _bad_value(spec):
    if spec.kind == "bool":
        return 3
    if spec.kind == "choice":
        return "sepia"
    return spec.hi + 1.0


def _flag_value(value) -> list[str]:
    return [] if isinstance(value, bool) else [str(value)]


def test_every_knob_reaches_config_flag_control_settings_and_keys(tmp_path):
    specs = knob_specs()
    assert [s.key for s in specs] == [k for k in CONTROLS if k in {s.key for s in specs}]
    settings_fields = {f.name for f in dataclasses.fields(SwapSettings)}
    for spec in specs:
        default = getattr(SwapConfig(), spec.key)
        value = _other_value(spec, default)
        assert CONTROLS[spec.key] is spec and spec.key in settings_fields
        # the config file
        yaml_file = tmp_path / f"{spec.key}.yaml"
        yaml_file.write_text(f"swap:\n  {spec.key}: {str(value).lower() if isinstance(value, bool) else value}\n")
        assert getattr(load_engine_config(yaml_file).swap, spec.key) == value
        yaml_file.write_text(f"swap:\n  {spec.key}: {_bad_value(spec)}\n")
        with pytest.raises(UserError, match=spec.key):
            load_engine_config(yaml_file)
        # the studio's controls and the live settings, from the config's value on
        board = ControlBoard(SwapSettings.from_config(EngineConfig().replace(swap={spec.key: value})))
        assert getattr(board.current, spec.key) == value
        assert getattr(board.submit({"key": spec.key, "value": default}), spec.key) == default
        with pytest.raises(ControlError, match=spec.key):
            board.submit({"key": spec.key, "value": _bad_value(spec)})
        # the command line (knobs with a flag), over the config's value
        flag = "--" + spec.key.replace("_", "-")
        if spec.flag_help or spec.choice_help:
            args = _parser().parse_args(["-m", "m.onnx", flag, *_flag_value(value)])
            assert getattr(engine_config_from_args(args).swap, spec.key) == value
            if spec.kind != "bool":
                with pytest.raises(argparse.ArgumentError):
                    _parser().parse_args(["-m", "m.onnx", flag, str(_bad_value(spec))])
        else:  # set in the config file and the studio only
            assert flag in _parser().parse_known_args(["-m", "m.onnx", flag, "0"])[1]
        # live's keys
        bound = {k: v for k, v in KEYS.items() if v[1] == spec.key}
        assert len(bound) == len(spec.keys)


def test_occlusion_needs_an_occluder_wherever_it_is_asked_for(tmp_path):
    """One check (SwapConfig) refuses mask occlusion without an occlusion model: in the config
    file, on the command line and in the studio."""
    yaml_file = tmp_path / "engine.yaml"
    yaml_file.write_text("swap:\n  mask: occlusion\n")
    with pytest.raises(UserError, match="occluder"):
        load_engine_config(yaml_file)
    with pytest.raises(UserError, match="occluder"):
        engine_config_from_args(_parser().parse_args(["-m", "m.onnx", "--mask", "occlusion"]))
    board = ControlBoard(SwapSettings.from_config(EngineConfig()))
    with pytest.raises(ControlError, match="occluder"):
        board.submit({"key": "mask", "value": "occlusion"})
    assert board.current.mask == "both"


def test_detect_and_finder_share_their_tracking_defaults():
    from swapstream.engine.face.tracking import FinderConfig
    from swapstream.engine.stages.faces import DetectConfig

    finder, detect = FinderConfig(max_faces=DetectConfig().max_faces), DetectConfig()
    shared = ("min_face_px", "smooth", "min_cutoff", "beta", "redetect_every")
    assert all(getattr(finder, name) == getattr(detect, name) for name in shared)
    with pytest.raises(TypeError):
        FinderConfig()  # how many faces to track is always said by the caller
