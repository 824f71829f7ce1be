"""Chapter 3: Fig. 3's label matching, and the chapter's claims over seeds."""

import functools
import math

import pytest

from fourpapers import claims
from fourpapers import ulmfit as u


def test_labels_to_match_interpolates_in_log_n():
    assert u.labels_to_match([10, 100], [50.0, 10.0], 30.0) == pytest.approx(
        math.sqrt(10 * 100)
    )
    assert u.labels_to_match([10, 100], [50.0, 40.0], 5.0) == math.inf
    assert u.labels_to_match([10, 100], [5.0, 1.0], 8.0) == 10.0


# --------------------------------------------------------------------------------------
# The claims (fixed by issue 5; the chapter states them). Seeds from FOURPAPERS_SEEDS,
# else 0, 1, 2. One world-B run per seed is shared by the world-B claims; world A shares
# one pretrained LM (seed 0) across seeds to fit the test budget, while the labeled
# subsets, the scratch initialisation and fine-tuning vary.
# --------------------------------------------------------------------------------------


SMALL_NS = (20, 48, 100)


@functools.lru_cache(maxsize=None)
def _world_b_lm(seed):
    task = u.topic_world_task(seed=seed)
    lm, losses = u.pretrained_lm(task, u.WORLD_B, seed=seed, progress=False)
    return task, lm, losses


@functools.lru_cache(maxsize=None)
def _world_b(seed):
    task, lm, _ = _world_b_lm(seed)
    # no semi-supervised arm: the chapter reports it on seed 0 and its calibration, it
    # asserts nothing about it
    plan = {
        "supervised": SMALL_NS,
        "scratch": SMALL_NS,
        "scratch_nodrop": SMALL_NS,
        "scratch_full": SMALL_NS + (200,),
    }
    fig3 = u.fig3_experiment(task, lm, u.WORLD_B, plan, seed=seed, progress=False)
    probe = u.probe_experiment(task, lm, u.WORLD_B, n=200, seed=seed)
    return fig3, probe


@functools.lru_cache(maxsize=None)
def _world_a_lm():
    task = u.docstring_task()
    lm, _ = u.pretrained_lm(task, u.WORLD_A, seed=0, progress=False)
    return task, lm


@functools.lru_cache(maxsize=None)
def _world_a(seed):
    task, lm = _world_a_lm()
    fig3 = u.fig3_experiment(
        task,
        lm,
        u.WORLD_A,
        {"supervised": [100], "scratch_full": [100]},
        seed=seed,
        progress=False,
    )
    probe = u.probe_experiment(task, lm, u.WORLD_A, n=200, seed=seed)
    return fig3, probe


@pytest.mark.claims
@pytest.mark.parametrize("seed", claims.seeds([0, 1, 2]))
def test_world_b_lm_ends_below_the_syntax_only_loss(seed):
    """The stage-1 figure: the world-B LM's training loss (mean of its last 50 updates)
    ends below the best loss a model can reach that knows the grammar but not the topic,
    so the LM infers topics."""
    task, _, losses = _world_b_lm(seed)
    ref = task.info["world"].reference_losses()
    final = sum(losses[-50:]) / 50
    claims.report(
        "world B: LM training loss ends below the syntax-only loss",
        seed,
        final=final,
        syntax_only=ref["syntax only"],
        topic_known=ref["topic known"],
    )
    assert final < ref["syntax only"]


@pytest.mark.claims
@pytest.mark.parametrize("seed", claims.seeds([0, 1, 2]))
def test_world_b_ulmfit_beats_the_best_scratch_by_10_points_when_labels_are_few(seed):
    fig3, _ = _world_b(seed)
    sup = {n: fig3.error("supervised", n) for n in SMALL_NS}
    scratch = {n: fig3.error("best_scratch", n) for n in SMALL_NS}
    claims.report(
        "world B: supervised ULMFiT <= best scratch - 10 at n <= 100",
        seed,
        **{f"sup{n}": sup[n] for n in SMALL_NS},
        **{f"scratch{n}": scratch[n] for n in SMALL_NS},
    )
    assert all(sup[n] <= scratch[n] - 10 for n in SMALL_NS)


