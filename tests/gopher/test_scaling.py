"""fourpapers.gopher.scaling: family, power law, and the chapter's claims."""

import functools
import statistics

import pytest
import torch
import torch.nn as nn

from fourpapers import claims, gopher
from fourpapers.gopher import RMSNorm


def test_power_law_fit_on_known_numbers():
    params = [1e3, 1e4, 1e5, 1e6]
    a, alpha, r2 = gopher.power_law_fit(params, [3.0 * p**-0.1 for p in params])
    assert (
        a == pytest.approx(3.0)
        and alpha == pytest.approx(0.1)
        and r2 == pytest.approx(1.0)
    )
    assert gopher.power_law_fit(params, [3.0, 2.0, 2.5, 1.0])[2] < 0.9


def test_family_lies_on_one_path_evenly_spread_in_log_parameters():
    models_ = gopher.family(838)
    params = [m.num_parameters(non_embedding=True) for m in models_]
    assert gopher.FAMILY == ((8, 2), (16, 2), (32, 2), (64, 2))  # depth 2, width x2
    assert 1_800 < params[0] < 2_000 and 100_000 < params[-1] < 110_000
    assert all(3.5 < b / a < 4.0 for a, b in zip(params, params[1:]))  # ~4x per step
    m = models_[-1]
    assert m.positions == "relative" and isinstance(m.final_norm, RMSNorm)
    assert m.blocks[0].ffn.fc1.out_features == 4 * 64
    assert m.blocks[0].attn.n_heads == 4
    assert m.head.weight.data_ptr() != m.tok_emb.weight.data_ptr()


def test_scaling_run_measures_both_heldout_texts():
    r = gopher.scaling_run(
        seed=0,
        sizes=((8, 1), (16, 1)),
        steps=45,
        n_probes=4,
        norm_size=None,
        tokens_per_category=2000,
        progress=False,
    )
    assert len(r.valid_loss) == len(r.valid_mix_loss) == 2
    assert all(v > 0 for v in r.valid_mix_loss) and r.valid_mix_loss != r.valid_loss


@pytest.mark.parametrize(
    "call, arg",
    [
        (lambda: gopher.family(50, sizes=[]), "sizes"),
        (lambda: gopher.family(50, sizes=[(16, 0)]), "sizes"),
        (lambda: gopher.make_model(50, 15, 1), "d_model"),
        (lambda: gopher.scaling_run(steps=10), "steps"),
        (lambda: gopher.scaling_run(norm_size=(8, 8)), "norm_size"),
        (
            lambda: gopher.heldout_loss(nn.Identity(), torch.arange(10), seq_len=64),
            "ids",
        ),
        (
            lambda: gopher.heldout_loss(nn.Identity(), torch.arange(10), seq_len=0),
            "seq_len",
        ),
        (lambda: gopher.power_law_fit([1, 2], [1, 2]), "params"),
        (lambda: gopher.power_law_fit([1, 2, -3], [1, 2, 3]), "params"),
        (
            lambda: gopher.ScalingResult(
                0, [(16, 1)], [1], [1.0], {}, [[1.0]]
            ).final_loss("rmsnorm"),
            "norm",
        ),
    ],
)
def test_scaling_bad_arguments_name_the_argument(call, arg):
    with pytest.raises(ValueError, match=arg):
        call()


# ------------------------------------------------------------------------------------
# The claims (issues 6 and 15), over seeds 0, 1, 2: one scaling run per seed, shared
# by the claims below. The family (issue 15): depth 2, width 8, 16, 32, 64, so
# non-embedding parameters grow ~4x per step; 2000 steps of 8 x 64 tokens from a corpus
# of 175k tokens per generated part. The former family (16x1 ... 96x3, 800 steps) showed
# neither knowledge +20 points (+26.3 / +13.3 / +12.8 on seeds 0-2) nor R^2 >= 0.9
# (0.84 / 0.85 / 0.88).
# ------------------------------------------------------------------------------------


@functools.lru_cache(maxsize=None)
def _run(seed):
    return gopher.scaling_run(seed=seed, keep_models=True, progress=False)


_chance = gopher.category_chance


@pytest.mark.claims
@pytest.mark.parametrize("seed", claims.seeds([0, 1, 2]))
def test_claim_maths_never_rises_above_chance_and_logic_stays_within_10_points(seed):
    """No size scores more than 5 points above chance (0.25) on maths, and every size is
    within 10 points of chance (0.5) on logic. Calibration (AVX-512, 2026-12-08; seeds
    0-9 here, 0-4 on the other float path): the best maths accuracy of any size is
    0.258, 4.2 points inside the bound (maths sits *below* chance, down to 0.145);
    logic's worst distance is 4.0 points."""
    r = _run(seed)
    maths = gopher.category_accuracy(r.accuracy, "maths")
    logic = gopher.category_accuracy(r.accuracy, "logic")
    claims.report(
        "maths <= chance + 0.05 at every size; logic within 10 points of chance (0.5)",
        seed,
        **{f"maths_d{d}L{L}": a for (d, L), a in zip(r.sizes, maths)},
        **{f"logic_d{d}L{L}": a for (d, L), a in zip(r.sizes, logic)},
        maths_best_minus_chance=100 * (max(maths) - _chance("maths")),
        logic_worst_points=100 * max(abs(a - _chance("logic")) for a in logic),
    )
    assert max(maths) <= _chance("maths") + 0.05
    assert max(abs(a - _chance("logic")) for a in logic) <= 0.10


