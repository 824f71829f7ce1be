"""Chapter 2, src/fourpapers/fast_weights/capacity.py: training the memories, the
sweeps of Fig. 2 and Appendix D.2, the claims."""

import functools

import pytest
import torch

from fourpapers import claims
from fourpapers import fast_weights as fw


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
        (lambda: fw.RetrievalModel(4, feature_seed=-1), "feature_seed"),
        (lambda: fw.retrieval_batch(0, 4), "batch_size"),
        (lambda: fw.retrieval_batch(4, 0), "n_keys"),
        (lambda: fw.train_retrieval(4, steps=0), "steps"),
        (lambda: fw.train_retrieval(4, lr=0.0), "lr"),
        (lambda: fw.capacity_sweep(cells=[]), "cells"),
        (lambda: fw.RetrievalGroup(4, []), "variants"),
        (lambda: fw.RetrievalGroup(4, [("linear", "oja")]), "rule"),
        (
            lambda: fw.train_retrieval_group(4, [("linear", "sum")], batch_size=0),
            "batch_size",
        ),
        (lambda: fw.overwrite_sweep(n_keys=()), "n_keys"),
        (
            lambda: fw.RetrievalModel(4)(
                torch.zeros(2, 4, dtype=torch.long),
                torch.zeros(2, 3, dtype=torch.long),
                torch.zeros(2, dtype=torch.long),
            ),
            "keys",
        ),
    ],
)
def test_retrieval_bad_arguments(call, arg):
    with pytest.raises(ValueError, match=rf"^{arg}"):
        call()


def test_sweeps_key_their_runs_and_match_single_runs():
    cap = fw.capacity_sweep(
        seed=0,
        cells=[("linear", 4), ("softmax", 6)],
        steps=5,
        eval_size=32,
        progress=False,
    )
    one = fw.train_retrieval(4, "linear", steps=5, eval_size=32, seed=0, progress=False)
    assert (
        list(cap) == [("linear", 4), ("softmax", 6)]
        and cap[("linear", 4)].eval_loss == one.eval_loss
    )
    ow = fw.overwrite_sweep(seed=1, n_keys=(3,), steps=5, eval_size=32, progress=False)
    one = fw.train_retrieval(
        3, "dpfp1", "delta", replace=True, steps=5, eval_size=32, seed=1, progress=False
    )
    assert (
        list(ow) == [("sum", 3), ("delta", 3)]
        and ow[("delta", 3)].eval_loss == one.eval_loss
    )


def test_group_computes_what_each_model_computes_and_trains_like_it():
    variants = [
        ("softmax", "sum"),
        ("linear", "sum"),
        ("dpfp2", "sum"),
        ("dpfp1", "delta"),
        ("favor", "sum"),
        ("favor_redrawn", "sum"),
    ]
    group = fw.RetrievalGroup(7, variants, d_key=4, init_seed=3).double()
    keys, values, query, target = fw.retrieval_batch(
        6, 7, torch.Generator().manual_seed(2), replace=True
    )
    y = group(keys, values, query)
    losses = group.losses(keys, values, query, target)
    for i, (attention, rule) in enumerate(variants):
        torch.manual_seed(3)
        # built as the group's member i
        model = fw.RetrievalModel(7, attention, rule, d_key=4, feature_seed=3).double()
        assert torch.equal(model.emb.weight, group.emb[i]) and torch.equal(
            model.W_k.weight, group.W_k[i]
        )
        assert (model(keys, values, query) - y[i]).abs().max() < 1e-12
        assert fw.retrieval_loss(
            model, keys, values, query, target
        ).item() == pytest.approx(losses[i].item(), abs=1e-12)
    # trained side by side, a memory ends where it ends when trained alone
    pair = fw.train_retrieval_group(
        6, [("linear", "sum"), ("dpfp1", "sum")], steps=40, eval_size=64, progress=False
    )
    alone = fw.train_retrieval(6, "dpfp1", steps=40, eval_size=64, progress=False)
    assert [r.attention for r in pair] == ["linear", "dpfp1"] and len(
        pair[1].losses
    ) == 40
    assert pair[1].eval_loss == pytest.approx(alone.eval_loss, abs=1e-5)
    assert max(abs(a - b) for a, b in zip(pair[1].losses, alone.losses)) < 1e-5


# ----- the claims of the chapter's figures (3 seeds; FOURPAPERS_SEEDS overrides)
# -------------------------------------

# Fig. 2 in miniature (d_key 8, so d_dot = 8 / 16 / 32 / 48 for linear / DPFP-1 / DPFP-2
# / DPFP-3): the cells each claim needs. Loss < 0.01 for S <= d_dot / 2, > 0.1 for S >=
# 2 d_dot, linear > DPFP-1 > DPFP-2 > DPFP-3 at S = 48, and the softmax control < 0.01
# at S <= 32.
D_DOT = {"linear": 8, "dpfp1": 16, "dpfp2": 32, "dpfp3": 48}
CAPACITY_CELLS = [
    ("softmax", 8),
    ("softmax", 16),
    ("softmax", 32),
    ("linear", 16),
    ("linear", 32),
    ("linear", 48),
    ("dpfp1", 8),
    ("dpfp1", 32),
    ("dpfp1", 48),
    ("dpfp2", 8),
    ("dpfp2", 16),
    ("dpfp2", 48),
    ("dpfp3", 8),
    ("dpfp3", 16),
    ("dpfp3", 48),
]