@pytest.mark.claims
@pytest.mark.parametrize("seed", claims.seeds([0, 1, 2]))
def test_world_b_scratch_needs_4x_the_labels_to_match_ulmfit_at_48(seed):
    fig3, _ = _world_b(seed)
    target = fig3.error("supervised", 48)
    ns, errs = fig3.curve("best_scratch")
    need = u.labels_to_match(ns, errs, target)
    claims.report(
        "world B: scratch needs >= 4x the labels of supervised ULMFiT at n=48",
        seed,
        sup48=target,
        **{f"scratch{n}": e for n, e in zip(ns, errs)},
        ratio=need / 48 if math.isfinite(need) else f"> {max(ns) / 48:.2f}",
    )
    assert need >= 4 * 48


@pytest.mark.claims
@pytest.mark.parametrize("seed", claims.seeds([0, 1, 2]))
def test_lm_probe_beats_bag_of_words_in_world_b_and_loses_in_world_a(seed):
    _, probe_b = _world_b(seed)
    _, probe_a = _world_a(seed)
    claims.report(
        "probe: LM < BoW in world B, LM > BoW in world A",
        seed,
        b_lm=probe_b["pretrained LM"],
        b_bow=probe_b["bag of words"],
        b_random=probe_b["random LM"],
        a_lm=probe_a["pretrained LM"],
        a_bow=probe_a["bag of words"],
        a_random=probe_a["random LM"],
    )
    assert probe_b["pretrained LM"] < probe_b["bag of words"]
    assert probe_a["pretrained LM"] > probe_a["bag of words"]


@pytest.mark.claims
@pytest.mark.parametrize("seed", claims.seeds([0, 1, 2]))
def test_world_a_supervised_ulmfit_does_not_beat_scratch_at_100(seed):
    fig3, _ = _world_a(seed)
    sup, scratch = fig3.error("supervised", 100), fig3.error("scratch_full", 100)
    claims.report(
        "world A: supervised ULMFiT >= scratch at n=100",
        seed,
        sup100=sup,
        scratch100=scratch,
    )
    assert sup >= scratch


@functools.lru_cache(maxsize=None)
def _table7(seed):
    """Table 7 in miniature (world B, n = 20): validation error % of each fine-tuning
    row, and the best scratch."""
    task, lm, _ = _world_b_lm(seed)
    fig3, _ = _world_b(seed)
    rows = {
        k: v.error
        for k, v in u.ablation_experiment(
            task,
            lm,
            u.WORLD_B,
            n=20,
            seed=seed,
            rows=("Full", "Last", "Freez"),
            progress=False,
        ).items()
    }
    rows["Freez+discr+stlr"] = fig3.error(
        "supervised", 20
    )  # the full recipe is the supervised arm itself
    return rows, fig3.error("best_scratch", 20)


@pytest.mark.claims
@pytest.mark.parametrize("seed", claims.seeds([0, 1, 2]))
def test_table7_rows_all_beat_scratch(seed):
    """Table 7 in miniature (world B, n = 20): every fine-tuning row is >= 10 points
    below the best scratch."""
    rows, scratch = _table7(seed)
    claims.report(
        "Table 7 rows at n=20 <= best scratch - 10", seed, **rows, scratch=scratch
    )
    assert all(e <= scratch - 10 for e in rows.values())


@pytest.mark.claims
def test_table7_rows_tie_with_each_other():
    """The rows tie: averaged over the seeds (pass at least 3), the four rows' mean
    errors lie within 5 points of each other, against about 38 points between them and
    the best scratch. Calibration: the spread of the row means is 1.1 / 1.1 / 1.7 / 1.2
    / 3.6 / 3.4 / 3.6 / 2.2 over the triples of consecutive seeds 0-2 ... 7-9, 2.0 over
    all ten; on the other float path 1.2 / 1.9 / 1.3 (seeds 0-2, 1-3, 2-4). (The
    statistic used before, the smallest spread of a row across seeds against the largest
    spread within one seed, flipped between CPUs.)"""
    seeds = claims.seeds([0, 1, 2])
    assert len(seeds) >= 3, (
        "a claim over seeds: pass at least 3 seeds in FOURPAPERS_SEEDS"
    )
    table = {seed: _table7(seed)[0] for seed in seeds}
    means = {
        row: sum(t[row] for t in table.values()) / len(seeds) for row in table[seeds[0]]
    }
    spread = max(means.values()) - min(means.values())
    claims.report(
        "Table 7 rows tie: the row means over seeds lie within 5 points",
        "all",
        **means,
        spread=spread,
    )
    assert spread <= 5


