"""fourpapers.gopher.rmsnorm: RMSNorm's exact checks and the two benchmarks."""

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from fourpapers import gopher, models
from fourpapers.gopher import RMSNorm, rms_norm, rms_norm_zhang
from fourpapers.models import TransformerLM


def test_gopher_reexports_the_models_rmsnorm():
    assert gopher.RMSNorm is models.RMSNorm and gopher.rms_norm is models.rms_norm
    model = TransformerLM(
        10, d_model=16, n_heads=2, d_ff=32, n_layers=1, norm="rmsnorm"
    )
    assert isinstance(model.blocks[0].norm1, RMSNorm) and isinstance(
        model.final_norm, RMSNorm
    )


@pytest.mark.parametrize("eps", [1e-5, 1e-6, 0.0])
def test_rmsnorm_forward_equals_torch_exactly(eps):
    torch.manual_seed(0)
    x = torch.randn(4, 7, 32) * 3
    mine, ref = RMSNorm(32, eps=eps), nn.RMSNorm(32, eps=eps)
    with torch.no_grad():
        mine.weight.uniform_(0.5, 1.5)
        ref.weight.copy_(mine.weight)
    assert torch.equal(mine(x), ref(x))
    assert torch.equal(
        rms_norm(x, mine.weight, eps), F.rms_norm(x, (32,), mine.weight, eps)
    )
    assert torch.equal(rms_norm(x, None, eps), F.rms_norm(x, (32,), None, eps))


def test_rmsnorm_gradients_match_torch_autograd():
    torch.manual_seed(1)
    x = torch.randn(6, 5, 24)
    grad = torch.randn(6, 5, 24)
    mine, ref = RMSNorm(24), nn.RMSNorm(24, eps=1e-5)
    with torch.no_grad():
        mine.weight.uniform_(0.5, 1.5)
        ref.weight.copy_(mine.weight)
    xa, xb = x.clone().requires_grad_(), x.clone().requires_grad_()
    mine(xa).backward(grad)
    ref(xb).backward(grad)
    assert torch.allclose(xa.grad, xb.grad, atol=1e-6, rtol=1e-5)
    assert torch.allclose(mine.weight.grad, ref.weight.grad, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("with_weight", [True, False])
@pytest.mark.parametrize("eps", [1e-3, 0.0])
def test_rmsnorm_hand_derived_backward_passes_gradcheck(with_weight, eps):
    torch.manual_seed(2)
    x = torch.randn(3, 4, 6, dtype=torch.float64, requires_grad=True)
    w = (
        (torch.rand(6, dtype=torch.float64) + 0.5).requires_grad_()
        if with_weight
        else None
    )
    inputs = (x, w) if with_weight else (x,)
    assert torch.autograd.gradcheck(
        lambda *a: rms_norm(a[0], a[1] if with_weight else None, eps), inputs
    )


def test_rmsnorm_only_input_or_only_weight_needs_grad():
    x = torch.randn(5, 8)
    w = nn.Parameter(torch.rand(8) + 0.5)
    rms_norm(x, w).sum().backward()  # x needs no grad
    assert w.grad is not None and w.grad.shape == (8,)
    xr = x.clone().requires_grad_()
    rms_norm(xr, w.detach()).sum().backward()
    assert xr.grad is not None and torch.isfinite(xr.grad).all()


def test_rmsnorm_is_rescaling_invariant_but_not_recentering_invariant():
    torch.manual_seed(3)
    x = torch.randn(8, 16)
    w = torch.rand(16) + 0.5
    for c in (0.01, 3.0, 250.0):
        assert torch.allclose(rms_norm(x * c, w, 0.0), rms_norm(x, w, 0.0), atol=1e-6)
    assert not torch.allclose(rms_norm(x + 1.0, w), rms_norm(x, w), atol=1e-2)


def test_rmsnorm_on_zero_mean_input_equals_bias_free_layernorm():
    torch.manual_seed(4)
    x = torch.randn(8, 32)
    x = x - x.mean(-1, keepdim=True)
    w = torch.rand(32) + 0.5
    assert torch.allclose(
        rms_norm(x, w, 1e-5), F.layer_norm(x, (32,), w, None, 1e-5), atol=1e-6
    )


def test_paper_eps_convention_agrees_at_eps_zero_and_differs_otherwise():
    torch.manual_seed(5)
    x = torch.randn(8, 16) * 0.01
    w = torch.rand(16) + 0.5
    assert torch.allclose(
        rms_norm_zhang(x, w, eps=0.0), rms_norm(x, w, eps=0.0), atol=1e-6
    )
    assert not torch.allclose(
        rms_norm_zhang(x, w, eps=1e-2), rms_norm(x, w, eps=1e-2), atol=1e-4
    )


@pytest.mark.parametrize(
    "call, arg",
    [
        (lambda: rms_norm(torch.randn(2, 4), torch.ones(5)), "weight"),
        (lambda: rms_norm(torch.randn(2, 4), None, -1.0), "eps"),
        (lambda: rms_norm(torch.ones(2, 4, dtype=torch.long)), "x"),
        (lambda: rms_norm([1.0, 2.0]), "x"),
        (lambda: RMSNorm(0), "d"),
        (lambda: RMSNorm(4, eps=-1e-3), "eps"),
        (lambda: rms_norm_zhang(torch.randn(2, 4), torch.ones(3)), "weight"),
        (lambda: rms_norm_zhang(torch.randn(2, 4), eps=-1.0), "eps"),
        (lambda: gopher.norm_benchmark(ds=()), "ds"),
        (lambda: gopher.norm_benchmark(rows=0), "rows"),
        (lambda: gopher.norm_benchmark(repeats=0), "repeats"),
        (lambda: gopher.step_benchmark(d_model=0), "d_model"),
        (lambda: gopher.step_benchmark(repeats=0), "repeats"),
    ],
)
def test_norm_bad_arguments_name_the_argument(call, arg):
    with pytest.raises(ValueError, match=arg):
        call()


def test_norm_benchmark_times_all_three_side_by_side():
    out = gopher.norm_benchmark(ds=(8, 16), rows=32, repeats=2)
    assert [(t.d, t.mode) for t in out] == [
        (8, "forward"),
        (8, "forward+backward"),
        (16, "forward"),
        (16, "forward+backward"),
    ]
    assert all(t.layernorm > 0 and t.torch_rmsnorm > 0 and t.ours > 0 for t in out)
    assert all(t.ours_ratio == t.ours / t.layernorm and t.torch_ratio > 0 for t in out)


def test_step_benchmark_and_swapping_in_torch_rmsnorm():
    s = gopher.step_benchmark(
        d_model=16, n_layers=1, vocab_size=20, batch_size=2, seq_len=8, repeats=1
    )
    assert s.layernorm > 0 and s.ours > 0 and s.torch_rmsnorm > 0 and s.ours_ratio > 0
    torch.manual_seed(0)
    model = gopher.make_model(20, 16, 2, seq_len=8)
    tokens = torch.randint(0, 20, (2, 8))
    before = model(tokens)
    gopher.use_torch_rmsnorm(model)
    assert not any(isinstance(m, RMSNorm) for m in model.modules())
    assert sum(isinstance(m, nn.RMSNorm) for m in model.modules()) == 5
    assert torch.equal(model(tokens), before)


def test_use_torch_rmsnorm_rejects_a_non_module():
    with pytest.raises(ValueError, match="model"):
        gopher.use_torch_rmsnorm("model")
