"""The chapter's figures: Fig. 3's gradient profiles, Lemma 2, Fig. 2's curves."""

from __future__ import annotations

import math

from .. import plotting
from .._checks import positive_int
from ..models import NORM_POSITIONS
from ._common import _NAMES
from .at_init import InitStats, _lemma2, mean_profile, post_pre_ratio
from .warmup import WarmupRun

# axis label: the gradient norm of Xiong et al. Theorem 1
_GRAD = r"$\|\partial\mathcal{L}/\partial W^2\|_F$"


# Figures
# --------------------------------------------------------------------------------------


def _integer_ticks(ax, depth: int) -> None:
    """Layer ticks at whole numbers only (at most 9 of them, always including 1 and
    ``depth``)."""
    step = max(1, math.ceil((depth - 1) / 8))
    ax.set_xticks(sorted(set(range(1, depth + 1, step)) | {depth}))


def _check_axes(axes, n: int) -> None:
    if len(axes) != n:
        raise ValueError(f"axes: expected {n} matplotlib Axes, got {len(axes)}")


def plot_profile(sweep: dict[tuple[str, int], list[InitStats]], ax, depth: int) -> None:
    """Xiong et al. Fig. 3 (per layer) on one Axes: the mean over draws of
    ||dL/dW^{2,l}||_F for l = 1..L, one line per placement measured at ``depth`` by
    :func:`init_sweep`."""
    if not isinstance(sweep, dict) or not sweep:
        raise ValueError(
            f"sweep: expected the result of init_sweep, got {type(sweep).__name__}"
        )
    positions = [p for p in NORM_POSITIONS if (p, depth) in sweep]
    if not positions:
        raise ValueError(
            f"depth: expected one of {sorted({k[1] for k in sweep})}, got {depth!r}"
        )
    for p in positions:
        ax.plot(
            range(1, depth + 1),
            mean_profile(sweep, p, depth),
            "o-",
            ms=3.5,
            color=plotting.color(p),
            label=_NAMES[p],
        )
    ax.set(
        xlabel="layer l (1 = next to the input)",
        ylabel=f"{_GRAD} (mean over draws)",
        title=f"FFN gradient per layer at init, L = {depth}",
    )
    _integer_ticks(ax, depth)
    ax.set_ylim(bottom=0)
    ax.legend()


def plot_depth_sweep(
    sweep: dict[tuple[str, int], list[InitStats]],
    axes,
    profile_depth: int | None = None,
) -> None:
    """Xiong et al. Fig. 3 in miniature on two Axes, from :func:`init_sweep`: the last
    layer's ||dL/dW^2||_F against depth L (left) and the per-layer profile at
    ``profile_depth`` (right; default the deepest)."""
    _check_axes(axes, 2)
    if not isinstance(sweep, dict) or not sweep:
        raise ValueError(
            f"sweep: expected the result of init_sweep, got {type(sweep).__name__}"
        )
    depths = sorted({k[1] for k in sweep})
    L = max(depths) if profile_depth is None else profile_depth
    if L not in depths:
        raise ValueError(
            f"profile_depth: expected one of {depths}, got {profile_depth!r}"
        )
    left, right = axes
    for p in [p for p in NORM_POSITIONS if any(k[0] == p for k in sweep)]:
        ds = [d for d in depths if (p, d) in sweep]
        left.plot(
            ds,
            [mean_profile(sweep, p, d)[-1] for d in ds],
            "o-",
            color=plotting.color(p),
            label=_NAMES[p],
        )
    left.set_xscale("log", base=2)
    left.set_xticks(depths, [str(d) for d in depths])
    left.set(
        xlabel="depth L (layers)",
        ylabel=f"last layer {_GRAD} (mean)",
        title="Last layer, against depth",
    )
    left.set_ylim(bottom=0)
    left.legend()
    plot_profile(sweep, right, L)


