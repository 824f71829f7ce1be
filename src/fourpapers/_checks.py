"""Argument checks shared by the chapters: a ValueError naming the argument."""

from __future__ import annotations

import math

import numpy as np

__all__ = ["positive", "positive_int", "open_fraction", "probability"]


def positive(name: str, value) -> float:
    """``value`` as a float if it is a positive finite number (not a bool)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"{name}: expected a positive finite number, got {value!r}")
    if not value > 0 or not math.isfinite(value):
        raise ValueError(f"{name}: expected a positive finite number, got {value!r}")
    return float(value)


def positive_int(name: str, value, minimum: int = 1) -> int:
    """``value`` as an int if it is an integer (Python or NumPy, not a bool) >=
    ``minimum``."""
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, np.integer))
        or value < minimum
    ):
        what = "a positive integer" if minimum == 1 else f"an integer >= {minimum}"
        raise ValueError(f"{name}: expected {what}, got {value!r}")
    return int(value)


def open_fraction(name: str, value) -> float:
    """``value`` as a float if it is a number in (0, 1)."""
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or not 0.0 < value < 1.0
    ):
        raise ValueError(f"{name}: expected a number in (0, 1), got {value!r}")
    return float(value)


def probability(name: str, value, upper_open: bool = True) -> float:
    """``value`` as a float if it is a number in [0, 1) (``upper_open``) or [0, 1]."""
    ok = (
        isinstance(value, (int, float))
        and not isinstance(value, bool)
        and 0.0 <= value
        and (value < 1.0 if upper_open else value <= 1.0)
    )
    if not ok:
        bracket = ")" if upper_open else "]"
        raise ValueError(f"{name}: expected a number in [0, 1{bracket}, got {value!r}")
    return float(value)
