"""Chapter 3, the recipe (Sec. 3): STLR, discriminative rates, gradual unfreezing."""

import math

import pytest
import torch

from fourpapers import ulmfit as u

# --------------------------------------------------------------------------------------
# Schedules
# --------------------------------------------------------------------------------------


def test_stlr_paper_values():
    got = [u.stlr(t, 1000, lr_max=0.01) for t in (0, 50, 100, 550, 1000)]
    assert got == pytest.approx(
        [3.125e-4, 5.15625e-3, 1e-2, 5.15625e-3, 3.125e-4], rel=1e-12
    )


@pytest.mark.parametrize("T", [10, 100, 1000, 250])
def test_stlr_equals_one_cycle_lr_when_T_cut_frac_is_an_integer(T):
    lr, ratio, cut_frac = 0.01, 32, 0.1
    cut = math.floor(T * cut_frac)
    assert T * cut_frac == cut
    p = torch.nn.Parameter(torch.zeros(1))
    ref_opt = torch.optim.SGD([p], lr=lr)
    ref = torch.optim.lr_scheduler.OneCycleLR(
        ref_opt,
        max_lr=lr,
        total_steps=T + 1,
        pct_start=(cut + 1) / (T + 1),
        anneal_strategy="linear",
        div_factor=ratio,
        final_div_factor=1,
        cycle_momentum=False,
    )
    opt = torch.optim.SGD([p], lr=lr)
    ours = u.stlr_scheduler(opt, T, cut_frac, ratio)
    for t in range(T + 1):
        a, b = ref_opt.param_groups[0]["lr"], opt.param_groups[0]["lr"]
        assert a == pytest.approx(b, abs=1e-15) and b == pytest.approx(
            u.stlr(t, T, lr, cut_frac, ratio), abs=1e-15
        )
        if t < T:
            ref_opt.step()
            ref.step()
            opt.step()
            ours.step()


def test_stlr_never_below_floor_but_the_printed_formula_goes_negative():
    for T in range(1, 400):
        assert min(u.stlr(t, T) for t in range(T + 1)) >= 0.01 / 32 - 1e-15
        if T >= 2:  # T = 1: one update up, none left to come down
            assert u.stlr(T, T) == pytest.approx(0.01 / 32)
    assert u.stlr(237, 237, paper_form=True) == pytest.approx(-1.5097e-5, rel=1e-3)
    assert u.stlr(100, 1000, paper_form=True) == u.stlr(100, 1000)


def test_stlr_schedule_multiplies_and_holds_after_T():
    m = u.stlr_schedule(99)
    assert (
        m(0) == pytest.approx(1 / 32)
        and m(9) == pytest.approx(1.0)
        and m(500) == pytest.approx(1 / 32)
    )


def test_one_cycle_shape():
    assert u.one_cycle(0, 100, 0.01) == pytest.approx(0.01 / 25)
    assert u.one_cycle(25, 100, 0.01) == pytest.approx(0.01)
    assert u.one_cycle(100, 100, 0.01) == pytest.approx(0.01 / 1e5)


def test_discriminative_lrs():
    lrs = u.discriminative_lrs(0.01, 5)
    assert lrs[-1] == 0.01 and len(lrs) == 5
    assert all(b / a == pytest.approx(2.6) for a, b in zip(lrs, lrs[1:]))
    assert lrs[0] == pytest.approx(0.01 / 2.6**4)
    assert u.discriminative_lrs(0.01, 1) == [0.01]


def test_gradual_unfreezing_changes_exactly_the_unfrozen_groups(tiny_lm):
    lm = tiny_lm(n_layers=2)
    clf = u.ConcatPoolClassifier(lm, n_classes=2)
    groups = clf.groups()
    G = len(groups)
    assert G == 4  # embedding, 2 LSTMs, head
    snap = lambda: [[p.detach().clone() for p in g] for g in groups]  # noqa: E731
    before = [snap()]
    stages = []

    def on_stage(n_trainable):
        after = snap()
        changed = [
            any(not torch.equal(a, b) for a, b in zip(ga, gb))
            for ga, gb in zip(before[0], after)
        ]
        stages.append((n_trainable, changed))
        before[0] = after

    torch.manual_seed(0)
    docs = [torch.randint(3, 50, (int(k),)) for k in torch.randint(3, 9, (12,))]
    labels = torch.arange(12) % 2
    u.finetune_classifier(
        clf,
        docs,
        labels,
        docs[:4],
        labels[:4],
        pad_id=1,
        lr=0.05,
        final_epochs=1,
        batch_size=4,
        min_steps=2,
        n_checkpoints=1,
        weight_decay=0.1,
        on_stage=on_stage,
    )
    assert [s for s, _ in stages] == [1, 2, 3, 4]
    for s, changed in stages:
        assert changed == [i >= G - s for i in range(G)], (s, changed)


def test_last_only_leaves_the_encoder_bit_identical_with_weight_decay(tiny_lm):
    lm = tiny_lm()
    clf = u.ConcatPoolClassifier(lm, n_classes=2)
    enc = [p.detach().clone() for g in clf.groups()[:-1] for p in g]
    docs = [torch.randint(3, 50, (5,)) for _ in range(8)]
    labels = torch.arange(8) % 2
    u.finetune_classifier(
        clf,
        docs,
        labels,
        docs,
        labels,
        pad_id=1,
        unfreeze="last",
        final_epochs=1,
        batch_size=4,
        min_steps=2,
        n_checkpoints=1,
        weight_decay=0.5,
    )
    assert all(
        torch.equal(a, b)
        for a, b in zip(enc, [p for g in clf.groups()[:-1] for p in g])
    )
    assert all(
        p.requires_grad for p in clf.parameters()
    )  # everything thawed again afterwards


def test_freeze_to(tiny_lm):
    clf = u.ConcatPoolClassifier(tiny_lm(), n_classes=2)
    groups = clf.groups()
    u.freeze_to(groups, 2)
    assert [all(p.requires_grad for p in g) for g in groups] == [
        False,
        False,
        True,
        True,
    ]
    with pytest.raises(ValueError, match="n_trainable"):
        u.freeze_to(groups, 5)


@pytest.mark.parametrize(
    "call, arg",
    [
        (lambda: u.stlr(5, 0), "T"),
        (lambda: u.stlr(11, 10), "t"),
        (lambda: u.stlr(1, 10, lr_max=0), "lr_max"),
        (lambda: u.stlr(1, 10, cut_frac=1.0), "cut_frac"),
        (lambda: u.stlr(1, 10, ratio=0.5), "ratio"),
        (lambda: u.one_cycle(1, 10, pct_start=0), "pct_start"),
        (lambda: u.discriminative_lrs(0.01, 0), "n_groups"),
        (lambda: u.discriminative_lrs(-1, 3), "lr"),
        (lambda: u.discriminative_lrs(0.01, 3, factor=0), "factor"),
        (lambda: u.stlr_scheduler("opt", 10), "optimizer"),
    ],
)
def test_bad_arguments_name_the_argument(call, arg):
    with pytest.raises(ValueError, match=arg):
        call()
