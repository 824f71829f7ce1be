"""Chapter 2, src/fourpapers/fast_weights/retrieval.py: the retrieval task and its
memories."""

import pytest
import torch
import torch.nn.functional as F

from fourpapers import fast_weights as fw


def test_retrieval_batch_without_replacement_is_a_permutation():
    keys, values, query, target = fw.retrieval_batch(
        16, 10, torch.Generator().manual_seed(0)
    )
    assert keys.shape == values.shape == (16, 10) and query.shape == target.shape == (
        16,
    )
    assert torch.equal(keys.sort(1).values, torch.arange(10).expand(16, 10))
    assert torch.equal(values.sort(1).values, torch.arange(10).expand(16, 10))
    pos = (keys == query[:, None]).float().argmax(1)
    assert torch.equal(values.gather(1, pos[:, None]).squeeze(1), target)


def test_retrieval_batch_with_replacement_targets_the_latest_value():
    keys, values, query, target = fw.retrieval_batch(
        64, 5, torch.Generator().manual_seed(1), replace=True
    )
    assert keys.shape == (64, 10)
    for b in range(64):
        last = max(t for t in range(10) if keys[b, t] == query[b])
        assert values[b, last] == target[b]


@pytest.mark.parametrize(
    "attention, rule",
    [
        ("softmax", "sum"),
        ("linear", "sum"),
        ("dpfp2", "sum"),
        ("favor", "sum"),
        ("dpfp1", "delta"),
        ("linear", "delta"),
    ],
)
def test_retrieval_model_equals_its_equations(attention, rule):
    torch.manual_seed(0)
    S = 6
    model = fw.RetrievalModel(S, attention, rule, d_key=4).double()
    keys, values, query, _ = fw.retrieval_batch(
        5, S, torch.Generator().manual_seed(0), replace=rule == "delta"
    )
    y = model(keys, values, query)
    # the textbook computation: k_t = W_k [onehot(v_t); emb(k_t)], q = W_q emb(q), then
    # the memory
    v = F.one_hot(values, S).double()
    k = model.W_k(torch.cat([v, model.emb(keys)], -1))
    q = model.W_q(model.emb(query))
    if attention == "softmax":
        ref = (torch.softmax(k @ q.unsqueeze(-1) / 2.0, 1) * v).sum(1)
    elif rule == "sum":
        ref = torch.stack(
            # W = sum_t v_t (x) phi(k_t), z = sum_t phi(k_t), y = W phi(q) / (z^T phi(q)
            # + eps)
            [
                (v[b].T @ model.phi(k[b]))
                @ model.phi(q[b])
                / (model.phi(k[b]).sum(0) @ model.phi(q[b]) + fw.EPS)
                for b in range(5)
            ]
        )
    else:
        beta = torch.sigmoid(model.W_b(torch.cat([v, model.emb(keys)], -1))).squeeze(-1)
        fq = model.phi(q)
        fk = model.phi(k) / model.phi(k).sum(-1, keepdim=True)
        W = torch.zeros(5, S, fk.shape[-1], dtype=torch.float64)
        for t in range(k.shape[1]):
            W = (
                W
                + beta[:, t, None, None]
                * (v[:, t] - (W @ fk[:, t, :, None]).squeeze(-1))[:, :, None]
                * fk[:, t, None]
            )
        ref = (W @ (fq / (fq.sum(-1, keepdim=True) + fw.EPS)).unsqueeze(-1)).squeeze(-1)
    assert y.shape == (5, S)
    assert (y - ref).abs().max() < 1e-12


@pytest.mark.parametrize(
    "which, bad, expected",
    [
        (
            "keys",
            lambda t: t + 6,
            r"keys: expected token ids in \[0, 6\)",
        ),  # would silently read another row
        ("values", lambda t: t - 6, r"values: expected token ids in \[0, 6\)"),
        ("query", lambda t: t.double(), r"query: expected integer token ids"),
    ],
)
def test_retrieval_memories_reject_bad_ids(which, bad, expected):
    keys, values, query, _ = fw.retrieval_batch(3, 6, torch.Generator().manual_seed(0))
    args = dict(keys=keys, values=values, query=query)
    args[which] = bad(args[which])
    for model in (
        fw.RetrievalModel(6, "linear", "sum", d_key=4),
        fw.RetrievalGroup(6, [("dpfp1", "delta")], d_key=4),
    ):
        with pytest.raises(ValueError, match=expected):
            model(**args)


def test_favor_redrawn_draws_new_features_every_forward_pass_from_its_seed():
    keys, values, query, _ = fw.retrieval_batch(5, 6, torch.Generator().manual_seed(0))
    torch.manual_seed(0)
    a = fw.RetrievalModel(6, "favor_redrawn", d_key=4, feature_seed=1).double()
    torch.manual_seed(0)
    b = fw.RetrievalModel(6, "favor_redrawn", d_key=4, feature_seed=1).double()
    assert a.d_dot == 8  # d_dot = 2m, m = d_key
    first = a(keys, values, query)
    assert torch.equal(first, b(keys, values, query))  # same seed, same draws
    assert not torch.allclose(first, a(keys, values, query))  # the next call draws anew
    k = a.W_k(torch.cat([F.one_hot(values, 6).double(), a.emb(keys)], -1))
    q = a.W_q(a.emb(query))
    omega = fw.orthogonal_gaussian(4, 4, torch.Generator().manual_seed(1))  # 1st draw
    fk, fq = fw.favor_pm(k, omega), fw.favor_pm(q, omega)
    w = (fk @ fq.unsqueeze(-1)).squeeze(-1)
    read = (w.unsqueeze(-1) * F.one_hot(values, 6)).sum(1)
    ref = read / (w.sum(1, keepdim=True) + fw.EPS)
    assert (first - ref).abs().max() < 1e-12


def test_retrieval_loss_is_one_half_at_zero_prediction():
    class Zero(torch.nn.Module):
        def forward(self, keys, values, query):
            return torch.zeros(keys.shape[0], 7)

    batch = fw.retrieval_batch(8, 7)
    assert fw.retrieval_loss(Zero(), *batch).item() == pytest.approx(0.5)
