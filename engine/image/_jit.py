"""The one Numba decorator of engine/image.

Kernels are compiled with cache=True, so a process loads them from disk instead of spending
~1 s per kernel on the first frame. Numba stores its cache next to the source file, or in the
user-wide cache (~/.cache/numba) when the package folder is read-only, or in NUMBA_CACHE_DIR
when that is set (the documented way to choose it, e.g. for a read-only install with no
writable home). When no location at all is writable, Numba refuses cache=True at decoration
time; the kernels then compile without a cache (slower first frame) instead of failing import.

fastmath is on, and the same on both paths, so a machine without a writable cache computes exactly
what one with a cache does. It lets LLVM reorder float sums and fuse multiply-adds: the kernels'
outputs (uint8 after rounding) may differ by one level between CPUs that vectorise differently
(AVX2 vs AVX-512), never between runs on one machine; pixels outside the mask are never computed.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from numba import njit

log = logging.getLogger(__name__)

# What every kernel and inlined helper is compiled with, cached or not.
JIT_OPTIONS = {"nogil": True, "fastmath": True}


def kernel(func: Callable) -> Callable:
    """njit(cache=True, nogil=True, fastmath=True) with a no-cache fallback (see module doc)."""
    try:
        return njit(cache=True, **JIT_OPTIONS)(func)
    except RuntimeError as e:  # numba: "cannot cache function ...: no locator available"
        log.warning("numba cache unavailable for %s (%s); set NUMBA_CACHE_DIR to a writable folder", func.__name__, e)
        return njit(cache=False, **JIT_OPTIONS)(func)


def inline(func: Callable) -> Callable:
    """A helper called from kernels: compiled into its callers, never called from Python."""
    return njit(inline="always", **JIT_OPTIONS)(func)
