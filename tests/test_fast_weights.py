"""Chapter 2: fast weight programmers are linear Transformers. Exact identities first, then the claims."""
import functools

import pytest
import torch
import torch.nn.functional as F

from fourpapers import claims
from fourpapers import fast_weights as fw

FORMS = (fw.fast_weight_recurrence, fw.linear_attention,
         lambda q, k, v, feature_map="elu", **kw: fw.chunked_linear_attention(q, k, v, feature_map, chunk_size=16, **kw))


def _qkv(T=77, d=8, dv=5, dtype=torch.float32, seed=0, B=2, H=3):
    g = torch.Generator().manual_seed(seed)
    return tuple(torch.randn(B, H, T, n, generator=g, dtype=dtype) for n in (d, d, dv))


# ----- the three forms of linear attention are one computation --------------------------------------------------

@pytest.mark.parametrize("feature_map", ["elu", "dpfp", "dpfp3", "favor", "favor32"])
@pytest.mark.parametrize("dtype, tol", [(torch.float32, 1e-5), (torch.float64, 1e-10)])
def test_recurrent_parallel_and_chunked_forms_agree(feature_map, dtype, tol):
    q, k, v = _qkv(T=77, dtype=dtype)  # 77 is not a multiple of the chunk size 16
    ref = fw.fast_weight_recurrence(q, k, v, feature_map)
    assert ref.shape == v.shape
    assert (fw.linear_attention(q, k, v, feature_map) - ref).abs().max() < tol
    for chunk in (1, 16, 64, 77, 200):
        assert (fw.chunked_linear_attention(q, k, v, feature_map, chunk_size=chunk) - ref).abs().max() < tol


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
        w = (fk[0, 0, : t + 1] @ fq[0, 0, t])                      # phi(k_s)^T phi(q_t), s <= t
        assert torch.allclose(y[0, 0, t], (w[:, None] * v[0, 0, : t + 1]).sum(0) / (w.sum() + fw.EPS))


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
    assert torch.equal(y[:, :, :13], y2[:, :, :13]) or (y[:, :, :13] - y2[:, :, :13]).abs().max() < 1e-6
    assert not torch.allclose(y[:, :, 13:], y2[:, :, 13:])


# ----- capacity and the delta rule --------------------------------------------------------------------------------

def _orthonormal(d, n, seed=0):
    g = torch.Generator().manual_seed(seed)
    Q, _ = torch.linalg.qr(torch.randn(d, d, generator=g, dtype=torch.float64))
    return Q[:, :n].T                                               # n orthonormal rows


@pytest.mark.parametrize("rule", ["sum", "delta"])
@pytest.mark.parametrize("n_pairs", [1, 5, 8])
def test_orthonormal_keys_are_retrieved_exactly_up_to_d_pairs(rule, n_pairs):
    d = 8
    keys = _orthonormal(d, n_pairs)                                 # [S, d]
    values = torch.randn(n_pairs, 3, dtype=torch.float64)
    # batch s writes all pairs, and queries key s at every step: the last output reads the full memory
    k = keys.expand(n_pairs, 1, n_pairs, d)
    v = values.expand(n_pairs, 1, n_pairs, 3)
    q = keys[:, None, None, :].expand(n_pairs, 1, n_pairs, d)
    if rule == "sum":
        y = fw.fast_weight_recurrence(q, k, v, "identity", normalize=False)
    else:
        y = fw.delta_rule(q, k, v, torch.ones(n_pairs, 1, n_pairs), "identity", normalize=False)
    assert (y[:, 0, -1] - values).abs().max() < 1e-12


def test_more_pairs_than_dimensions_cannot_all_be_retrieved():
    # d + 1 keys in R^d: no W maps every key to its value exactly (generic values): least-squares residual > 0
    d = 4
    g = torch.Generator().manual_seed(0)
    K, V = torch.randn(d + 1, d, generator=g, dtype=torch.float64), torch.randn(d + 1, 3, generator=g, dtype=torch.float64)
    W = torch.linalg.lstsq(K, V).solution
    assert (K @ W - V).abs().max() > 1e-3
    W = torch.linalg.lstsq(K[:d], V[:d]).solution
    assert (K[:d] @ W - V[:d]).abs().max() < 1e-10