@functools.lru_cache(maxsize=None)
def _no_lm_ft(seed):
    """Table 6's "no LM fine-tuning" row in miniature (world B, n = 20): the full
    classifier recipe on the stage-1 LM, stage 2 skipped; with the full recipe (the
    supervised arm) and the best scratch at n = 20."""
    task, lm, _ = _world_b_lm(seed)
    fig3, _ = _world_b(seed)
    row = u.ablation_experiment(
        task, lm, u.WORLD_B, n=20, seed=seed, rows=(u.NO_LM_FT,), progress=False
    )
    return (
        row[u.NO_LM_FT].error,
        fig3.error("supervised", 20),
        fig3.error("best_scratch", 20),
    )


@pytest.mark.claims
@pytest.mark.parametrize("seed", claims.seeds([0, 1, 2]))
def test_no_lm_finetuning_row_beats_scratch_by_10_points(seed):
    """Table 6's first row in miniature (world B, n = 20): without stage 2 the
    classifier is still at least 10 points below the best scratch. Calibration (issue
    14), best scratch minus the row: seeds 0-9 29.3, 42.7, 39.3, 33.3, 42.0, 48.7, 28.3,
    51.3, 33.0, 40.3; seeds 0-4 on the other float path 37.3, 37.0, 35.3, 36.7, 44.7;
    worst 28.3, a margin of 18.3 points over the bound."""
    no_ft, full, scratch = _no_lm_ft(seed)
    claims.report(
        "no LM fine-tuning at n=20 <= best scratch - 10",
        seed,
        no_lm_ft=no_ft,
        ulmfit=full,
        scratch=scratch,
    )
    assert no_ft <= scratch - 10


@pytest.mark.claims
def test_no_lm_finetuning_ties_with_the_full_recipe():
    """Stage 2 buys nothing the miniature resolves: averaged over the seeds (pass at
    least 3), the "no LM fine-tuning" row's error is within 5 points of the full
    recipe's (supervised ULMFiT), either way; in the paper stage 2 is worth 0.69 to 1.99
    points (Table 6). Calibration (issue 14), row minus full recipe: per seed, seeds 0-9
    +4.3, +0.3, -1.0, +0.0, -4.0, -1.3, -6.0, -0.7, +0.3, +2.7; seeds 0-4 on the other
    float path +0.3, +2.3, -1.0, +3.7, -2.7. Means over consecutive triples 0-2 ... 7-9:
    +1.2, -0.2, -1.7, -1.8, -3.8, -2.7, -2.1, +0.8; on the other float path (0-2, 1-3,
    2-4) +0.6, +1.7, +0.0; worst 3.78 (seeds 4-6), a margin of 1.22 points; on the
    default seeds 0-2 the margin is 3.78 here and 4.44 on the other float path."""
    seeds = claims.seeds([0, 1, 2])
    assert len(seeds) >= 3, (
        "a claim over seeds: pass at least 3 seeds in FOURPAPERS_SEEDS"
    )
    diffs = [_no_lm_ft(seed)[0] - _no_lm_ft(seed)[1] for seed in seeds]
    mean = sum(diffs) / len(diffs)
    claims.report(
        "no LM fine-tuning - full recipe at n=20, mean over seeds",
        "all",
        mean_diff=mean,
        worst_seed=max(diffs, key=abs),
    )
    assert abs(mean) <= 5


@pytest.mark.parametrize(
    "call, arg",
    [
        (lambda: u.labels_to_match([100, 10], [1.0, 2.0], 1.0), "ns"),
        (lambda: u.Fig3Result({}).error("semi", 20), "arm"),
        (lambda: u.Fig3Result({}).error("best_scratch", 20), "n"),
    ],
)
def test_bad_arguments_name_the_argument(call, arg):
    with pytest.raises(ValueError, match=arg):
        call()
