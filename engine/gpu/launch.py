"""Launch geometry shared by the device kernels: one thread per output pixel, 16 x 16 blocks."""

from __future__ import annotations

BLOCK = (16, 16)


def grid_2d(height: int, width: int) -> tuple[tuple[int, int], tuple[int, int]]:
    """(blocks, threads) covering a (height, width) image; kernels read cuda.grid(2) as (x, y)."""
    return ((width + BLOCK[0] - 1) // BLOCK[0], (height + BLOCK[1] - 1) // BLOCK[1]), BLOCK