def test_delta_rule_overwrites_and_sum_rule_piles_up():
    k = F.normalize(torch.randn(1, 1, 1, 6, dtype=torch.float64), dim=-1).expand(1, 1, 2, 6)   # the same unit key twice
    v = torch.randn(1, 1, 2, 3, dtype=torch.float64)
    y_delta = fw.delta_rule(k, k, v, torch.ones(1, 1, 2), "identity", normalize=False)
    y_sum = fw.fast_weight_recurrence(k, k, v, "identity", normalize=False)
    assert torch.allclose(y_delta[0, 0, -1], v[0, 0, 1], atol=1e-12)                 # v2
    assert torch.allclose(y_sum[0, 0, -1], v[0, 0, 0] + v[0, 0, 1], atol=1e-12)      # v1 + v2
    b1, b2 = 0.3, 0.8
    y = fw.delta_rule(k, k, v, torch.tensor([[[b1, b2]]], dtype=torch.float64), "identity", normalize=False)
    v1, v2 = v[0, 0, 0], v[0, 0, 1]
    assert torch.allclose(y[0, 0, -1], b1 * v1 + b2 * (v2 - b1 * v1), atol=1e-12)


def test_delta_update_is_one_sgd_step_on_the_squared_error():
    T, d, dv = 6, 5, 4
    q, k, v = _qkv(T=T, d=d, dv=dv, B=1, H=1, dtype=torch.float64, seed=3)
    beta = torch.rand(1, 1, T, dtype=torch.float64)
    y = fw.delta_rule(q, k, v, beta, "elu", normalize=True)
    phi = lambda x: (F.elu(x) + 1) / (F.elu(x) + 1).sum(-1, keepdim=True)   # sum-normalised elu + 1
    W = torch.zeros(dv, d, dtype=torch.float64)
    for t in range(T):
        Wt = W.clone().requires_grad_()
        loss = 0.5 * (Wt @ phi(k[0, 0, t]) - v[0, 0, t]).pow(2).sum()      # 1/2 ||W phi(k) - v||^2
        (grad,) = torch.autograd.grad(loss, Wt)
        W = W - beta[0, 0, t] * grad                                         # one SGD step of size beta
        assert torch.allclose(y[0, 0, t], W @ phi(q[0, 0, t]), atol=1e-12)


def test_parallel_delta_writes_equal_the_recurrence():
    g = torch.Generator().manual_seed(1)
    k = torch.randn(3, 24, 8, generator=g, dtype=torch.float64)
    v = torch.randn(3, 24, 5, generator=g, dtype=torch.float64)
    beta = torch.rand(3, 24, generator=g, dtype=torch.float64)
    fk = fw.dpfp(k) / fw.dpfp(k).sum(-1, keepdim=True)
    W = fw._delta_updates(fk, v, beta).transpose(-1, -2) @ fk               # W_L = sum_t u_t (x) phi(k_t)
    y = fw.delta_rule(k[:, None], k[:, None], v[:, None], beta[:, None], "dpfp")   # y_t = W_t phi(k_t)
    assert (y[:, 0, -1] - (W @ fk[:, -1].unsqueeze(-1)).squeeze(-1)).abs().max() < 1e-12


# ----- feature maps --------------------------------------------------------------------------------------------------

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
    assert torch.equal(phi @ phi.T > 0, torch.eye(4, dtype=torch.bool))      # quadrants are orthogonal
    r = torch.cat([F.relu(x), F.relu(-x)], -1)
    assert torch.equal(phi, r * r.roll(1, -1))


def test_favor_is_positive_reproducible_and_approximates_the_softmax_kernel():
    g = torch.Generator().manual_seed(0)
    q, k = (0.3 * torch.randn(16, 8, generator=g, dtype=torch.float64) for _ in range(2))
    exact = (q * k).sum(-1).exp()                                          # the softmax kernel exp(q^T k)

    def rel_err(m, seed=0):
        return (((fw.favor(q, m, seed) * fw.favor(k, m, seed)).sum(-1) - exact).abs() / exact).mean()

    assert (fw.favor(q) > 0).all() and fw.favor(q).shape == (16, 8) and fw.favor(q, 24).shape == (16, 24)
    assert torch.equal(fw.favor(q, m=16), fw.favor(q, m=16))
    assert not torch.equal(fw.favor(q, m=16), fw.favor(q, m=16, seed=1))
    assert rel_err(4096) < 0.05 < rel_err(16)
    # unbiased: the average over independent draws of omega converges to exp(q^T k)
    mean = torch.stack([(fw.favor(q, 64, s) * fw.favor(k, 64, s)).sum(-1) for s in range(200)]).mean(0)
    assert ((mean - exact).abs() / exact).max() < 0.1


