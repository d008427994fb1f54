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


def test_a_mouth_that_snaps_shut_is_not_held_behind_by_a_still_face():
    """The lips (a tenth of the mesh) close by 20 px in one frame while the rest of the face holds
    still: the smoothed lips follow within two frames, and a still face's jitter is still damped."""
    from swapstream.engine.face.mask import INNER_LIPS, OUTER_LIPS

    rng = np.random.default_rng(3)
    base = rng.uniform(100, 300, (478, 3))
    s = LandmarkSmoother()
    jitter_in, jitter_out = [], []
    for k in range(60):
        noisy = base + rng.normal(0, 0.5, base.shape)
        out = s(noisy, k / 30)
        if k >= 30:
            jitter_in.append(noisy - base)
            jitter_out.append(out - base)
    assert np.std(jitter_out) < 0.6 * np.std(jitter_in)
    lips = list(OUTER_LIPS) + list(INNER_LIPS)
    shut = base.copy()
    shut[lips, 1] += 20.0
    follow = [s(shut + rng.normal(0, 0.5, base.shape), (60 + k) / 30) for k in range(2)]
    assert np.abs(follow[1][lips, 1] - shut[lips, 1]).mean() < 3.0
