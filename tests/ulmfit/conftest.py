"""Fixtures shared by chapter 3's tests: a tiny AWD-LSTM and world B."""

import pytest
import torch

from fourpapers import ulmfit as u


@pytest.fixture
def tiny_lm():
    """A factory: ``tiny_lm(**kw)`` is a seeded 2-layer AWD-LSTM over 50 words (``kw``
    overrides)."""

    def make(**kw):
        torch.manual_seed(0)
        return u.AWDLSTM(
            50, emb_size=8, hidden_size=12, n_layers=kw.pop("n_layers", 2), **kw
        )

    return make


@pytest.fixture(scope="module")
def world_b():
    return u.topic_world_task(seed=0)