def test_feature_maps_by_name():
    x = torch.randn(3, 4)
    assert torch.equal(fw.get_feature_map("elu")(x), F.elu(x) + 1)
    assert torch.equal(fw.get_feature_map("identity")(x), x)
    assert torch.equal(fw.get_feature_map("dpfp")(x), fw.dpfp(x, 1))
    assert torch.equal(fw.get_feature_map("dpfp2")(x), fw.dpfp(x, 2))
    assert torch.equal(fw.get_feature_map("favor")(x), fw.favor(x))
    assert fw.get_feature_map(torch.tanh) is torch.tanh
    assert [fw.feature_size(n, 8) for n in ("elu", "identity", "dpfp", "favor", "favor32")] == [8, 8, 16, 8, 32]


# ----- bad arguments -------------------------------------------------------------------------------------------------

@pytest.mark.parametrize(
    "call, arg",
    [
        (lambda q, k, v: fw.linear_attention(q[0], k, v), "q"),
        (lambda q, k, v: fw.linear_attention(q, k[..., :3], v), "k"),
        (lambda q, k, v: fw.fast_weight_recurrence(q, k, v[:, :, :5]), "v"),
        (lambda q, k, v: fw.chunked_linear_attention(q, k, v, chunk_size=0), "chunk_size"),
        (lambda q, k, v: fw.linear_attention(q, k, v, eps=-1.0), "eps"),
        (lambda q, k, v: fw.fast_weight_recurrence(q, k, v, eps=None), "eps"),
        (lambda q, k, v: fw.chunked_linear_attention(q, k, v, eps=float("nan")), "eps"),
        (lambda q, k, v: fw.linear_attention(q, k, v, feature_map="relu"), "feature_map"),
        (lambda q, k, v: fw.chunked_linear_attention(q, k, v, feature_map="softmax"), "feature_map"),
        (lambda q, k, v: fw.fast_weight_recurrence(q, k, v, feature_map=3), "feature_map"),
        (lambda q, k, v: fw.delta_rule(q, k, v, torch.ones(2, 3)), "beta"),
        (lambda q, k, v: fw.delta_rule(q, k, v, "one"), "beta"),
        (lambda q, k, v: fw.dpfp(q, 0), "nu"),
        (lambda q, k, v: fw.dpfp(q, 16), "nu"),
        (lambda q, k, v: fw.favor(q, m=0), "m"),
        (lambda q, k, v: fw.favor(q, seed=-1), "seed"),
        (lambda q, k, v: fw.feature_size("elu", 0), "d"),
        (lambda q, k, v: fw.feature_size(torch.tanh, 4), "feature_map"),
    ],
)
def test_bad_arguments_raise_value_error_naming_the_argument(call, arg):
    q, k, v = _qkv(T=10)
    with pytest.raises(ValueError, match=rf"^{arg}:"):
        call(q, k, v)


# ----- the retrieval task --------------------------------------------------------------------------------------------

def test_retrieval_batch_without_replacement_is_a_permutation():
    keys, values, query, target = fw.retrieval_batch(16, 10, torch.Generator().manual_seed(0))
    assert keys.shape == values.shape == (16, 10) and query.shape == target.shape == (16,)
    assert torch.equal(keys.sort(1).values, torch.arange(10).expand(16, 10))
    assert torch.equal(values.sort(1).values, torch.arange(10).expand(16, 10))
    pos = (keys == query[:, None]).float().argmax(1)
    assert torch.equal(values.gather(1, pos[:, None]).squeeze(1), target)


