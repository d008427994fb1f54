"""The shipped demo model is used only while it matches the demo preset and the contract."""

from __future__ import annotations

import pytest

from swapstream.demo import shipped_models


def test_shipped_model_is_fresh_and_goes_stale_with_the_preset(monkeypatch):
    model, _ = shipped_models.asset_paths("demo", "int8")
    if not model.exists():
        pytest.skip("no demo model shipped in swapstream/assets")
    found = shipped_models.find_shipped("demo", "int8")
    assert found is not None, "the shipped demo model does not match configs/presets/demo.yaml"
    path, info = found
    assert path == model and info["iterations"] > 0
    # the record says how to make it again: the demo's own command, or train + export with the demo preset
    assert "--save-model" in info["command"] or ("--preset demo" in info["command"] and "export" in info["command"])
    assert all(p.is_file() for p in shipped_models.plot_paths("demo").values())
    changed = dict(shipped_models.preset_model_config("demo"), d_dims=99)
    monkeypatch.setattr(shipped_models, "preset_model_config", lambda preset: changed)
    assert shipped_models.find_shipped("demo", "int8") is None