@functools.lru_cache(maxsize=None)
def _capacity(seed):
    res = fw.capacity_sweep(seed=seed, cells=CAPACITY_CELLS, progress=False)
    return {cell: r.eval_loss for cell, r in res.items()}


@pytest.mark.claims
@pytest.mark.parametrize("seed", claims.seeds([0, 1, 2]))
def test_fig2_capacity_softmax_control_large_S_failure_and_order(seed):
    loss = _capacity(seed)
    claims.report(
        "Fig. 2: capacity of linear / DPFP fast weights (sum rule), softmax control",
        seed,
        **{f"{a}_S{s}": loss[(a, s)] for a, s in CAPACITY_CELLS},
    )
    assert all(loss[("softmax", s)] < 0.01 for s in (8, 16, 32))
    assert all(
        loss[(a, s)] > 0.1
        for a, s in CAPACITY_CELLS
        if a != "softmax" and s >= 2 * D_DOT[a]
    )
    assert all(
        loss[(a, s)] < 0.01
        for a, s in CAPACITY_CELLS
        if a in ("dpfp2", "dpfp3") and s <= D_DOT[a] / 2
    )
    assert (
        loss[("linear", 48)]
        > loss[("dpfp1", 48)]
        > loss[("dpfp2", 48)]
        > loss[("dpfp3", 48)]
    )


FAVOR_CELLS = [("favor_redrawn", 32), ("favor_redrawn", 48)]


@pytest.mark.claims
@pytest.mark.parametrize("seed", claims.seeds([0, 1, 2]))
def test_fig2_favor_redrawn_retrieves_worse_than_dpfp1_of_the_same_d_dot(seed):
    """FAVOR+ as Schlag et al. ran it (2m features, m = d_key = 8, redrawn every
    mini-batch: d_dot 16) ends above DPFP-1 (d_dot 16) by more than 0.05 at S = 32 and
    48, and at S = 48 above linear attention, whose d_dot (8) is half as large: d_dot is
    only an upper bound on capacity. Calibration (seeds 0-9 here, 0-4 on the other float
    path; FAVOR+/DPFP-1 at S = 32, FAVOR+/DPFP-1/linear at S = 48): 0: .425/.252,
    .479/.336/.417; 1: .410/.257, .475/.334/.416; 2: .429/.251, .479/.336/.419; 3:
    .469/.268, .494/.342/.416; 4: .423/.257, .472/.342/.418; 5: .437/.262,
    .490/.341/.419; 6: .429/.257, .493/.335/.414; 7: .438/.258, .459/.345/.417; 8:
    .394/.303, .455/.341/.419; 9: .409/.274, .480/.343/.418; alt 0: .417/.259,
    .481/.336/.417; alt 1: .407/.257, .465/.335/.416; alt 2: .429/.251, .472/.335/.419;
    alt 3: .479/.268, .468/.342/.416; alt 4: .425/.260, .477/.336/.418. Thinnest
    margins: FAVOR+ - DPFP-1 0.091 at S = 32 (seed 8 here), 0.114 at S = 48; FAVOR+ -
    linear 0.036 at S = 48 (seed 8 here). Not asserted: at S = 8 = d_dot/2 FAVOR+ ends
    at 0.113-0.197, above DPFP-1 (0.000-0.067) by 0.058 at least, but DPFP-1's S = 8
    cell stalls on some seeds (section 3)."""
    loss = _capacity(seed)
    sweep = fw.capacity_sweep(seed=seed, cells=FAVOR_CELLS, progress=False)
    favor = {cell: r.eval_loss for cell, r in sweep.items()}
    claims.report(
        "Fig. 2: FAVOR+ redrawn vs DPFP-1 at the same d_dot, sum rule",
        seed,
        favor_S32=favor[("favor_redrawn", 32)],
        dpfp1_S32=loss[("dpfp1", 32)],
        favor_S48=favor[("favor_redrawn", 48)],
        dpfp1_S48=loss[("dpfp1", 48)],
        linear_S48=loss[("linear", 48)],
    )
    assert all(
        favor[("favor_redrawn", s)] > loss[("dpfp1", s)] + 0.05 for s in (32, 48)
    )
    assert favor[("favor_redrawn", 48)] > loss[("linear", 48)]


@pytest.mark.claims
@pytest.mark.parametrize("seed", claims.seeds([0, 1, 2]))
def test_fig3_delta_rule_overwrites_where_the_sum_rule_piles_up(seed):
    """DPFP-1 with repeated keys: the delta rule ends below the sum rule at every S, and
    the sum rule above 0.1. Calibration (seeds 0-9 here, 0-4 on the other float path):
    sum - delta at least 0.06 (seed 5, S = 8), the sum rule at least 0.196. Not claimed,
    reported: the delta rule below 0.01 at S = 4 held on 12 of 15 seed-paths; on the
    others it lost one of the four keys (0.09-0.22), a stall like DPFP-1's at S = 8 in
    the capacity figure."""
    res = fw.overwrite_sweep(seed=seed, n_keys=(4, 8, 12), progress=False)
    loss = {cell: r.eval_loss for cell, r in res.items()}
    claims.report(
        "Fig. 3 setting: DPFP-1, keys with replacement, sum vs delta rule",
        seed,
        **{f"{r}_S{s}": v for (r, s), v in loss.items()},
    )
    assert all(loss[("delta", s)] < loss[("sum", s)] for s in (4, 8, 12))
    assert all(loss[("sum", s)] > 0.1 for s in (4, 8, 12))