def test_retrieval_batch_with_replacement_targets_the_latest_value():
    keys, values, query, target = fw.retrieval_batch(64, 5, torch.Generator().manual_seed(1), replace=True)
    assert keys.shape == (64, 10)
    for b in range(64):
        last = max(t for t in range(10) if keys[b, t] == query[b])
        assert values[b, last] == target[b]


@pytest.mark.parametrize("attention, rule", [("softmax", "sum"), ("linear", "sum"), ("dpfp2", "sum"),
                                             ("favor", "sum"), ("dpfp1", "delta"), ("linear", "delta")])
def test_retrieval_model_equals_its_equations(attention, rule):
    torch.manual_seed(0)
    S = 6
    model = fw.RetrievalModel(S, attention, rule, d_key=4).double()
    keys, values, query, _ = fw.retrieval_batch(5, S, torch.Generator().manual_seed(0), replace=rule == "delta")
    y = model(keys, values, query)
    # the textbook computation: k_t = W_k [onehot(v_t); emb(k_t)], q = W_q emb(q), then the memory
    v = F.one_hot(values, S).double()
    k = model.W_k(torch.cat([v, model.emb(keys)], -1))
    q = model.W_q(model.emb(query))
    if attention == "softmax":
        ref = (torch.softmax(k @ q.unsqueeze(-1) / 2.0, 1) * v).sum(1)
    elif rule == "sum":
        ref = torch.stack([  # W = sum_t v_t (x) phi(k_t), z = sum_t phi(k_t), y = W phi(q) / (z^T phi(q) + eps)
            (v[b].T @ model.phi(k[b])) @ model.phi(q[b]) / (model.phi(k[b]).sum(0) @ model.phi(q[b]) + fw.EPS)
            for b in range(5)])
    else:
        beta = torch.sigmoid(model.W_b(torch.cat([v, model.emb(keys)], -1))).squeeze(-1)
        fq = model.phi(q)
        fk = model.phi(k) / model.phi(k).sum(-1, keepdim=True)
        W = torch.zeros(5, S, fk.shape[-1], dtype=torch.float64)
        for t in range(k.shape[1]):
            W = W + beta[:, t, None, None] * (v[:, t] - (W @ fk[:, t, :, None]).squeeze(-1))[:, :, None] * fk[:, t, None]
        ref = (W @ (fq / (fq.sum(-1, keepdim=True) + fw.EPS)).unsqueeze(-1)).squeeze(-1)
    assert y.shape == (5, S)
    assert (y - ref).abs().max() < 1e-12


@pytest.mark.parametrize("which, bad, expected", [
    ("keys", lambda t: t + 6, r"keys: expected token ids in \[0, 6\)"),     # would silently read another row
    ("values", lambda t: t - 6, r"values: expected token ids in \[0, 6\)"),
    ("query", lambda t: t.double(), r"query: expected integer token ids"),
])
def test_retrieval_memories_reject_bad_ids(which, bad, expected):
    keys, values, query, _ = fw.retrieval_batch(3, 6, torch.Generator().manual_seed(0))
    args = dict(keys=keys, values=values, query=query)
    args[which] = bad(args[which])
    for model in (fw.RetrievalModel(6, "linear", "sum", d_key=4), fw.RetrievalGroup(6, [("dpfp1", "delta")], d_key=4)):
        with pytest.raises(ValueError, match=expected):
            model(**args)


def test_retrieval_loss_is_one_half_at_zero_prediction():
    class Zero(torch.nn.Module):
        def forward(self, keys, values, query):
            return torch.zeros(keys.shape[0], 7)
    batch = fw.retrieval_batch(8, 7)
    assert fw.retrieval_loss(Zero(), *batch).item() == pytest.approx(0.5)


def test_train_retrieval_is_reproducible_and_learns_a_small_task():
    a = fw.train_retrieval(4, "dpfp1", steps=150, eval_size=256, seed=0, progress=False)
    b = fw.train_retrieval(4, "dpfp1", steps=150, eval_size=256, seed=0, progress=False)
    c = fw.train_retrieval(4, "dpfp1", steps=150, eval_size=256, seed=1, progress=False)
    assert a.losses == b.losses and a.eval_loss == b.eval_loss and a.losses != c.losses
    assert a.d_dot == 16 and a.eval_loss < 0.25 < a.losses[0]


