"""fourpapers.gopher.batchnorm: batch statistics leak; per-token norms do not."""

import pytest
import torch

from fourpapers import gopher


@pytest.mark.parametrize("seed", [0, 1])
def test_batchnorm_leaks_across_the_batch_and_the_future_and_per_token_norms_do_not(
    seed,
):
    for norm in ("layernorm", "rmsnorm"):
        r = gopher.norm_leak(norm, seed=seed)
        assert (r.other_sequences, r.later_positions, r.train_vs_eval) == (
            0.0,
            0.0,
            0.0,
        ), r
    r = gopher.norm_leak("batchnorm", seed=seed)
    assert (
        r.other_sequences > 1e-2 and r.later_positions > 1e-2 and r.train_vs_eval > 1e-2
    ), r


def test_batchnorm_helpers_reject_bad_arguments():
    for kwargs, name in (
        (dict(norm="groupnorm"), "norm"),
        (dict(norm="layernorm", batch_size=1), "batch_size"),
        (dict(norm="layernorm", t=15), "t"),
        (dict(norm="layernorm", seq_len=1), "seq_len"),
    ):
        with pytest.raises(ValueError, match=name):
            gopher.norm_leak(**kwargs)
    with pytest.raises(ValueError, match="x"):
        gopher.TokenBatchNorm(4)(torch.zeros(2, 4))
    model = gopher.causal_lm_with_norm("batchnorm")
    assert any(isinstance(m, gopher.TokenBatchNorm) for m in model.modules())
    assert not any(isinstance(m, torch.nn.LayerNorm) for m in model.modules())
