"""Sec. 3's recipe: STLR (Eq. 3), discriminative rates (Eq. 2), gradual unfreezing."""

from __future__ import annotations

import math
from typing import Callable, Sequence

import numpy as np
import torch
import torch.nn as nn

from .._checks import open_fraction as _open_fraction
from .._checks import positive as _positive
from .._checks import positive_int as _positive_int


def _update(t, T) -> tuple[int, int]:
    """Validate a schedule's update index ``t`` in [0, T] (T >= 1); returns (t, T)."""
    T = _positive_int("T", T)
    if isinstance(t, bool) or not isinstance(t, (int, np.integer)) or not 0 <= t <= T:
        raise ValueError(f"t: expected an integer in [0, T={T}], got {t!r}")
    return int(t), T


# --------------------------------------------------------------------------------------
# Schedules: STLR (Eq. 3), fastai's one-cycle shape, discriminative rates (Eq. 2)
# --------------------------------------------------------------------------------------


def stlr(
    t: int,
    T: int,
    lr_max: float = 0.01,
    cut_frac: float = 0.1,
    ratio: float = 32.0,
    paper_form: bool = False,
) -> float:
    """Slanted triangular learning rate, Howard & Ruder 2018, Eq. 3, at update ``t`` of
    ``T``.

    cut = floor(T * cut_frac); p = t / cut while t < cut, else 1 - (t - cut) / (cut *
    (1/cut_frac - 1)); eta_t = lr_max * (1 + p (ratio - 1)) / ratio. It rises linearly
    from lr_max/ratio to lr_max over the first ``cut`` updates, then falls linearly back
    to lr_max/ratio at t = T.

    The paper's decay denominator cut * (1/cut_frac - 1) equals T - cut only when T *
    cut_frac is an integer; otherwise p turns negative before t = T and eta can go below
    zero (T = 237: eta_T = -1.51e-5). By default we divide by T - cut instead (identical
    when T * cut_frac is an integer) and floor p at 0, so eta never drops below lr_max /
    ratio. ``paper_form=True`` returns the formula exactly as printed, negative values
    included.
    """
    t, T = _update(t, T)
    lr_max = _positive("lr_max", lr_max)
    cut_frac = _open_fraction("cut_frac", cut_frac)
    if not isinstance(ratio, (int, float)) or not ratio >= 1.0:
        raise ValueError(f"ratio: expected a number >= 1, got {ratio!r}")
    cut = max(
        1, math.floor(T * cut_frac)
    )  # cut = floor(T cut_frac), at least one update
    if t < cut:
        p = t / cut  # p = t / cut
    elif paper_form:
        p = 1 - (t - cut) / (
            cut * (1 / cut_frac - 1)
        )  # p = 1 - (t - cut) / (cut (1/cut_frac - 1))
    else:
        p = max(
            0.0, 1 - (t - cut) / max(1, T - cut)
        )  # same line, ending exactly at t = T
    return (
        lr_max * (1 + p * (ratio - 1)) / ratio
    )  # eta_t = eta_max (1 + p (ratio - 1)) / ratio


def stlr_schedule(
    T: int, cut_frac: float = 0.1, ratio: float = 32.0
) -> Callable[[int], float]:
    """STLR (Eq. 3) as a learning-rate *multiplier* ``m(t) = stlr(t, T, 1, ...)`` for
    ``training.train``.

    Each parameter group's own rate (e.g. a discriminative rate) is scaled by ``m(t)``;
    steps past ``T`` keep the final value lr/ratio.
    """
    stlr(0, T, 1.0, cut_frac, ratio)  # validate eagerly
    return lambda t: stlr(min(int(t), T), T, 1.0, cut_frac, ratio)


def stlr_scheduler(
    optimizer: torch.optim.Optimizer, T: int, cut_frac: float = 0.1, ratio: float = 32.0
) -> torch.optim.lr_scheduler.LambdaLR:
    """STLR (Eq. 3) as a ``torch.optim.lr_scheduler``: every group's lr follows
    ``group_lr * stlr(t, T, 1)``.

    With T * cut_frac an integer it reproduces ``OneCycleLR(max_lr, total_steps=T + 1,
    pct_start=(cut + 1)/(T + 1), anneal_strategy="linear", div_factor=ratio,
    final_div_factor=1, cycle_momentum=False)``.
    """
    if not isinstance(optimizer, torch.optim.Optimizer):
        raise ValueError(
            f"optimizer: expected a torch.optim.Optimizer, got "
            f"{type(optimizer).__name__}"
        )
    return torch.optim.lr_scheduler.LambdaLR(
        optimizer, stlr_schedule(T, cut_frac, ratio)
    )