@pytest.mark.parametrize(
    "call, arg",
    [
        (lambda: fw.RetrievalModel(0), "n_keys"),
        (lambda: fw.RetrievalModel(4, "relu"), "attention"),
        (lambda: fw.RetrievalModel(4, "linear", "hebb"), "rule"),
        (lambda: fw.RetrievalModel(4, "softmax", "delta"), "rule"),
        (lambda: fw.RetrievalModel(4, d_key=0), "d_key"),
        (lambda: fw.retrieval_batch(0, 4), "batch_size"),
        (lambda: fw.retrieval_batch(4, 0), "n_keys"),
        (lambda: fw.train_retrieval(4, steps=0), "steps"),
        (lambda: fw.train_retrieval(4, lr=0.0), "lr"),
        (lambda: fw.capacity_sweep(cells=[]), "cells"),
        (lambda: fw.RetrievalGroup(4, []), "variants"),
        (lambda: fw.RetrievalGroup(4, [("linear", "oja")]), "rule"),
        (lambda: fw.train_retrieval_group(4, [("linear", "sum")], batch_size=0), "batch_size"),
        (lambda: fw.overwrite_sweep(n_keys=()), "n_keys"),
        (lambda: fw.RetrievalModel(4)(torch.zeros(2, 4, dtype=torch.long), torch.zeros(2, 3, dtype=torch.long),
                                      torch.zeros(2, dtype=torch.long)), "keys"),
        (lambda: fw.closed_form_retrieval(0, 4), "n_pairs"),
        (lambda: fw.closed_form_retrieval(4, 0), "d"),
        (lambda: fw.closed_form_retrieval(4, 4, rule="oja"), "rule"),
        (lambda: fw.closed_form_retrieval(4, 4, n_trials=0), "n_trials"),
    ],
)
def test_retrieval_bad_arguments(call, arg):
    with pytest.raises(ValueError, match=rf"^{arg}"):
        call()


def test_closed_form_retrieval():
    # one key: both rules are exact when it is written once; written twice, only the delta rule overwrites
    assert fw.closed_form_retrieval(1, 8, "sum", replace=False) < 1e-20
    assert fw.closed_form_retrieval(1, 8, "delta", replace=True) < 1e-20
    assert fw.closed_form_retrieval(1, 8, "sum", replace=True) > 0.5
    # cross-talk grows with the number of pairs per dimension: about (S - 1) / d for random unit keys
    err = fw.closed_form_retrieval(9, 64, "sum", replace=False, n_trials=256)
    assert err == pytest.approx(8 / 64, rel=0.2)
    assert fw.closed_form_retrieval(8, 16, "delta") < fw.closed_form_retrieval(8, 16, "sum")
    assert fw.closed_form_retrieval(8, 16, seed=3) == fw.closed_form_retrieval(8, 16, seed=3)


# ----- timing helpers ----------------------------------------------------------------------------------------------

def test_timing_helpers():
    rows = fw.attention_timings(ns=(32, 64), repeats=1, min_block=0.0, progress=False)
    assert [(r.method, r.mode, r.n) for r in rows] == [
        (m, mode, n) for m in ("sdpa", "chunked") for mode in ("fwd", "fwdbwd") for n in (32, 64)]
    assert all(r.seconds > 0 for r in rows)
    assert fw.time_call(lambda: None, repeats=2, min_block=0.0) >= 0
    assert fw.matmul_gflops(size=64, repeats=1, min_block=0.0) > 0
    row = fw.TimingRow
    fake = [row("sdpa", 1, "fwd", 1.0), row("chunked", 1, "fwd", 2.0), row("sdpa", 2, "fwd", 3.0),
            row("chunked", 2, "fwd", 2.0), row("sdpa", 4, "fwd", 9.0), row("chunked", 4, "fwd", 4.0)]
    assert fw.crossover(fake, "fwd") == 2
    assert fw.crossover(fake[:2], "fwd") is None
    assert fw.crossover(fake, "fwd", margin=0.6) == 4                      # 3.0 / 2.0 = 1.5 is not 1.6 x faster
    tie = [row("sdpa", 1, "fwd", 2.0), row("chunked", 1, "fwd", 1.99), row("sdpa", 2, "fwd", 9.0),
           row("chunked", 2, "fwd", 4.0)]
    assert fw.crossover(tie, "fwd") == 1 and fw.crossover(tie, "fwd", margin=0.1) == 2   # a tie is no crossover
    # per head and chunk: 2 C^2 (dk + dv + 1) + 4 C dk (dv + 1); backward twice the forward
    assert fw.chunked_flops(128, heads=1, d_key=2, d_value=3, chunk_size=64, mode="fwd") == 2 * (2 * 64**2 * 6 + 4 * 64 * 8)
    assert fw.chunked_flops(128, 1, 2, 3, 64, "fwdbwd") == 3 * fw.chunked_flops(128, 1, 2, 3, 64, "fwd")


