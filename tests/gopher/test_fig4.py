"""fourpapers.gopher.fig4: Fig. 4 bars, binomial error bars, the best-of-k bias."""

import math

import matplotlib
import pytest

from fourpapers import gopher, plotting

matplotlib.use("Agg")


def test_fig4_changes_on_known_numbers():
    changes = gopher.fig4_changes(
        {"fact_city": [0.5, 0.6, 0.9], "maths_2digit": [0.25, 0.2, 0.25]}
    )
    assert changes["fact_city"] == pytest.approx(50.0) and changes[
        "maths_2digit"
    ] == pytest.approx(0.0)
    with pytest.raises(ValueError, match="accuracy"):
        gopher.fig4_changes({"fact_city": [0.5]})
    with pytest.raises(ValueError, match="accuracy"):
        gopher.fig4_changes({"fact_city": [0.0, 0.5]})


def test_binomial_se_and_best_of_bias():
    assert gopher.binomial_se(0.25, 200) == pytest.approx(math.sqrt(0.25 * 0.75 / 200))
    assert (
        abs(gopher.best_of_bias(1, 0.25, 200)) < 1e-12
    )  # one model: no selection, no bias
    b2, b4 = gopher.best_of_bias(2, 0.25, 200), gopher.best_of_bias(4, 0.25, 200)
    assert 0 < b2 < b4  # more candidates, more bias
    # for large n the max of 4 normals sits 1.029 standard deviations above the mean
    assert b4 / gopher.binomial_se(0.25, 200) == pytest.approx(1.029, abs=0.05)
    for (k, p, n), name in (
        ((0, 0.25, 200), "^k:"),
        ((2, 1.5, 200), "^p:"),
        ((2, 0.25, 0), "^n:"),
    ):
        with pytest.raises(ValueError, match=name):
            gopher.best_of_bias(k, p, n)


def test_fig4_bars_baselines_error_bars_and_chance():
    acc = {"fact_city": [0.6, 0.8, 0.7, 0.9], "maths_3digit": [0.10, 0.14, 0.12, 0.16]}
    best = gopher.fig4_bars(acc, n=200)
    nxt = gopher.fig4_bars(acc, n=200, baseline="next")
    assert best["fact_city"].change == pytest.approx(100 * (0.9 - 0.8) / 0.8)
    assert nxt["fact_city"].change == pytest.approx(100 * (0.9 - 0.7) / 0.7)
    assert best["fact_city"].change == pytest.approx(
        gopher.fig4_changes(acc)["fact_city"]
    )
    se = 100 / 0.8 * math.sqrt(0.9 * 0.1 / 200 + (0.9 / 0.8) ** 2 * 0.8 * 0.2 / 200)
    assert best["fact_city"].se == pytest.approx(se)
    assert best["fact_city"].above_chance  # 0.9 against chance 0.5
    assert not best[
        "maths_3digit"
    ].above_chance  # a +14 % bar below chance is not a gain
    assert best["maths_3digit"].change > 0
    for kwargs, name in ((dict(baseline="worst"), "baseline"), (dict(z=0), "z")):
        with pytest.raises(ValueError, match=name):
            gopher.fig4_bars(acc, n=200, **kwargs)
    with pytest.raises(ValueError, match="accuracy"):
        gopher.fig4_bars({"fact_city": [0.5]}, n=200)


def test_plot_fig4_draws_one_bar_per_task_hatched_below_chance_and_the_diamonds():
    import matplotlib.pyplot as plt

    acc = {"fact_city": [0.6, 0.8, 0.7, 0.9], "maths_3digit": [0.10, 0.14, 0.12, 0.16]}
    bars, nxt = (
        gopher.fig4_bars(acc, n=200),
        gopher.fig4_bars(acc, n=200, baseline="next"),
    )
    fig, ax = plt.subplots()
    assert gopher.plot_fig4(bars, nxt, ax) is ax
    rects = ax.patches
    assert [r.get_height() for r in rects] == pytest.approx(
        [b.change for b in bars.values()]
    )
    assert (
        rects[0].get_hatch() is None and rects[1].get_hatch() == "//"
    )  # maths: below chance
    assert rects[1].get_facecolor()[:3] == (1.0, 1.0, 1.0)
    assert (
        matplotlib.colors.to_hex(rects[0].get_facecolor())
        == plotting.color("knowledge").lower()
    )
    diamonds = [line for line in ax.lines if line.get_marker() == "D"]
    assert len(diamonds) == 1
    assert list(diamonds[0].get_ydata()) == pytest.approx(
        [b.change for b in nxt.values()]
    )
    assert [t.get_text() for t in ax.get_xticklabels()] == list(acc)
    assert sorted(t.get_text() for t in ax.get_legend().get_texts()) == [
        "knowledge",
        "maths",
        "vs next-largest",
    ]
    fig2, ax2 = plt.subplots()
    gopher.plot_fig4(bars, None, ax2)
    assert not [line for line in ax2.lines if line.get_marker() == "D"]
    for args, name in (
        (({}, None, ax2), "bars"),
        ((bars, {"fact_city": None}, ax2), "next_bars"),
        ((bars, None, "axes"), "ax"),
    ):
        with pytest.raises(ValueError, match=name):
            gopher.plot_fig4(*args)
    plt.close(fig)
    plt.close(fig2)
