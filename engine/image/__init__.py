"""Per-pixel image kernels of the engine: colour transfer (color.py, on LAB conversions from
lab.py), the blend masks and the paste (blend.py), detail transfer (detail.py), steady faces
(steady.py), and the Numba decorator they share (_jit.py).

The hot loops are Numba kernels compiled with cache=True and nogil=True, so the engine's stage
threads run them in parallel; each kernel keeps a NumPy/OpenCV reference `<name>_numpy` that
the tests compare it with. Call `warmup()` once before the first frame.
"""

from __future__ import annotations


def warmup() -> None:
    """Compile (or load from Numba's cache) every kernel of color.py and blend.py."""
    from swapstream.engine.image import blend, color

    color.warmup()
    blend.warmup()