@pytest.mark.parametrize(
    "call, arg",
    [
        (lambda: fw.attention_timings(ns=()), "ns"),
        (lambda: fw.attention_timings(ns=(32,), modes=("bwd",)), "modes"),
        (lambda: fw.attention_timings(ns=(32,), methods=("flash",)), "methods"),
        (lambda: fw.time_call(lambda: None, repeats=0), "repeats"),
        (lambda: fw.time_call(lambda: None, min_block=-1), "min_block"),
        (lambda: fw.crossover([], "fwd"), "rows"),
        (lambda: fw.crossover([], "both"), "mode"),
        (lambda: fw.crossover([], "fwd", margin=-0.1), "margin"),
        (lambda: fw.chunked_flops(0), "n"),
        (lambda: fw.chunked_flops(8, mode="bwd"), "mode"),
        (lambda: fw.matmul_gflops(size=0), "size"),
    ],
)
def test_timing_bad_arguments(call, arg):
    with pytest.raises(ValueError, match=rf"^{arg}"):
        call()


def test_sweeps_key_their_runs_and_match_single_runs():
    cap = fw.capacity_sweep(seed=0, cells=[("linear", 4), ("softmax", 6)], steps=5, eval_size=32, progress=False)
    one = fw.train_retrieval(4, "linear", steps=5, eval_size=32, seed=0, progress=False)
    assert list(cap) == [("linear", 4), ("softmax", 6)] and cap[("linear", 4)].eval_loss == one.eval_loss
    ow = fw.overwrite_sweep(seed=1, n_keys=(3,), steps=5, eval_size=32, progress=False)
    one = fw.train_retrieval(3, "dpfp1", "delta", replace=True, steps=5, eval_size=32, seed=1, progress=False)
    assert list(ow) == [("sum", 3), ("delta", 3)] and ow[("delta", 3)].eval_loss == one.eval_loss


# ----- the claims of the chapter's figures (3 seeds; FOURPAPERS_SEEDS overrides) -------------------------------------

# Fig. 2 in miniature (d_key 8, so d_dot = 8 / 16 / 32 / 48 for linear / DPFP-1 / DPFP-2 / DPFP-3): the cells each
# claim needs. Loss < 0.01 for S <= d_dot / 2, > 0.1 for S >= 2 d_dot, linear > DPFP-1 > DPFP-2 > DPFP-3 at S = 48,
# and the softmax control < 0.01 at S <= 32.
D_DOT = {"linear": 8, "dpfp1": 16, "dpfp2": 32, "dpfp3": 48}
CAPACITY_CELLS = [("softmax", 8), ("softmax", 16), ("softmax", 32), ("linear", 16), ("linear", 32), ("linear", 48),
                  ("dpfp1", 8), ("dpfp1", 32), ("dpfp1", 48), ("dpfp2", 8), ("dpfp2", 16), ("dpfp2", 48),
                  ("dpfp3", 8), ("dpfp3", 16), ("dpfp3", 48)]


@functools.lru_cache(maxsize=None)
def _capacity(seed):
    res = fw.capacity_sweep(seed=seed, cells=CAPACITY_CELLS, progress=False)
    return {cell: r.eval_loss for cell, r in res.items()}


