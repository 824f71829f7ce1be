"""Gopher Fig. 4 in miniature: the % change per task of the largest model, noise."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

from .. import plotting
from .probes import CHANCE, TASK_CATEGORY

__all__ = [
    "fig4_changes",
    "binomial_se",
    "best_of_bias",
    "Fig4Bar",
    "fig4_bars",
    "plot_fig4",
]


def fig4_changes(accuracy: dict[str, Sequence[float]]) -> dict[str, float]:
    """Gopher's Fig. 4 in miniature: per task, the % change of the largest model's
    accuracy over the best accuracy of the smaller ones, 100 * (acc_largest -
    best_smaller) / best_smaller."""
    out = {}
    for task, accs in accuracy.items():
        if len(accs) < 2:
            raise ValueError(
                f"accuracy: task {task!r} needs at least two sizes, got {len(accs)}"
            )
        best = max(accs[:-1])
        if best <= 0:
            raise ValueError(
                f"accuracy: task {task!r} has no positive accuracy among the smaller "
                f"sizes"
            )
        out[task] = 100.0 * (accs[-1] - best) / best
    return out


def binomial_se(p: float, n: int) -> float:
    """Standard error of an accuracy measured on ``n`` independent probes: sqrt(p (1 -
    p) / n)."""
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"p: expected an accuracy in [0, 1], got {p!r}")
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"n: expected a positive number of probes, got {n!r}")
    return math.sqrt(p * (1.0 - p) / n)


def best_of_bias(k: int, p: float, n: int) -> float:
    """Upward bias of "the best of k models" as a baseline: E[max of k accuracies] - p,
    exactly, when the k accuracies are independent Binomial(n, p) / n draws with the
    same true accuracy p (E[max] = sum_j P(max >= j) / n). Models scored on the same
    probes make correlated errors, so for them this is an upper estimate."""
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise ValueError(f"k: expected a positive number of models, got {k!r}")
    binomial_se(p, n)  # validates p and n
    pmf = [math.comb(n, j) * p**j * (1.0 - p) ** (n - j) for j in range(n + 1)]
    cdf, acc = [], 0.0
    for q in pmf:
        acc += q
        cdf.append(min(acc, 1.0))
    # E[max] = sum_{j=1..n} P(max >= j) = sum_{j=1..n} (1 - F(j - 1)^k)
    expected_max = sum(1.0 - cdf[j - 1] ** k for j in range(1, n + 1))
    return expected_max / n - p


@dataclass
class Fig4Bar:
    """One bar of Fig. 4 in miniature: the % change of the largest model over a
    baseline, with its standard error."""

    task: str
    largest: float  # accuracy of the largest model
    baseline: (
        float  # accuracy of the baseline (best smaller model, or the next-largest)
    )
    change: float  # 100 (largest - baseline) / baseline
    se: float  # its standard error in the same units (binomial, delta method)
    above_chance: (
        bool  # largest model more than z binomial standard errors above chance
    )


def fig4_bars(
    accuracy: dict[str, Sequence[float]], n: int, baseline: str = "best", z: float = 2.0
) -> dict[str, Fig4Bar]:
    """Gopher's Fig. 4 in miniature with its noise. ``baseline="best"``: the best
    accuracy among the smaller sizes (Gopher's rule: 280B against the best model up to
    7.1B); ``"next"``: the next-largest size. The standard error of 100 (a - b) / b,
    with a and b binomial over ``n`` probes, by the delta method: 100 / b * sqrt(se_a^2
    + (a / b)^2 se_b^2). A task counts as above chance only if the largest model's
    accuracy exceeds chance by more than ``z`` standard errors of an accuracy at chance,
    sqrt(c (1 - c) / n)."""
    if baseline not in ("best", "next"):
        raise ValueError(f"baseline: expected 'best' or 'next', got {baseline!r}")
    if not z > 0:
        raise ValueError(f"z: expected a positive number of standard errors, got {z!r}")
    out = {}
    for task, accs in accuracy.items():
        if len(accs) < 2:
            raise ValueError(
                f"accuracy: task {task!r} needs at least two sizes, got {len(accs)}"
            )
        if task not in CHANCE:
            raise ValueError(
                f"accuracy: unknown task {task!r}, expected one of {sorted(CHANCE)}"
            )
        a = float(accs[-1])
        b = float(max(accs[:-1]) if baseline == "best" else accs[-2])
        if b <= 0:
            raise ValueError(
                f"accuracy: task {task!r} has a baseline accuracy of {b}, expected > 0"
            )
        se = (
            100.0
            / b
            * math.sqrt(binomial_se(a, n) ** 2 + (a / b) ** 2 * binomial_se(b, n) ** 2)
        )
        c = CHANCE[task]
        out[task] = Fig4Bar(
            task, a, b, 100.0 * (a - b) / b, se, a - c > z * binomial_se(c, n)
        )
    return out


def plot_fig4(bars: dict[str, Fig4Bar], next_bars: dict[str, Fig4Bar] | None, ax):
    """Draw Gopher's Fig. 4 in miniature on ``ax``: one bar per task, the % change of
    the largest model over the baseline of ``bars`` (:func:`fig4_bars`), coloured by
    ability, with whiskers of +-2 standard errors. A task whose largest model is not
    above chance gets a hatched white bar (noise around nothing learned, never read as a
    gain). With ``next_bars`` (the next-largest model as baseline, same tasks), black
    diamonds mark its changes. Returns ``ax``."""
    if (
        not isinstance(bars, dict)
        or not bars
        or not all(isinstance(b, Fig4Bar) for b in bars.values())
    ):
        raise ValueError(f"bars: expected a non-empty dict of Fig4Bar, got {bars!r}")
    if next_bars is not None and (
        not isinstance(next_bars, dict) or list(next_bars) != list(bars)
    ):
        raise ValueError(
            "next_bars: expected None or Fig4Bar per task of bars, in order"
        )
    if not hasattr(ax, "bar"):
        raise ValueError(f"ax: expected a matplotlib Axes, got {type(ax).__name__}")
    x = range(len(bars))
    for j, b in enumerate(bars.values()):
        category = TASK_CATEGORY[b.task]
        c = plotting.color(category)
        ax.bar(
            j,
            b.change,
            yerr=2 * b.se,
            capsize=3,
            edgecolor=c,
            label=category,
            color=c if b.above_chance else "white",
            hatch=None if b.above_chance else "//",
        )
    if next_bars is not None:
        ax.plot(
            x,
            [b.change for b in next_bars.values()],
            "kD",
            ms=4,
            label="vs next-largest",
        )
    ax.axhline(0, color="black", lw=0.8)
    ax.set_xticks(x, list(bars), rotation=40, ha="right")
    ax.set(
        ylabel="% change of accuracy, ±2 s.e.",
        title="Largest model vs the best smaller one",
    )
    handles = dict(zip(*reversed(ax.get_legend_handles_labels())))  # one per label
    ax.legend(handles.values(), handles.keys(), fontsize=8, ncols=2, loc="lower left")
    return ax
