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
    a, alpha, r2 = gopher.power_law_fit(params, [3.0 * p ** -0.1 for p in params])
    assert a == pytest.approx(3.0) and alpha == pytest.approx(0.1) and r2 == pytest.approx(1.0)
    assert gopher.power_law_fit(params, [3.0, 2.0, 2.5, 1.0])[2] < 0.9


def test_family_sizes_and_parameter_counts():
    models_ = gopher.family(838)
    params = [m.num_parameters(non_embedding=True) for m in models_]
    assert params == sorted(params) and 3_000 < params[0] < 4_000 and 340_000 < params[-1] < 380_000
    assert params[-1] / params[-2] > 10
    m = models_[-1]
    assert m.positions == "relative" and isinstance(m.final_norm, RMSNorm)
    assert m.blocks[0].ffn.fc1.out_features == 4 * 96
    assert m.blocks[0].attn.n_heads == 6 and m.head.weight.data_ptr() != m.tok_emb.weight.data_ptr()



@pytest.mark.parametrize(
    "call, arg",
    [
        (lambda: gopher.family(50, sizes=[]), "sizes"),
        (lambda: gopher.family(50, sizes=[(16, 0)]), "sizes"),
        (lambda: gopher.make_model(50, 15, 1), "d_model"),
        (lambda: gopher.scaling_run(steps=10), "steps"),
        (lambda: gopher.scaling_run(norm_size=(8, 8)), "norm_size"),
        (lambda: gopher.heldout_loss(nn.Identity(), torch.arange(10), seq_len=64), "ids"),
        (lambda: gopher.heldout_loss(nn.Identity(), torch.arange(10), seq_len=0), "seq_len"),
        (lambda: gopher.power_law_fit([1, 2], [1, 2]), "params"),
        (lambda: gopher.power_law_fit([1, 2, -3], [1, 2, 3]), "params"),
        (lambda: gopher.ScalingResult(0, [(16, 1)], [1], [1.0], {}, [[1.0]]).final_loss("rmsnorm"), "norm"),
    ],
)
def test_scaling_bad_arguments_name_the_argument(call, arg):
    with pytest.raises(ValueError, match=arg):
        call()


# --------------------------------------------------------------------------------------------------------------
# The claims (issue 6), over seeds 0, 1, 2: one scaling run per seed, shared by the claims below. Two claims of the
# issue are not shown by this miniature and have no test here; the chapter states them with their numbers:
# knowledge rises >= 20 points (measured +26.5 / +13.0 / +11.5 on seeds 0 / 1 / 2 on an AVX2 processor, +26.3 / +13.3 /
# +12.8 on an AVX-512 one) and the power law of held-out loss has R^2 >= 0.9 (0.86 / 0.91 / 0.82, and 0.84 / 0.85 /
# 0.88).
# --------------------------------------------------------------------------------------------------------------


@functools.lru_cache(maxsize=None)
def _run(seed):
    return gopher.scaling_run(seed=seed, keep_models=True, progress=False)


_chance = gopher.category_chance


@pytest.mark.claims
@pytest.mark.parametrize("seed", claims.seeds([0, 1, 2]))
def test_claim_maths_never_rises_above_chance_and_logic_stays_within_10_points(seed):
    """No size scores more than 5 points above chance (0.25) on maths, and every size is within 10 points of chance
    (0.5) on logic. Calibration (seeds 0-9 here, 0-4 on the other float path): the best maths accuracy of any size is
    0.230, 7 points inside the bound (maths sits *below* chance, down to 0.150: the models pick distractors); logic's
    worst distance is 4.5 points. ("Maths within 10 points of chance" was dropped: it reached 10.0 on seed 6.)"""
    r = _run(seed)
    maths = gopher.category_accuracy(r.accuracy, "maths")
    logic = gopher.category_accuracy(r.accuracy, "logic")
    claims.report("maths <= chance + 0.05 at every size; logic within 10 points of chance (0.5)", seed,
                  **{f"maths_d{d}L{L}": a for (d, L), a in zip(r.sizes, maths)},
                  **{f"logic_d{d}L{L}": a for (d, L), a in zip(r.sizes, logic)},
                  maths_best_minus_chance=100 * (max(maths) - _chance("maths")),
                  logic_worst_points=100 * max(abs(a - _chance("logic")) for a in logic))
    assert max(maths) <= _chance("maths") + 0.05
    assert max(abs(a - _chance("logic")) for a in logic) <= 0.10


@pytest.mark.claims
@pytest.mark.parametrize("seed", claims.seeds([0, 1, 2]))
def test_claim_reading_comprehension_stays_within_10_points_of_chance(seed):
    """Not shown (Gopher's gain does not appear at this compute): every size within 10 points of chance (0.25).
    Calibration (AVX-512, 2026-12-07; seeds 0-9, and 0-4 on the other float path): at most 6.25 points from chance
    (5.0 on the other path), a margin of 3.75 points."""
    r = _run(seed)
    acc = gopher.category_accuracy(r.accuracy, "reading")
    worst = max(abs(a - _chance("reading")) for a in acc)
    claims.report("reading comprehension within 10 points of chance (0.25) at every size", seed,
                  **{f"d{d}L{L}": a for (d, L), a in zip(r.sizes, acc)}, worst_points=100 * worst)
    assert worst <= 0.10