@pytest.mark.claims
@pytest.mark.parametrize("seed", claims.seeds([0, 1, 2]))
def test_fig2_capacity_softmax_control_large_S_failure_and_order(seed):
    loss = _capacity(seed)
    claims.report("Fig. 2: capacity of linear / DPFP fast weights (sum rule), softmax control", seed,
                  **{f"{a}_S{s}": loss[(a, s)] for a, s in CAPACITY_CELLS})
    assert all(loss[("softmax", s)] < 0.01 for s in (8, 16, 32))
    assert all(loss[(a, s)] > 0.1 for a, s in CAPACITY_CELLS if a != "softmax" and s >= 2 * D_DOT[a])
    assert all(loss[(a, s)] < 0.01 for a, s in CAPACITY_CELLS
               if a in ("dpfp2", "dpfp3") and s <= D_DOT[a] / 2)
    assert loss[("linear", 48)] > loss[("dpfp1", 48)] > loss[("dpfp2", 48)] > loss[("dpfp3", 48)]


@pytest.mark.claims
@pytest.mark.parametrize("seed", claims.seeds([0, 1, 2]))
def test_fig3_delta_rule_overwrites_where_the_sum_rule_piles_up(seed):
    """DPFP-1 with repeated keys: the delta rule ends below the sum rule at every S, and the sum rule above 0.1.
    Calibration (seeds 0-9 here, 0-4 on the other float path): sum - delta at least 0.06 (seed 5, S = 8), the sum
    rule at least 0.196. Not claimed, reported: the delta rule below 0.01 at S = 4 held on 12 of 15 seed-paths; on
    the others it lost one of the four keys (0.09-0.22), a stall like DPFP-1's at S = 8 in the capacity figure."""
    res = fw.overwrite_sweep(seed=seed, n_keys=(4, 8, 12), progress=False)
    loss = {cell: r.eval_loss for cell, r in res.items()}
    claims.report("Fig. 3 setting: DPFP-1, keys with replacement, sum vs delta rule", seed,
                  **{f"{r}_S{s}": v for (r, s), v in loss.items()})
    assert all(loss[("delta", s)] < loss[("sum", s)] for s in (4, 8, 12))
    assert all(loss[("sum", s)] > 0.1 for s in (4, 8, 12))


def test_group_computes_what_each_model_computes_and_trains_like_it():
    variants = [("softmax", "sum"), ("linear", "sum"), ("dpfp2", "sum"), ("dpfp1", "delta"), ("favor", "sum")]
    group = fw.RetrievalGroup(7, variants, d_key=4, init_seed=3).double()
    keys, values, query, target = fw.retrieval_batch(6, 7, torch.Generator().manual_seed(2), replace=True)
    y = group(keys, values, query)
    losses = group.losses(keys, values, query, target)
    for i, (attention, rule) in enumerate(variants):
        torch.manual_seed(3)
        model = fw.RetrievalModel(7, attention, rule, d_key=4).double()   # initialised as the group's member
        assert torch.equal(model.emb.weight, group.emb[i]) and torch.equal(model.W_k.weight, group.W_k[i])
        assert (model(keys, values, query) - y[i]).abs().max() < 1e-12
        assert fw.retrieval_loss(model, keys, values, query, target).item() == pytest.approx(losses[i].item(), abs=1e-12)
    # trained side by side, a memory ends where it ends when trained alone
    pair = fw.train_retrieval_group(6, [("linear", "sum"), ("dpfp1", "sum")], steps=40, eval_size=64, progress=False)
    alone = fw.train_retrieval(6, "dpfp1", steps=40, eval_size=64, progress=False)
    assert [r.attention for r in pair] == ["linear", "dpfp1"] and len(pair[1].losses) == 40
    assert pair[1].eval_loss == pytest.approx(alone.eval_loss, abs=1e-5)
    assert max(abs(a - b) for a, b in zip(pair[1].losses, alone.losses)) < 1e-5


def test_time_call_counts_blocks_and_calls():
    calls = []
    fw.time_call(lambda: calls.append(1), repeats=3, min_block=0.0)
    assert len(calls) == 4                                                  # a warm-up, then 3 blocks of 1
    calls.clear()
    fw.time_call(lambda: calls.append(1), repeats=3, min_block=0.0, warmup=False)
    assert len(calls) == 3                                                  # the first call is the first block
    ticks = iter(range(1000))
    assert fw.time_call(lambda: None, repeats=2, min_block=0.0, clock=lambda: float(next(ticks))) == 1.0
