"""Chapter 2, src/fourpapers/fast_weights/forms.py: the three forms are one
computation."""

import pytest
import torch
import torch.nn.functional as F

from fourpapers import fast_weights as fw

from ._tensors import qkv as _qkv

FORMS = (
    fw.fast_weight_recurrence,
    fw.linear_attention,
    lambda q, k, v, feature_map="elu", **kw: fw.chunked_linear_attention(
        q, k, v, feature_map, chunk_size=16, **kw
    ),
)


@pytest.mark.parametrize("feature_map", ["elu", "dpfp", "dpfp3", "favor", "favor32"])
@pytest.mark.parametrize("dtype, tol", [(torch.float32, 1e-5), (torch.float64, 1e-10)])
def test_recurrent_parallel_and_chunked_forms_agree(feature_map, dtype, tol):
    q, k, v = _qkv(T=77, dtype=dtype)  # 77 is not a multiple of the chunk size 16
    ref = fw.fast_weight_recurrence(q, k, v, feature_map)
    assert ref.shape == v.shape
    assert (fw.linear_attention(q, k, v, feature_map) - ref).abs().max() < tol
    for chunk in (1, 16, 64, 77, 200):
        assert (
            fw.chunked_linear_attention(q, k, v, feature_map, chunk_size=chunk) - ref
        ).abs().max() < tol


@pytest.mark.parametrize("dtype, tol", [(torch.float32, 1e-5), (torch.float64, 1e-10)])
def test_forms_agree_without_the_normaliser(dtype, tol):
    q, k, v = _qkv(T=40, dtype=dtype)
    outs = [f(q, k, v, "elu", normalize=False) for f in FORMS]
    scale = outs[0].abs().max()
    assert all((o - outs[0]).abs().max() < tol * scale for o in outs[1:])


def test_chunked_gradients_equal_the_parallel_form():
    q, k, v = (t.requires_grad_() for t in _qkv(T=50, dtype=torch.float64))
    g = torch.randn(2, 3, 50, 5, dtype=torch.float64)
    grads = []
    for f in (fw.linear_attention, fw.chunked_linear_attention):
        grads.append(torch.autograd.grad((f(q, k, v) * g).sum(), (q, k, v)))
    assert all((a - b).abs().max() < 1e-10 for a, b in zip(*grads))


def test_elu_linear_attention_matches_an_explicit_loop_of_weighted_averages():
    q, k, v = _qkv(T=9, B=1, H=1, dtype=torch.float64)
    fq, fk = F.elu(q) + 1, F.elu(k) + 1
    y = fw.linear_attention(q, k, v)
    for t in range(9):
        w = fk[0, 0, : t + 1] @ fq[0, 0, t]  # phi(k_s)^T phi(q_t), s <= t
        assert torch.allclose(
            y[0, 0, t], (w[:, None] * v[0, 0, : t + 1]).sum(0) / (w.sum() + fw.EPS)
        )


@pytest.mark.parametrize("fn", ["recurrent", "parallel", "chunked", "delta"])
def test_causality(fn):
    q, k, v = _qkv(T=30)
    beta = torch.rand(2, 3, 30)
    call = {
        "recurrent": lambda q, k, v: fw.fast_weight_recurrence(q, k, v),
        "parallel": lambda q, k, v: fw.linear_attention(q, k, v),
        "chunked": lambda q, k, v: fw.chunked_linear_attention(q, k, v, chunk_size=8),
        "delta": lambda q, k, v: fw.delta_rule(q, k, v, beta),
    }[fn]
    y = call(q, k, v)
    q2, k2, v2 = (t.clone() for t in (q, k, v))
    for t in (q2, k2, v2):
        t[:, :, 13:] = torch.randn_like(t[:, :, 13:])
    y2 = call(q2, k2, v2)
    assert (
        torch.equal(y[:, :, :13], y2[:, :, :13])
        or (y[:, :, :13] - y2[:, :, :13]).abs().max() < 1e-6
    )
    assert not torch.allclose(y[:, :, 13:], y2[:, :, 13:])


@pytest.mark.parametrize(
    "call, arg",
    [
        (lambda q, k, v: fw.linear_attention(q[0], k, v), "q"),
        (lambda q, k, v: fw.linear_attention(q, k[..., :3], v), "k"),
        (lambda q, k, v: fw.fast_weight_recurrence(q, k, v[:, :, :5]), "v"),
        (
            lambda q, k, v: fw.chunked_linear_attention(q, k, v, chunk_size=0),
            "chunk_size",
        ),
        (lambda q, k, v: fw.linear_attention(q, k, v, eps=-1.0), "eps"),
        (lambda q, k, v: fw.fast_weight_recurrence(q, k, v, eps=None), "eps"),
        (lambda q, k, v: fw.chunked_linear_attention(q, k, v, eps=float("nan")), "eps"),
        (
            lambda q, k, v: fw.linear_attention(q, k, v, feature_map="relu"),
            "feature_map",
        ),
        (
            lambda q, k, v: fw.chunked_linear_attention(q, k, v, feature_map="softmax"),
            "feature_map",
        ),
        (
            lambda q, k, v: fw.fast_weight_recurrence(q, k, v, feature_map=3),
            "feature_map",
        ),
    ],
)
def test_bad_arguments_raise_value_error_naming_the_argument(call, arg):
    q, k, v = _qkv(T=10)
    with pytest.raises(ValueError, match=rf"^{arg}:"):
        call(q, k, v)
