"""Chapter 2, src/fourpapers/fast_weights/feature_maps.py: DPFP, FAVOR+, names and
sizes."""

import math

import pytest
import torch
import torch.nn.functional as F

from fourpapers import fast_weights as fw

from ._tensors import qkv as _qkv


@pytest.mark.parametrize("nu", [1, 2, 3])
def test_dpfp_is_non_negative_with_size_2_d_nu(nu):
    x = torch.randn(4, 7, 8)
    phi = fw.dpfp(x, nu)
    assert phi.shape == (4, 7, 2 * 8 * nu) and (phi >= 0).all()
    assert fw.feature_size(f"dpfp{nu}", 8) == 2 * 8 * nu


def test_dpfp_with_d2_nu1_has_one_feature_per_quadrant():
    x = torch.tensor([[1.0, 2.0], [-1.0, 2.0], [-1.0, -2.0], [1.0, -2.0]])
    phi = fw.dpfp(x, 1)
    assert ((phi > 0).sum(-1) == 1).all()
    assert torch.equal(
        phi @ phi.T > 0, torch.eye(4, dtype=torch.bool)
    )  # quadrants are orthogonal
    r = torch.cat([F.relu(x), F.relu(-x)], -1)
    assert torch.equal(phi, r * r.roll(1, -1))


def test_favor_is_positive_reproducible_and_approximates_the_softmax_kernel():
    g = torch.Generator().manual_seed(0)
    q, k = (
        0.3 * torch.randn(16, 8, generator=g, dtype=torch.float64) for _ in range(2)
    )
    exact = (q * k).sum(-1).exp()  # the softmax kernel exp(q^T k)

    def rel_err(m, seed=0):
        return (
            ((fw.favor(q, m, seed) * fw.favor(k, m, seed)).sum(-1) - exact).abs()
            / exact
        ).mean()

    assert (
        (fw.favor(q) > 0).all()
        and fw.favor(q).shape == (16, 8)
        and fw.favor(q, 24).shape == (16, 24)
    )
    assert torch.equal(fw.favor(q, m=16), fw.favor(q, m=16))
    assert not torch.equal(fw.favor(q, m=16), fw.favor(q, m=16, seed=1))
    assert rel_err(4096) < 0.05 < rel_err(16)
    # unbiased: the average over independent draws of omega converges to exp(q^T k)
    mean = torch.stack(
        [(fw.favor(q, 64, s) * fw.favor(k, 64, s)).sum(-1) for s in range(200)]
    ).mean(0)
    assert ((mean - exact).abs() / exact).max() < 0.1


def test_favor_pm_is_the_papers_2m_features_and_unbiased_for_the_softmax_kernel():
    g = torch.Generator().manual_seed(0)
    q, k = (0.3 * torch.randn(16, 8, generator=g, dtype=torch.float64) for _ in "qk")
    omega = fw.orthogonal_gaussian(8, 8, torch.Generator().manual_seed(1))
    phi = fw.favor_pm(q, omega)
    half = q.pow(2).sum(-1, keepdim=True) / 2
    u = q @ omega.T
    ref = torch.cat([torch.exp(u - half), torch.exp(-u - half)], -1) / math.sqrt(16)
    assert phi.shape == (16, 16) and (phi > 0).all()
    assert torch.allclose(phi, ref, atol=1e-14)
    # the same generator state draws the same omega; the next draw is a new one
    a, b = torch.Generator().manual_seed(5), torch.Generator().manual_seed(5)
    assert torch.equal(fw.orthogonal_gaussian(8, 8, a), fw.orthogonal_gaussian(8, 8, b))
    other = fw.orthogonal_gaussian(8, 8, torch.Generator())
    assert not torch.equal(fw.orthogonal_gaussian(8, 8, a), other)
    # rows orthogonal within each block of d rows
    om = fw.orthogonal_gaussian(4, 8, a)
    for block in (om[:4], om[4:]):
        unit = block / block.norm(dim=1, keepdim=True)
        assert torch.allclose(unit @ unit.T, torch.eye(4, dtype=unit.dtype), atol=1e-12)
    # unbiased: averaged over fresh draws, phi(q)^T phi(k) -> exp(q^T k)
    exact = (q * k).sum(-1).exp()
    draws = [fw.orthogonal_gaussian(8, 8, a) for _ in range(200)]
    kernel = [(fw.favor_pm(q, o) * fw.favor_pm(k, o)).sum(-1) for o in draws]
    mean = torch.stack(kernel).mean(0)
    assert ((mean - exact).abs() / exact).max() < 0.1


def test_feature_maps_by_name():
    x = torch.randn(3, 4)
    assert torch.equal(fw.get_feature_map("elu")(x), F.elu(x) + 1)
    assert torch.equal(fw.get_feature_map("identity")(x), x)
    assert torch.equal(fw.get_feature_map("dpfp")(x), fw.dpfp(x, 1))
    assert torch.equal(fw.get_feature_map("dpfp2")(x), fw.dpfp(x, 2))
    assert torch.equal(fw.get_feature_map("favor")(x), fw.favor(x))
    assert fw.get_feature_map(torch.tanh) is torch.tanh
    assert [
        fw.feature_size(n, 8) for n in ("elu", "identity", "dpfp", "favor", "favor32")
    ] == [8, 8, 16, 8, 32]


@pytest.mark.parametrize(
    "call, arg",
    [
        (lambda q, k, v: fw.dpfp(q, 0), "nu"),
        (lambda q, k, v: fw.dpfp(q, 16), "nu"),
        (lambda q, k, v: fw.favor(q, m=0), "m"),
        (lambda q, k, v: fw.favor(q, seed=-1), "seed"),
        (lambda q, k, v: fw.feature_size("elu", 0), "d"),
        (lambda q, k, v: fw.feature_size(torch.tanh, 4), "feature_map"),
        (lambda q, k, v: fw.favor_pm(q, torch.zeros(4, 3)), "omega"),
        (lambda q, k, v: fw.orthogonal_gaussian(8, 0, torch.Generator()), "m"),
        (lambda q, k, v: fw.orthogonal_gaussian(0, 8, torch.Generator()), "d"),
    ],
)
def test_bad_arguments_raise_value_error_naming_the_argument(call, arg):
    q, k, v = _qkv(T=10)
    with pytest.raises(ValueError, match=rf"^{arg}:"):
        call(q, k, v)
