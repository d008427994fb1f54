"""engine/image/_jit: the no-cache fallback compiles with exactly the options of the cached path."""

from __future__ import annotations

import numpy as np
from swapstream.engine.image import _jit


def test_fallback_without_a_cache_keeps_the_same_math(monkeypatch):
    calls = []

    def fake_njit(**options):
        calls.append(options)
        if options.get("cache"):
            raise RuntimeError("cannot cache function: no locator available")
        return lambda func: func

    monkeypatch.setattr(_jit, "njit", fake_njit)
    _jit.kernel(lambda x: x)
    assert [c.pop("cache") for c in calls] == [True, False]
    assert calls[0] == calls[1] == _jit.JIT_OPTIONS


def test_a_real_kernel_compiles_and_runs():
    @_jit.kernel
    def total(a):
        s = 0.0
        for v in a:
            s += v
        return s

    assert total(np.arange(10, dtype=np.float32)) == 45.0