def plot_ratio_growth(
    sweeps: dict[str, dict[tuple[str, int], list[InitStats]]],
    ax,
    input_var: float = 1.0,
) -> None:
    """The growth of the Post/Pre ratio of the last layer's ||dL/dW^{2,L}||_F from the
    shallowest depth, ratio(L) / ratio(L_min), for each labelled :func:`init_sweep`
    result of ``sweeps`` ({label: sweep}), beside Xiong et al.'s Lemma 2 value sqrt((v +
    L/2) / (v + L_min/2)) (:func:`lemma2_growth`, v = ``input_var``) as a dashed
    line."""
    if (
        not isinstance(sweeps, dict)
        or not sweeps
        or not all(isinstance(v, dict) and v for v in sweeps.values())
    ):
        raise ValueError(
            f"sweeps: expected {{label: init_sweep result}}, got "
            f"{type(sweeps).__name__}"
        )
    styles = ["o-", "s--", "^:"]
    depths: list[int] = []
    for i, (label, sweep) in enumerate(sweeps.items()):
        depths = sorted(
            {k[1] for k in sweep if ("post", k[1]) in sweep and ("pre", k[1]) in sweep}
        )
        if len(depths) < 2:
            raise ValueError(
                f"sweeps: {label!r} needs Post-LN and Pre-LN at two depths or more"
            )
        r0 = post_pre_ratio(sweep, depths[0])
        ax.plot(
            depths,
            [post_pre_ratio(sweep, L) / r0 for L in depths],
            styles[i % 3],
            color="#333333" if i == 0 else "#999999",
            label=label,
        )
    fine = [depths[0] + (depths[-1] - depths[0]) * i / 60 for i in range(61)]
    base = depths[0]
    ax.plot(
        fine,
        [_lemma2(L, base, input_var) for L in fine],
        color=plotting.color("pre"),
        ls="--",
        lw=2.2,
        label=f"Lemma 2: $\\sqrt{{({input_var:g} + L/2)/({input_var:g} + {base}/2)}}$",
    )
    ax.set_xscale("log", base=2)
    ax.set_xticks(depths, [str(d) for d in depths])
    ax.set(
        xlabel="depth L (layers)",
        ylabel=f"Post/Pre ratio at L / at L = {base}",
        title="Growth of the Post/Pre ratio with depth",
    )
    ax.set_ylim(bottom=0)
    ax.legend()


def plot_warmup(runs: dict[tuple[str, int], WarmupRun], ax, smooth: int = 10) -> None:
    """Xiong et al. Fig. 2 in miniature: training loss against step for each run (a
    running mean over ``smooth`` steps), with the unigram entropy as a dashed line."""
    if not runs:
        raise ValueError("runs: expected at least one WarmupRun")
    positive_int("smooth", smooth)
    for (p, w), run in runs.items():
        xs, ys = plotting.running_mean(run.losses, smooth)
        ax.plot(
            xs,
            ys,
            color=plotting.color(p),
            ls="-" if w == 0 else "--",
            label=f"{_NAMES[p]}, {'no warmup' if w == 0 else f'warmup {w}'}",
        )
    H = next(iter(runs.values())).unigram_entropy
    ax.axhline(
        H,
        color=plotting.color("reference"),
        ls=":",
        label=f"unigram entropy H = {H:.2f}",
    )
    ax.set(
        xlabel="training step",
        ylabel=f"training loss (nats, mean of {smooth} steps)",
        title="Training loss",
    )
    ax.legend()


def plot_init_analysis(
    sweep: dict[tuple[str, int], list[InitStats]], axes, depth: int
) -> None:
    """ResiDual's claims at initialization on two Axes, for one ``depth`` of an
    :func:`init_sweep` result (first draw): cos(h_{l-1}, h_l) per layer (left; near 1 =
    collapse) and ||dL/dW^{2,l}||_F per layer on a log scale (right; the slope shows
    vanishing)."""
    if not isinstance(sweep, dict) or not any(k[1] == depth for k in sweep):
        have = (
            sorted({k[1] for k in sweep})
            if isinstance(sweep, dict)
            else type(sweep).__name__
        )
        raise ValueError(f"depth: expected one of {have}, got {depth!r}")
    _check_axes(axes, 2)
    left, right = axes
    for p in [p for p in NORM_POSITIONS if (p, depth) in sweep]:
        s = sweep[(p, depth)][0]
        style = dict(
            color=plotting.color(p),
            label=_NAMES[p],
            ls=":" if p == "resi" else "-",
            lw=2.6 if p == "resi" else 1.6,
        )
        left.plot(range(1, depth + 1), s.cosines, **style)
        right.plot(range(1, depth + 1), s.grad_norms, **style)
    left.set(
        xlabel="layer l",
        ylabel=r"$\cos(h_{l-1}, h_l)$",
        title=f"Consecutive hidden states, L = {depth}",
        ylim=(0, 1.02),
    )
    right.set(
        xlabel="layer l (1 = next to the input)",
        ylabel=_GRAD,
        yscale="log",
        title=f"FFN gradient per layer, L = {depth}",
    )
    for ax in axes:
        _integer_ticks(ax, depth)
        ax.legend()
