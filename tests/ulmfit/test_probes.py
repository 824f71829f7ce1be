"""Chapter 3: linear probes on frozen features."""

import pytest
import torch

from fourpapers import ulmfit as u


def test_linear_probe_separates_separable_data():
    g = torch.Generator().manual_seed(0)
    y = torch.arange(80) % 4
    x = (
        torch.randn(80, 6, generator=g) * 0.1
        + torch.nn.functional.one_hot(y, 6).float()
    )
    assert u.linear_probe(x[:40], y[:40], x[40:], y[40:]) == 0.0


@pytest.mark.parametrize(
    "call, arg",
    [
        (
            lambda: u.linear_probe(
                torch.zeros(4, 2),
                torch.zeros(4, dtype=torch.long),
                torch.zeros(4, 3),
                torch.zeros(4, dtype=torch.long),
            ),
            "train_x",
        ),
        (lambda: u.probe_features([torch.tensor([1, 2])], "tfidf", 0), "kind"),
        (lambda: u.probe_features([torch.tensor([1, 2])], "lm", 0), "lm"),
        (lambda: u.probe_features([], "bow", 0, vocab_size=5), "docs"),
        (
            lambda: u.linear_probe(
                torch.zeros(4, 2),
                torch.zeros(4, dtype=torch.long),
                torch.zeros(4, 2),
                torch.zeros(4, dtype=torch.long),
                l2s=(),
            ),
            "l2s",
        ),
    ],
)
def test_bad_arguments_name_the_argument(call, arg):
    with pytest.raises(ValueError, match=arg):
        call()
