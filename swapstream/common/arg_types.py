"""argparse `type=` functions for every numeric flag of every command: each states its range, and
a value outside it (or nan, inf, a typo) is refused at the edge as one line naming the flag
(exit 2). A leaf module, so engine's shared runtime flags use it too.

    parser.add_argument("--crf", type=int_in(0, 51), ...)
    parser.add_argument("--minutes", type=float_in(0, None, low_open=True), ...)
"""

from __future__ import annotations

import argparse
import math
import os

# Thread counts beyond this are refused: 100000 threads hang the machine instead of helping it.
MAX_THREADS = max(8, 4 * (os.cpu_count() or 1))
MAX_SEED = 2**32 - 1
# The quality governor's target frame rate (studio --target-fps and its live control).
MAX_TARGET_FPS = 240.0


def _range_text(low: float | None, high: float | None, low_open: bool = False) -> str:
    if high is None:
        return f"{'>' if low_open else '>='} {low:g}"
    if low_open:
        return f"> {low:g} and <= {high:g}"
    return f"{low:g}..{high:g}"


def int_in(low: int, high: int | None = None):
    """An integer in low..high (high None: no upper bound)."""

    def parse(text: str) -> int:
        try:
            value = int(text, 10)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer {_range_text(low, high)}, got {text!r}") from None
        if value < low or (high is not None and value > high):
            raise argparse.ArgumentTypeError(f"must be {_range_text(low, high)}, got {value}")
        return value

    parse.__name__ = f"integer {_range_text(low, high)}"
    return parse


def float_in(low: float, high: float | None = None, low_open: bool = False):
    """A finite number in [low, high] ((low, high] with low_open; high None: no upper bound)."""

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"expected a number {_range_text(low, high, low_open)}, got {text!r}"
            ) from None
        too_low = value <= low if low_open else value < low
        if not math.isfinite(value) or too_low or (high is not None and value > high):
            raise argparse.ArgumentTypeError(f"must be a finite number {_range_text(low, high, low_open)}, got {text}")
        return value

    parse.__name__ = f"number {_range_text(low, high, low_open)}"
    return parse


def positive_float(high: float | None = None):
    return float_in(0.0, high, low_open=True)


def threads(allow_zero: bool):
    """A thread count: 1..MAX_THREADS, or 0 (= the library's default) when allow_zero."""
    return int_in(0 if allow_zero else 1, MAX_THREADS)


def seed(text: str) -> int:
    return int_in(0, MAX_SEED)(text)
