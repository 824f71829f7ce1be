"""The house figure style: readable sizes, and one colour per variant used across the
whole book."""

from __future__ import annotations

import matplotlib

__all__ = ["COLORS", "color", "use_style", "figure", "running_mean"]

# One colour per variant, everywhere in the book (Okabe-Ito palette: distinguishable
# with colour blindness).
COLORS = {
    # chapter 1: where LayerNorm goes
    "post": "#D55E00",
    "pre": "#0072B2",
    "resi": "#009E73",
    # chapter 2: attention and feature maps
    "softmax": "#000000",
    "linear": "#D55E00",
    "dpfp1": "#E69F00",
    "dpfp2": "#56B4E9",
    "dpfp3": "#0072B2",
    "favor": "#CC79A7",
    "favor_redrawn": "#CC79A7",
    "sum": "#D55E00",
    "delta": "#009E73",
    # chapter 3: transfer
    "scratch": "#999999",
    "supervised": "#0072B2",
    "semi": "#009E73",
    "bow": "#E69F00",
    "random": "#CC79A7",
    # chapter 4: norms and abilities
    "layernorm": "#0072B2",
    "rmsnorm": "#D55E00",
    "knowledge": "#009E73",
    "reading": "#0072B2",
    "maths": "#D55E00",
    "logic": "#CC79A7",
    "lm": "#000000",
    # shared reference lines
    "train": "#0072B2",
    "valid": "#D55E00",
    "reference": "#777777",
}

_STYLE = {
    "figure.figsize": (6.4, 3.6),
    "figure.dpi": 150,  # sharp on high-resolution screens (the book shows PNGs)
    "savefig.dpi": 150,
    "font.size": 11,
    "axes.titlesize": 12,
    "axes.labelsize": 11,
    "legend.fontsize": 9.5,
    "legend.frameon": False,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.alpha": 0.25,
    "lines.linewidth": 1.8,
    "figure.constrained_layout.use": True,
}


def color(name: str) -> str:
    """The book's colour for a variant (``"post"``, ``"pre"``, ``"rmsnorm"``, ...)."""
    try:
        return COLORS[name]
    except KeyError:
        raise ValueError(
            f"name: expected one of {sorted(COLORS)}, got {name!r}"
        ) from None


def use_style() -> None:
    """Apply the house style to matplotlib's rcParams (call once per notebook;
    :func:`fourpapers.setup` does)."""
    matplotlib.rcParams.update(_STYLE)


def figure(
    ncols: int = 1,
    nrows: int = 1,
    width: float | None = None,
    height: float | None = None,
):
    """``plt.subplots`` in the house style, sized for the book's column: 6.4 in wide per
    row by default."""
    import matplotlib.pyplot as plt

    if ncols < 1 or nrows < 1:
        raise ValueError(
            f"ncols, nrows: expected positive integers, got {ncols}, {nrows}"
        )
    w = width if width is not None else min(12.8, 4.2 * ncols if ncols > 1 else 6.4)
    h = height if height is not None else 3.6 * nrows
    return plt.subplots(nrows, ncols, figsize=(w, h), squeeze=False)


def running_mean(values, window: int) -> tuple[list[int], list[float]]:
    """The running mean of a training curve over ``window`` steps, as the book's loss
    figures draw it: returns ``(xs, ys)`` with ys[i] the mean of values[xs[i] - window :
    xs[i]] and xs = window, ..., len(values)."""
    values = [float(v) for v in values]
    if (
        isinstance(window, bool)
        or not isinstance(window, int)
        or not 1 <= window <= len(values)
    ):
        raise ValueError(
            f"window: expected an integer in [1, {len(values)}] (the number of "
            f"values), got {window!r}"
        )
    xs = list(range(window, len(values) + 1))
    return xs, [sum(values[i - window : i]) / window for i in xs]
