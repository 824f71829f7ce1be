"""Chapter 2, src/fourpapers/fast_weights/delta_rule.py: capacity and the delta rule,
exactly."""

import pytest
import torch
import torch.nn.functional as F

from fourpapers import fast_weights as fw
from fourpapers.fast_weights.delta_rule import _delta_updates

from ._tensors import qkv as _qkv


def _orthonormal(d, n, seed=0):
    g = torch.Generator().manual_seed(seed)
    Q, _ = torch.linalg.qr(torch.randn(d, d, generator=g, dtype=torch.float64))
    return Q[:, :n].T  # n orthonormal rows


@pytest.mark.parametrize("rule", ["sum", "delta"])
@pytest.mark.parametrize("n_pairs", [1, 5, 8])
def test_orthonormal_keys_are_retrieved_exactly_up_to_d_pairs(rule, n_pairs):
    d = 8
    keys = _orthonormal(d, n_pairs)  # [S, d]
    values = torch.randn(n_pairs, 3, dtype=torch.float64)
    # batch s writes all pairs, and queries key s at every step: the last output reads
    # the full memory
    k = keys.expand(n_pairs, 1, n_pairs, d)
    v = values.expand(n_pairs, 1, n_pairs, 3)
    q = keys[:, None, None, :].expand(n_pairs, 1, n_pairs, d)
    if rule == "sum":
        y = fw.fast_weight_recurrence(q, k, v, "identity", normalize=False)
    else:
        y = fw.delta_rule(
            q, k, v, torch.ones(n_pairs, 1, n_pairs), "identity", normalize=False
        )
    assert (y[:, 0, -1] - values).abs().max() < 1e-12


def test_more_pairs_than_dimensions_cannot_all_be_retrieved():
    # d + 1 keys in R^d: no W maps every key to its value exactly (generic values):
    # least-squares residual > 0
    d = 4
    g = torch.Generator().manual_seed(0)
    K, V = (
        torch.randn(d + 1, d, generator=g, dtype=torch.float64),
        torch.randn(d + 1, 3, generator=g, dtype=torch.float64),
    )
    W = torch.linalg.lstsq(K, V).solution
    assert (K @ W - V).abs().max() > 1e-3
    W = torch.linalg.lstsq(K[:d], V[:d]).solution
    assert (K[:d] @ W - V[:d]).abs().max() < 1e-10


def test_delta_rule_overwrites_and_sum_rule_piles_up():
    k = F.normalize(torch.randn(1, 1, 1, 6, dtype=torch.float64), dim=-1).expand(
        1, 1, 2, 6
    )  # the same unit key twice
    v = torch.randn(1, 1, 2, 3, dtype=torch.float64)
    y_delta = fw.delta_rule(k, k, v, torch.ones(1, 1, 2), "identity", normalize=False)
    y_sum = fw.fast_weight_recurrence(k, k, v, "identity", normalize=False)
    assert torch.allclose(y_delta[0, 0, -1], v[0, 0, 1], atol=1e-12)  # v2
    assert torch.allclose(
        y_sum[0, 0, -1], v[0, 0, 0] + v[0, 0, 1], atol=1e-12
    )  # v1 + v2
    b1, b2 = 0.3, 0.8
    y = fw.delta_rule(
        k,
        k,
        v,
        torch.tensor([[[b1, b2]]], dtype=torch.float64),
        "identity",
        normalize=False,
    )
    v1, v2 = v[0, 0, 0], v[0, 0, 1]
    assert torch.allclose(y[0, 0, -1], b1 * v1 + b2 * (v2 - b1 * v1), atol=1e-12)


def test_delta_update_is_one_sgd_step_on_the_squared_error():
    T, d, dv = 6, 5, 4
    q, k, v = _qkv(T=T, d=d, dv=dv, B=1, H=1, dtype=torch.float64, seed=3)
    beta = torch.rand(1, 1, T, dtype=torch.float64)
    y = fw.delta_rule(q, k, v, beta, "elu", normalize=True)

    def phi(x):  # sum-normalised elu + 1
        return (F.elu(x) + 1) / (F.elu(x) + 1).sum(-1, keepdim=True)

    W = torch.zeros(dv, d, dtype=torch.float64)
    for t in range(T):
        Wt = W.clone().requires_grad_()
        loss = (
            0.5 * (Wt @ phi(k[0, 0, t]) - v[0, 0, t]).pow(2).sum()
        )  # 1/2 ||W phi(k) - v||^2
        (grad,) = torch.autograd.grad(loss, Wt)
        W = W - beta[0, 0, t] * grad  # one SGD step of size beta
        assert torch.allclose(y[0, 0, t], W @ phi(q[0, 0, t]), atol=1e-12)


