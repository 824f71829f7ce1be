"""Chapter 1: the figures draw what they measure and reject bad arguments."""

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402

from fourpapers import ln_placement as ln  # noqa: E402


def test_plots_draw_and_reject_bad_arguments():
    sweep = ln.init_sweep(
        seed=0,
        depths=(1, 2),
        positions=("post", "pre", "resi"),
        n_draws=1,
        batch_size=2,
        seq_len=8,
        progress=False,
    )
    fig, axes = plt.subplots(1, 2)
    ln.plot_depth_sweep(sweep, axes)
    assert len(axes[0].lines) == 3 and len(axes[1].lines[0].get_xdata()) == 2
    ln.plot_init_analysis(sweep, axes, depth=2)
    runs = ln.warmup_experiment(
        seed=0,
        configs=(("post", 0), ("post", 2)),
        n_layers=1,
        steps=12,
        batch_size=2,
        seq_len=8,
        progress=False,
    )
    ln.plot_warmup(runs, axes[0], smooth=5)
    assert len(axes[0].lines[-2].get_xdata()) == 8  # steps 5..12 of the running mean
    with pytest.raises(ValueError, match="axes"):
        ln.plot_depth_sweep(sweep, axes[:1])
    with pytest.raises(ValueError, match="profile_depth"):
        ln.plot_depth_sweep(sweep, axes, profile_depth=3)
    with pytest.raises(ValueError, match="sweep"):
        ln.plot_depth_sweep({}, axes)
    with pytest.raises(ValueError, match="depth"):
        ln.plot_init_analysis(sweep, axes, depth=16)
    with pytest.raises(ValueError, match="runs"):
        ln.plot_warmup({}, axes[0])
    with pytest.raises(ValueError, match="smooth"):
        ln.plot_warmup(runs, axes[0], smooth=0)
    plt.close(fig)


def test_plot_ratio_growth_draws_each_sweep_and_lemma_2():
    sweep = ln.init_sweep(
        seed=0, depths=(1, 2), n_draws=1, batch_size=2, seq_len=8, progress=False
    )
    fig, ax = plt.subplots()
    ln.plot_ratio_growth({"a": sweep, "b": sweep}, ax)
    assert len(ax.lines) == 3 and list(ax.lines[0].get_ydata()) == pytest.approx(
        [1.0, ln.post_pre_ratio(sweep, 2) / ln.post_pre_ratio(sweep, 1)]
    )
    assert ax.lines[2].get_ydata()[-1] == pytest.approx(ln.lemma2_growth(2))
    with pytest.raises(ValueError, match="sweeps"):
        ln.plot_ratio_growth({}, ax)
    with pytest.raises(ValueError, match="sweeps"):
        ln.plot_ratio_growth(
            {
                "one depth": ln.init_sweep(
                    seed=0,
                    depths=(1,),
                    n_draws=1,
                    batch_size=2,
                    seq_len=8,
                    progress=False,
                )
            },
            ax,
        )
    plt.close(fig)