@pytest.mark.claims
@pytest.mark.parametrize("seed", claims.seeds([0, 1, 2]))
def test_claim_reading_comprehension_stays_within_10_points_of_chance(seed):
    """Not shown (Gopher's gain does not appear at this compute): every size within 10
    points of chance (0.25). Calibration (AVX-512, 2026-12-08; seeds 0-9 here, 0-4 on
    the other float path): at most 6.00 points from chance, a margin of 4.00 points.
    """
    r = _run(seed)
    acc = gopher.category_accuracy(r.accuracy, "reading")
    worst = max(abs(a - _chance("reading")) for a in acc)
    claims.report(
        "reading comprehension within 10 points of chance (0.25) at every size",
        seed,
        **{f"d{d}L{L}": a for (d, L), a in zip(r.sizes, acc)},
        worst_points=100 * worst,
    )
    assert worst <= 0.10


@pytest.mark.claims
@pytest.mark.parametrize("seed", claims.seeds([0, 1, 2]))
def test_claim_smallest_knows_frequent_entities_best_and_scale_buys_rare_ones(seed):
    """The frequency-band figure (bands of entity rank 1-25, 26-50, 51-100, 101-200),
    for both knowledge tasks: the smallest model is more accurate on the top band than
    on the bottom one, and from the smallest to the largest model the bottom band gains
    more than the top band. Calibration (AVX-512, 2026-12-08; seeds 0-9 here, 0-4 on the
    other float path): the smallest model's top-minus-bottom gap is 0.28 at least, the
    bottom band's gain exceeds the top band's by 0.18 at least (any seed, either task).
    ("Every size knows the top band better than the bottom one" was dropped with the
    former family: the largest now knows the bottom band almost fully, 0.01-0.10 below
    the top.)"""
    r = _run(seed)
    for task in (t for t in r.tasks if t.category == "knowledge"):
        edges = (0, 25, 50, 100, 200)
        bands = [
            gopher.knowledge_by_frequency(m, r.world, task, edges) for m in r.models
        ]
        gain = [big - small for big, small in zip(bands[-1], bands[0])]
        claims.report(
            f"{task.name}: smallest top band > bottom band; bottom gains more than top",
            seed,
            **{
                f"d{d}L{L}": "/".join(f"{b:.2f}" for b in bs)
                for (d, L), bs in zip(r.sizes, bands)
            },
            smallest_gap=bands[0][0] - bands[0][-1],
            gain_by_band="/".join(f"{g:+.2f}" for g in gain),
            tail_minus_top=gain[-1] - gain[0],
        )
        assert bands[0][0] > bands[0][-1] and gain[-1] > gain[0]


@pytest.mark.claims
@pytest.mark.parametrize("seed", claims.seeds([0, 1, 2]))
def test_claim_heldout_loss_falls_at_every_size_along_a_power_law(seed):
    """The loss-vs-size figure: the loss on held-out text of the whole mixture falls at
    every step of the family, and the power law L = a N^-alpha in non-embedding
    parameters fits it with R^2 >= 0.88. Calibration (AVX-512, 2026-12-08; seeds 0-9
    here, 0-4 on the other float path): R^2 on the whole mixture 0.93, 0.931, 0.94,
    0.948, 0.941, 0.926, 0.907, 0.915, 0.934, 0.92 on seeds 0, 1, 2, 3, 4, 5, 6, 7, 8, 9
    (0.942, 0.913, 0.923, 0.941, 0.953 on the other path), at least 0.907, a margin of
    0.007; every step lowers the loss by 0.014 nats at least. On the held-out pydoc text
    alone R^2 is 0.890-0.973, below 0.9 on seed 6. The float path moves R^2 by up to
    0.018 (seeds 0-4), more than the thinnest margin over 0.9 (0.007, seed 6): 0.9 would
    flip on another machine, so the bound is 0.88, 0.027 below the thinnest run."""
    r = _run(seed)
    a, alpha, r2 = gopher.power_law_fit(r.params, r.valid_mix_loss)
    _, alpha_pydoc, r2_pydoc = gopher.power_law_fit(r.params, r.valid_loss)
    steps = [x - y for x, y in zip(r.valid_mix_loss, r.valid_mix_loss[1:])]
    claims.report(
        "held-out loss (whole mixture) falls at every size; power law R^2 >= 0.88",
        seed,
        **{f"d{d}L{L}": v for (d, L), v in zip(r.sizes, r.valid_mix_loss)},
        smallest_step=min(steps),
        alpha=alpha,
        r2=r2,
        alpha_pydoc=alpha_pydoc,
        r2_pydoc=r2_pydoc,
    )
    assert min(steps) > 0 and r2 >= 0.88