def test_parallel_delta_writes_equal_the_recurrence():
    g = torch.Generator().manual_seed(1)
    k = torch.randn(3, 24, 8, generator=g, dtype=torch.float64)
    v = torch.randn(3, 24, 5, generator=g, dtype=torch.float64)
    beta = torch.rand(3, 24, generator=g, dtype=torch.float64)
    fk = fw.dpfp(k) / fw.dpfp(k).sum(-1, keepdim=True)
    W = (
        _delta_updates(fk, v, beta).transpose(-1, -2) @ fk
    )  # W_L = sum_t u_t (x) phi(k_t)
    y = fw.delta_rule(
        k[:, None], k[:, None], v[:, None], beta[:, None], "dpfp"
    )  # y_t = W_t phi(k_t)
    assert (y[:, 0, -1] - (W @ fk[:, -1].unsqueeze(-1)).squeeze(-1)).abs().max() < 1e-12


@pytest.mark.parametrize("feature_map", ["elu", "dpfp"])
@pytest.mark.parametrize("dtype, tol", [(torch.float32, 1e-5), (torch.float64, 1e-10)])
def test_chunked_delta_rule_equals_the_recurrence(feature_map, dtype, tol):
    q, k, v = _qkv(T=77, dtype=dtype)  # 77 is not a multiple of the chunk size
    beta = torch.rand(2, 3, 77, generator=torch.Generator().manual_seed(4), dtype=dtype)
    ref = fw.delta_rule(q, k, v, beta, feature_map)
    for chunk in (1, 16, 64, 77, 200):
        y = fw.chunked_delta_rule(q, k, v, beta, feature_map, chunk_size=chunk)
        assert y.shape == ref.shape and (y - ref).abs().max() < tol
    unnormalised = fw.delta_rule(q, k, v, beta, "identity", normalize=False)
    y = fw.chunked_delta_rule(q, k, v, beta, "identity", chunk_size=16, normalize=False)
    assert (y - unnormalised).abs().max() < tol * unnormalised.abs().max()


def test_chunked_delta_rule_gradients_equal_the_recurrence():
    q, k, v = (t.requires_grad_() for t in _qkv(T=40, dtype=torch.float64))
    beta = torch.rand(2, 3, 40, dtype=torch.float64).requires_grad_()
    g = torch.randn(2, 3, 40, 5, dtype=torch.float64)
    forms = (fw.delta_rule, lambda *a: fw.chunked_delta_rule(*a, chunk_size=16))
    grads = [
        torch.autograd.grad((f(q, k, v, beta) * g).sum(), (q, k, v, beta))
        for f in forms
    ]
    assert all((a - b).abs().max() < 1e-10 for a, b in zip(*grads))


def test_closed_form_retrieval():
    # one key: both rules are exact when it is written once; written twice, only the
    # delta rule overwrites
    assert fw.closed_form_retrieval(1, 8, "sum", replace=False) < 1e-20
    assert fw.closed_form_retrieval(1, 8, "delta", replace=True) < 1e-20
    assert fw.closed_form_retrieval(1, 8, "sum", replace=True) > 0.5
    # cross-talk grows with the number of pairs per dimension: about (S - 1) / d for
    # random unit keys
    err = fw.closed_form_retrieval(9, 64, "sum", replace=False, n_trials=256)
    assert err == pytest.approx(8 / 64, rel=0.2)
    assert fw.closed_form_retrieval(8, 16, "delta") < fw.closed_form_retrieval(
        8, 16, "sum"
    )
    assert fw.closed_form_retrieval(8, 16, seed=3) == fw.closed_form_retrieval(
        8, 16, seed=3
    )


@pytest.mark.parametrize(
    "call, arg",
    [
        (lambda q, k, v: fw.delta_rule(q, k, v, torch.ones(2, 3)), "beta"),
        (lambda q, k, v: fw.delta_rule(q, k, v, "one"), "beta"),
        (lambda q, k, v: fw.chunked_delta_rule(q, k, v, torch.ones(2, 3)), "beta"),
        (
            lambda q, k, v: fw.chunked_delta_rule(
                q, k, v, torch.ones(2, 3, 10), chunk_size=0
            ),
            "chunk_size",
        ),
    ],
)
def test_bad_arguments_raise_value_error_naming_the_argument(call, arg):
    q, k, v = _qkv(T=10)
    with pytest.raises(ValueError, match=rf"^{arg}:"):
        call(q, k, v)


@pytest.mark.parametrize(
    "call, arg",
    [
        (lambda: fw.closed_form_retrieval(0, 4), "n_pairs"),
        (lambda: fw.closed_form_retrieval(4, 0), "d"),
        (lambda: fw.closed_form_retrieval(4, 4, rule="oja"), "rule"),
        (lambda: fw.closed_form_retrieval(4, 4, n_trials=0), "n_trials"),
    ],
)
def test_closed_form_bad_arguments(call, arg):
    with pytest.raises(ValueError, match=rf"^{arg}"):
        call()