@pytest.mark.claims
@pytest.mark.parametrize("seed", claims.seeds([0, 1, 2]))
def test_claim_frequent_entities_are_known_better_than_rare_ones_by_every_size(seed):
    """The frequency-band figure (bands of entity rank 1-25, 26-50, 51-100, 101-200): for both knowledge tasks, every
    size is more accurate on the top band than on the bottom one. Calibration (seeds 0-9 here, 0-4 on the other float
    path): the smallest gap of any size, task and seed is 0.19. (That the largest model gains most in a middle band
    held on 7 of 10 seeds and flipped with the float path on seed 3: the chapter reports it as a tendency.)"""
    r = _run(seed)
    for task in (t for t in r.tasks if t.category == "knowledge"):
        bands = [gopher.knowledge_by_frequency(m, r.world, task, (0, 25, 50, 100, 200)) for m in r.models]
        gain = [big - small for big, small in zip(bands[-1], bands[0])]
        claims.report(f"{task.name}: top band > bottom band at every size", seed,
                      **{f"d{d}L{L}": f"{b[0]:.2f}>{b[-1]:.2f}" for (d, L), b in zip(r.sizes, bands)},
                      gain_by_band="/".join(f"{g:+.2f}" for g in gain))
        assert all(b[0] > b[-1] for b in bands)


@pytest.mark.claims
@pytest.mark.parametrize("seed", claims.seeds([0, 1, 2]))
def test_claim_heldout_loss_is_lowest_for_the_largest_and_width_buys_more_than_depth_at_d16(seed):
    """The loss-vs-size figure, as the chapter describes it: the largest model has the lowest held-out loss, and at
    d = 16 widening the second model (16x2 -> 24x2) lowers the held-out loss by more than adding its layer
    (16x1 -> 16x2) moves it, either way. Calibration (seeds 0-9 here, 0-4 on the other float path): the largest
    model beats the next best by 0.022 nats at least; widening gains 0.096-0.150 nats, the added layer moves the
    loss by -0.043 to +0.028, so the worst seed keeps 0.053 nats of margin. ("16x2 is no better than 16x1" was
    dropped: 16x2 was better on seeds 6, 7 and 8. The power law's R^2 >= 0.9 is not shown; see above.)"""
    r = _run(seed)
    a, alpha, r2 = gopher.power_law_fit(r.params, r.valid_loss)
    loss = dict(zip(r.sizes, r.valid_loss))
    depth, width = loss[(16, 2)] - loss[(16, 1)], loss[(16, 2)] - loss[(24, 2)]
    claims.report("held-out loss: largest lowest; 16x2 -> 24x2 gains more than |16x1 -> 16x2|", seed,
                  **{f"d{d}L{L}": v for (d, L), v in loss.items()}, depth_step=depth, width_step=width, alpha=alpha,
                  r2=r2)
    assert r.valid_loss[-1] == min(r.valid_loss)
    assert r.sizes[:3] == [(16, 1), (16, 2), (24, 2)] and width > abs(depth)


@pytest.mark.claims
@pytest.mark.parametrize("seed", claims.seeds([0, 1, 2]))
def test_claim_knowledge_gains_more_from_scale_than_maths_and_logic(seed):
    """Gopher's relative claim in miniature: from the smallest to the largest model, knowledge accuracy (mean of the
    two knowledge tasks) rises by more points than maths and than logic. Calibration (seeds 0-9 here, 0-4 on the
    other float path): knowledge gains +9.2 to +26.5 points, maths -3.2 to +5.0, logic -2.5 to +5.2; the worst seed
    keeps 8.5 points of margin. The median Fig.-4 bar (largest against the best smaller model), which the chapter
    draws, put knowledge above maths and logic on 14 of 15 seed-paths and below logic once (seed 2, other float
    path: -3.5 against -2.0), so it is drawn, not claimed. Medians are reported here for the record."""
    r = _run(seed)
    gain = {c: 100 * (gopher.category_accuracy(r.accuracy, c)[-1] - gopher.category_accuracy(r.accuracy, c)[0])
            for c in ("knowledge", "maths", "logic")}
    bars = gopher.fig4_changes(r.accuracy)
    med = {f"median_bar_{c}": statistics.median(v for t, v in bars.items() if gopher.TASK_CATEGORY[t] == c)
           for c in ("knowledge", "maths", "logic")}
    knowledge = gopher.category_accuracy(r.accuracy, "knowledge")
    claims.report("gain smallest -> largest (points): knowledge > maths and knowledge > logic", seed,
                  **{f"gain_{c}": g for c, g in gain.items()}, **med,
                  **{f"knowledge_d{d}L{L}": a for (d, L), a in zip(r.sizes, knowledge)})
    assert gain["knowledge"] > gain["maths"] and gain["knowledge"] > gain["logic"]


@pytest.mark.claims
@pytest.mark.parametrize("seed", claims.seeds([0, 1, 2]))
def test_claim_rmsnorm_final_loss_within_01_of_layernorm_every_seed(seed):
    """Calibration (AVX-512, 2026-12-07; seeds 0-9, and 0-4 on the other float path, identical to 4 digits): RMSNorm -
    LayerNorm final loss between -0.0186 and +0.0156 nats, a margin of 0.081."""
    r = _run(seed)
    rms, ln = r.final_loss("rmsnorm"), r.final_loss("layernorm")
    claims.report("RMSNorm - LayerNorm final loss (mean of last 50 steps)", seed, rmsnorm=rms, layernorm=ln,
                  diff=rms - ln)
    assert abs(rms - ln) <= 0.1


@pytest.mark.claims
def test_claim_rmsnorm_final_loss_within_005_of_layernorm_on_average():
    """Calibration (as above): the per-seed differences lie within +-0.019 nats, so any mean over seeds is at least
    0.031 inside the bound (seeds 0-2: -0.00003)."""
    diffs = [_run(seed).final_loss("rmsnorm") - _run(seed).final_loss("layernorm") for seed in claims.seeds([0, 1, 2])]
    claims.report("RMSNorm - LayerNorm final loss, mean over seeds", "all", mean_diff=sum(diffs) / len(diffs))
    assert abs(sum(diffs) / len(diffs)) <= 0.05