@pytest.mark.claims
@pytest.mark.parametrize("seed", claims.seeds([0, 1, 2]))
def test_claim_knowledge_rises_at_least_20_points_smallest_to_largest(seed):
    """Knowledge accuracy (mean of the two knowledge tasks) rises by at least 20 points
    from the smallest model to the largest. Calibration (AVX-512, 2026-12-08; seeds 0-9
    here, 0-4 on the other float path): +39.7, +43.0, +38.9, +39.5, +42.6, +39.7, +40.0,
    +38.2, +40.2, +39.0 points on seeds 0, 1, 2, 3, 4, 5, 6, 7, 8, 9 (+40.3, +43.6,
    +39.2, +38.0, +42.8 on the other path); the thinnest margin is 18.0 points. (The
    former family reached +26.3 / +13.3 / +12.8 on seeds 0-2.)"""
    r = _run(seed)
    knowledge = gopher.category_accuracy(r.accuracy, "knowledge")
    claims.report(
        "knowledge +20 points or more, smallest -> largest",
        seed,
        **{f"d{d}L{L}": a for (d, L), a in zip(r.sizes, knowledge)},
        gain=100 * (knowledge[-1] - knowledge[0]),
    )
    assert knowledge[-1] - knowledge[0] >= 0.20


@pytest.mark.claims
@pytest.mark.parametrize("seed", claims.seeds([0, 1, 2]))
def test_claim_knowledge_gains_more_from_scale_than_maths_and_logic(seed):
    """Gopher's relative claim in miniature: from the smallest to the largest model,
    knowledge accuracy (mean of the two knowledge tasks) rises by more points than maths
    and than logic. Calibration (AVX-512, 2026-12-08; seeds 0-9 here, 0-4 on the other
    float path): knowledge gains +38.0 to +43.6 points, maths -5.7 to +4.5, logic -3.2
    to +1.2; the worst seed keeps 35.2 points of margin. The median Fig.-4 bars are
    reported here for the record; the chapter draws them and claims nothing from them.
    """
    r = _run(seed)
    gain = {
        c: 100
        * (
            gopher.category_accuracy(r.accuracy, c)[-1]
            - gopher.category_accuracy(r.accuracy, c)[0]
        )
        for c in ("knowledge", "maths", "logic")
    }
    bars = gopher.fig4_changes(r.accuracy)
    med = {
        f"median_bar_{c}": statistics.median(
            v for t, v in bars.items() if gopher.TASK_CATEGORY[t] == c
        )
        for c in ("knowledge", "maths", "logic")
    }
    knowledge = gopher.category_accuracy(r.accuracy, "knowledge")
    claims.report(
        "gain smallest -> largest (points): knowledge > maths and knowledge > logic",
        seed,
        **{f"gain_{c}": g for c, g in gain.items()},
        **med,
        **{f"knowledge_d{d}L{L}": a for (d, L), a in zip(r.sizes, knowledge)},
    )
    assert gain["knowledge"] > gain["maths"] and gain["knowledge"] > gain["logic"]


@pytest.mark.claims
@pytest.mark.parametrize("seed", claims.seeds([0, 1, 2]))
def test_claim_rmsnorm_final_loss_within_01_of_layernorm_every_seed(seed):
    """Calibration (AVX-512, 2026-12-08; seeds 0-9 here, 0-4 on the other float path):
    RMSNorm - LayerNorm final loss of the 16x2 model between -0.0102 and +0.0082 nats, a
    margin of 0.090."""
    r = _run(seed)
    rms, ln = r.final_loss("rmsnorm"), r.final_loss("layernorm")
    claims.report(
        "RMSNorm - LayerNorm final loss (mean of last 50 steps)",
        seed,
        rmsnorm=rms,
        layernorm=ln,
        diff=rms - ln,
    )
    assert abs(rms - ln) <= 0.1


@pytest.mark.claims
def test_claim_rmsnorm_final_loss_within_005_of_layernorm_on_average():
    """Calibration (as above): the per-seed differences lie within +-0.010 nats, so any
    mean over seeds is at least 0.040 inside the bound (seeds 0-2: -0.0060)."""
    diffs = [
        _run(seed).final_loss("rmsnorm") - _run(seed).final_loss("layernorm")
        for seed in claims.seeds([0, 1, 2])
    ]
    claims.report(
        "RMSNorm - LayerNorm final loss, mean over seeds",
        "all",
        mean_diff=sum(diffs) / len(diffs),
    )
    assert abs(sum(diffs) / len(diffs)) <= 0.05
