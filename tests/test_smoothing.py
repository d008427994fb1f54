import numpy as np
from swapstream.engine.face.smoothing import LandmarkSmoother, OneEuroFilter


def test_one_euro_reduces_jitter_of_a_still_point_and_follows_motion():
    rng = np.random.default_rng(1)
    t = np.arange(300) / 30.0
    noisy = rng.normal(0, 1.0, 300)
    f = OneEuroFilter(min_cutoff=1.0, beta=0.0)
    out = np.array([f(np.array([v]), ti)[0] for v, ti in zip(noisy, t)])
    assert out[30:].std() < 0.5 * noisy[30:].std()
    # a fast ramp is followed with small lag when beta > 0
    ramp = 100.0 * t
    f = OneEuroFilter(min_cutoff=1.0, beta=1.0)
    out = np.array([f(np.array([v]), ti)[0] for v, ti in zip(ramp, t)])
    assert abs(out[-1] - ramp[-1]) < 5.0


def test_landmark_smoother_keeps_shape_and_dtype():
    rng = np.random.default_rng(2)
    base = rng.uniform(100, 300, (478, 3)).astype(np.float32)
    s = LandmarkSmoother()
    first = s(base, 0.0)
    assert first.dtype == np.float32 and first.shape == (478, 3)
    np.testing.assert_allclose(first, base, atol=1e-3)
    moved = s(base + 0.5, 1 / 30)
    assert np.all(np.abs(moved - base) < 0.5)
