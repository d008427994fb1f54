"""The shipped demo model is used only while it matches the demo preset and the contract."""

from __future__ import annotations

import pytest

from swapstream.commands import demo


def test_shipped_model_is_fresh_and_goes_stale_with_the_preset(monkeypatch):
    if not demo.ASSET_MODEL.exists():
        pytest.skip("no demo model shipped in swapstream/assets")
    info = demo.shipped_model()
    assert info is not None, "the shipped demo model does not match configs/presets/demo.yaml"
    assert info["iterations"] > 0 and "--save-model" in info["command"]
    changed = dict(demo._demo_model_config(), d_dims=99)
    monkeypatch.setattr(demo, "_demo_model_config", lambda: changed)
    assert demo.shipped_model() is None
