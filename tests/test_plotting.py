"""The house figure helpers: colours, figure sizes, and the running mean the loss
figures draw."""

import pytest

from fourpapers import plotting


def test_running_mean_ends_each_window_at_its_step():
    xs, ys = plotting.running_mean([1, 2, 3, 4, 5], 2)
    assert xs == [2, 3, 4, 5]
    assert ys == [1.5, 2.5, 3.5, 4.5]
    assert plotting.running_mean([4.0, 2.0], 1) == ([1, 2], [4.0, 2.0])
    assert plotting.running_mean([4.0, 2.0], 2) == ([2], [3.0])


@pytest.mark.parametrize("window", [0, 4, 1.5, True])
def test_running_mean_rejects_bad_windows(window):
    with pytest.raises(ValueError, match="window"):
        plotting.running_mean([1.0, 2.0, 3.0], window)


def test_color_and_figure_reject_bad_arguments():
    assert plotting.color("rmsnorm") == plotting.COLORS["rmsnorm"]
    with pytest.raises(ValueError, match="name"):
        plotting.color("no-such-variant")
    with pytest.raises(ValueError, match="ncols"):
        plotting.figure(ncols=0)
