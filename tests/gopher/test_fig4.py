"""fourpapers.gopher.fig4: Fig. 4 bars, binomial error bars, the best-of-k bias."""
import math

import pytest

from fourpapers import gopher


def test_fig4_changes_on_known_numbers():
    changes = gopher.fig4_changes({"fact_city": [0.5, 0.6, 0.9], "maths_2digit": [0.25, 0.2, 0.25]})
    assert changes["fact_city"] == pytest.approx(50.0) and changes["maths_2digit"] == pytest.approx(0.0)
    with pytest.raises(ValueError, match="accuracy"):
        gopher.fig4_changes({"fact_city": [0.5]})
    with pytest.raises(ValueError, match="accuracy"):
        gopher.fig4_changes({"fact_city": [0.0, 0.5]})


def test_binomial_se_and_best_of_bias():
    assert gopher.binomial_se(0.25, 200) == pytest.approx(math.sqrt(0.25 * 0.75 / 200))
    assert abs(gopher.best_of_bias(1, 0.25, 200)) < 1e-12           # one model: no selection, no bias
    b2, b4 = gopher.best_of_bias(2, 0.25, 200), gopher.best_of_bias(4, 0.25, 200)
    assert 0 < b2 < b4                                                 # more candidates, more bias
    # for large n the max of 4 normals sits 1.029 standard deviations above the mean
    assert b4 / gopher.binomial_se(0.25, 200) == pytest.approx(1.029, abs=0.05)
    for (k, p, n), name in (((0, 0.25, 200), "^k:"), ((2, 1.5, 200), "^p:"), ((2, 0.25, 0), "^n:")):
        with pytest.raises(ValueError, match=name):
            gopher.best_of_bias(k, p, n)


def test_fig4_bars_baselines_error_bars_and_chance():
    acc = {"fact_city": [0.6, 0.8, 0.7, 0.9], "maths_3digit": [0.10, 0.14, 0.12, 0.16]}
    best = gopher.fig4_bars(acc, n=200)
    nxt = gopher.fig4_bars(acc, n=200, baseline="next")
    assert best["fact_city"].change == pytest.approx(100 * (0.9 - 0.8) / 0.8)
    assert nxt["fact_city"].change == pytest.approx(100 * (0.9 - 0.7) / 0.7)
    assert best["fact_city"].change == pytest.approx(gopher.fig4_changes(acc)["fact_city"])
    se = 100 / 0.8 * math.sqrt(0.9 * 0.1 / 200 + (0.9 / 0.8) ** 2 * 0.8 * 0.2 / 200)
    assert best["fact_city"].se == pytest.approx(se)
    assert best["fact_city"].above_chance                 # 0.9 against chance 0.5
    assert not best["maths_3digit"].above_chance          # a +14 % bar below chance is not a gain
    assert best["maths_3digit"].change > 0
    for kwargs, name in ((dict(baseline="worst"), "baseline"), (dict(z=0), "z")):
        with pytest.raises(ValueError, match=name):
            gopher.fig4_bars(acc, n=200, **kwargs)
    with pytest.raises(ValueError, match="accuracy"):
        gopher.fig4_bars({"fact_city": [0.5]}, n=200)
