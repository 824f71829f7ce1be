"""Gopher Fig. 4 in miniature: the % change per task of the largest model, noise."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

from .probes import CHANCE

__all__ = [
    "fig4_changes", "binomial_se", "best_of_bias", "Fig4Bar", "fig4_bars",
]


def fig4_changes(accuracy: dict[str, Sequence[float]]) -> dict[str, float]:
    """Gopher's Fig. 4 in miniature: per task, the % change of the largest model's accuracy over the best accuracy of
    the smaller ones, 100 * (acc_largest - best_smaller) / best_smaller."""
    out = {}
    for task, accs in accuracy.items():
        if len(accs) < 2:
            raise ValueError(f"accuracy: task {task!r} needs at least two sizes, got {len(accs)}")
        best = max(accs[:-1])
        if best <= 0:
            raise ValueError(f"accuracy: task {task!r} has no positive accuracy among the smaller sizes")
        out[task] = 100.0 * (accs[-1] - best) / best
    return out


def binomial_se(p: float, n: int) -> float:
    """Standard error of an accuracy measured on ``n`` independent probes: sqrt(p (1 - p) / n)."""
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"p: expected an accuracy in [0, 1], got {p!r}")
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"n: expected a positive number of probes, got {n!r}")
    return math.sqrt(p * (1.0 - p) / n)


def best_of_bias(k: int, p: float, n: int) -> float:
    """Upward bias of "the best of k models" as a baseline: E[max of k accuracies] - p, exactly, when the k accuracies
    are independent Binomial(n, p) / n draws with the same true accuracy p (E[max] = sum_j P(max >= j) / n). Models
    scored on the same probes make correlated errors, so for them this is an upper estimate."""
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise ValueError(f"k: expected a positive number of models, got {k!r}")
    binomial_se(p, n)  # validates p and n
    pmf = [math.comb(n, j) * p ** j * (1.0 - p) ** (n - j) for j in range(n + 1)]
    cdf, acc = [], 0.0
    for q in pmf:
        acc += q
        cdf.append(min(acc, 1.0))
    # E[max] = sum_{j=1..n} P(max >= j) = sum_{j=1..n} (1 - F(j - 1)^k)
    expected_max = sum(1.0 - cdf[j - 1] ** k for j in range(1, n + 1))
    return expected_max / n - p


@dataclass
class Fig4Bar:
    """One bar of Fig. 4 in miniature: the % change of the largest model over a baseline, with its standard error."""

    task: str
    largest: float        # accuracy of the largest model
    baseline: float       # accuracy of the baseline (best smaller model, or the next-largest)
    change: float         # 100 (largest - baseline) / baseline
    se: float             # its standard error in the same units (binomial, delta method)
    above_chance: bool    # largest model more than z binomial standard errors above chance


def fig4_bars(accuracy: dict[str, Sequence[float]], n: int, baseline: str = "best", z: float = 2.0
              ) -> dict[str, Fig4Bar]:
    """Gopher's Fig. 4 in miniature with its noise. ``baseline="best"``: the best accuracy among the smaller sizes
    (Gopher's rule: 280B against the best model up to 7.1B); ``"next"``: the next-largest size. The standard error of
    100 (a - b) / b, with a and b binomial over ``n`` probes, by the delta method:
    100 / b * sqrt(se_a^2 + (a / b)^2 se_b^2). A task counts as above chance only if the largest model's accuracy
    exceeds chance by more than ``z`` standard errors of an accuracy at chance, sqrt(c (1 - c) / n)."""
    if baseline not in ("best", "next"):
        raise ValueError(f"baseline: expected 'best' or 'next', got {baseline!r}")
    if not z > 0:
        raise ValueError(f"z: expected a positive number of standard errors, got {z!r}")
    out = {}
    for task, accs in accuracy.items():
        if len(accs) < 2:
            raise ValueError(f"accuracy: task {task!r} needs at least two sizes, got {len(accs)}")
        if task not in CHANCE:
            raise ValueError(f"accuracy: unknown task {task!r}, expected one of {sorted(CHANCE)}")
        a = float(accs[-1])
        b = float(max(accs[:-1]) if baseline == "best" else accs[-2])
        if b <= 0:
            raise ValueError(f"accuracy: task {task!r} has a baseline accuracy of {b}, expected > 0")
        se = 100.0 / b * math.sqrt(binomial_se(a, n) ** 2 + (a / b) ** 2 * binomial_se(b, n) ** 2)
        c = CHANCE[task]
        out[task] = Fig4Bar(task, a, b, 100.0 * (a - b) / b, se, a - c > z * binomial_se(c, n))
    return out

