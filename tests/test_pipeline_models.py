"""The colour-inverting test model (tests/model_fixtures.py) loads through the engine and inverts."""

from __future__ import annotations

import numpy as np
from model_fixtures import write_invert_model


def test_invert_model_loads_and_inverts(tmp_path):
    from swapstream.engine.runtime.providers import RuntimeConfig
    from swapstream.engine.runtime.swap_model import load_swap_model

    model = load_swap_model(write_invert_model(tmp_path / "m.onnx", 32), RuntimeConfig(providers=("cpu",)))
    faces = np.random.default_rng(0).integers(0, 256, (3, 32, 32, 3), dtype=np.uint8)
    out, masks = model.swap(faces)
    assert np.array_equal(out, 255 - faces)
    assert masks.shape == (3, 32, 32) and np.all(masks == 1.0)
    assert model.contract.face_type == "whole" and model.provider == "cpu"