def one_cycle(
    t: int,
    T: int,
    lr_max: float = 0.01,
    pct_start: float = 0.25,
    div: float = 25.0,
    div_final: float = 1e5,
) -> float:
    """fastai's ``fit_one_cycle`` learning-rate shape at update ``t`` of ``T`` (not the
    paper's STLR).

    Cosine from lr_max/div up to lr_max over the first ``pct_start`` of training, then
    cosine down to lr_max/div_final: lr(pos) = a + (1 + cos(pi (1 - pos'))) (b - a) / 2
    on each phase, pos = t / T.
    """
    t, T = _update(t, T)
    lr_max = _positive("lr_max", lr_max)
    pct_start = _open_fraction("pct_start", pct_start)
    div, div_final = _positive("div", div), _positive("div_final", div_final)
    pos = t / T

    def cos_anneal(a: float, b: float, x: float) -> float:
        return a + (1 + math.cos(math.pi * (1 - x))) * (b - a) / 2

    if pos < pct_start:
        return cos_anneal(lr_max / div, lr_max, pos / pct_start)
    return cos_anneal(lr_max, lr_max / div_final, (pos - pct_start) / (1 - pct_start))


def discriminative_lrs(lr: float, n_groups: int, factor: float = 2.6) -> list[float]:
    """Discriminative fine-tuning, Eq. 2 and Sec. 3.2: eta^{l-1} = eta^l / factor, the
    last (top) group gets ``lr``.

    Returns ``[lr / factor**(n-1), ..., lr / factor, lr]``, the rates of fastai's
    ``slice(lr / factor**(n-1), lr)``.
    """
    lr = _positive("lr", lr)
    n_groups = _positive_int("n_groups", n_groups)
    factor = _positive("factor", factor)
    return [lr / factor ** (n_groups - 1 - i) for i in range(n_groups)]


def freeze_to(groups: Sequence[Sequence[nn.Parameter]], n_trainable: int) -> None:
    """Gradual unfreezing (Sec. 3.3): only the top ``n_trainable`` groups get gradients,
    the rest are frozen."""
    n_trainable = _positive_int("n_trainable", n_trainable)
    if n_trainable > len(groups):
        raise ValueError(
            f"n_trainable: expected at most {len(groups)} (the number of groups), got "
            f"{n_trainable}"
        )
    for i, g in enumerate(groups):
        for p in g:
            p.requires_grad_(i >= len(groups) - n_trainable)


def plot_schedule(
    ax,
    T: int = 1000,
    lr_max: float = 0.01,
    cut_frac: float = 0.1,
    ratio: float = 32.0,
    n_groups: int = 5,
    factor: float = 2.6,
) -> list[list[float]]:
    """Draw STLR (Eq. 3) for each of ``n_groups`` layer groups with discriminative rates
    (Eq. 2) on ``ax`` (log y).

    Group l runs stlr(t, T, lr_l, ...) with lr_l = lr_max / factor^(n_groups - 1 - l);
    returns the curves.
    """
    from .. import plotting

    lrs = discriminative_lrs(lr_max, n_groups, factor)
    ts = list(range(T + 1))
    curves = [[stlr(t, T, lr, cut_frac, ratio) for t in ts] for lr in lrs]
    shades = plotting.color("supervised")
    for i, (lr, curve) in enumerate(zip(lrs, curves)):
        top = i == n_groups - 1
        label = f"group {i + 1}{' (top)' if top else ''}: peak {lr:.2g}"
        ax.plot(
            ts, curve, color=shades, alpha=0.35 + 0.65 * (i + 1) / n_groups, label=label
        )
    ax.set_yscale("log")
    ax.set(
        xlabel="update t",
        ylabel="learning rate (log scale)",
        title=(
            f"STLR per layer group (T={T}, cut_frac={cut_frac:g}, ratio={ratio:g}, "
            f"factor {factor:g})"
        ),
    )
    ax.legend(ncol=1 if n_groups <= 5 else 2)  # default size: legible at phone width
    return curves
