import math
import os

import pytest
import torch

import fourpapers as fp
from fourpapers import data, training
from fourpapers.models import TransformerLM


def _run(seed, steps=15):
    training.reproducible(seed)
    ids = torch.arange(200) % 17
    model = TransformerLM(17, d_model=16, n_heads=2, d_ff=32, n_layers=2, max_len=16)
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    return training.train(
        model,
        data.batches(ids, 8, 16, seed=seed),
        opt,
        steps,
        schedule=training.warmup_schedule(5),
        progress=False,
    ), model


def test_same_seed_gives_bitwise_identical_losses():
    a, _ = _run(0)
    b, _ = _run(0)
    c, _ = _run(1)
    assert a == b
    assert a != c


def test_training_reduces_loss_on_a_learnable_sequence():
    losses, _ = _run(0, steps=60)
    assert len(losses) == 60 and all(math.isfinite(x) for x in losses)
    assert sum(losses[-5:]) / 5 < 0.5 * losses[0]


def test_schedule_is_applied_then_restored():
    model = torch.nn.Linear(2, 1)
    opt = torch.optim.SGD(model.parameters(), lr=1.0)
    seen = []

    def loss_fn(m, x):
        seen.append(opt.param_groups[0]["lr"])
        return m(x).pow(2).mean()

    batches = iter(lambda: (torch.ones(1, 2),), None)
    training.train(
        model,
        batches,
        opt,
        4,
        schedule=training.warmup_schedule(4),
        loss_fn=loss_fn,
        progress=False,
    )
    assert seen == [0.25, 0.5, 0.75, 1.0]
    assert opt.param_groups[0]["lr"] == 1.0


def test_warmup_then_cosine():
    f = training.warmup_schedule(10, 110, decay="cosine", final_frac=0.1)
    assert f(0) == pytest.approx(0.1) and f(9) == pytest.approx(1.0)
    assert f(60) == pytest.approx(0.55) and f(110) == pytest.approx(0.1)
    assert training.warmup_schedule(0)(0) == 1.0


def test_evaluate_restores_mode_and_does_not_train():
    _, model = _run(0, steps=2)
    before = [p.clone() for p in model.parameters()]
    model.train()
    loss = training.evaluate(
        model, data.batches(torch.arange(200) % 17, 4, 16, seed=9), 3
    )
    assert model.training and math.isfinite(loss)
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters()))


def test_setup_pins_one_thread_and_returns_cpu():
    assert fp.setup(seed=0) == torch.device("cpu")
    assert torch.get_num_threads() == 1


@pytest.mark.parametrize(
    "call, arg",
    [
        (lambda: training.reproducible(-1), "seed"),
        (lambda: training.reproducible(0, threads=0), "threads"),
        (lambda: training.warmup_schedule(-1), "warmup_steps"),
        (lambda: training.warmup_schedule(10, 5, decay="cosine"), "total_steps"),
        (lambda: training.warmup_schedule(0, decay="linear"), "decay"),
        (lambda: training.resolve_device("banana"), "device"),
        (
            lambda: training.train(
                torch.nn.Linear(1, 1),
                iter([]),
                torch.optim.SGD([torch.zeros(1)], lr=1),
                0,
            ),
            "steps",
        ),
    ],
)
def test_bad_arguments_name_the_argument(call, arg):
    with pytest.raises(ValueError, match=arg):
        call()


def test_progress_bar_is_off_when_asked_and_rejects_a_bad_setting(monkeypatch):
    items = [1, 2, 3]
    monkeypatch.setenv(training.PROGRESS_ENV, "off")
    assert training.progress_bar(items, "x") is items  # the book's executors: no widget
    monkeypatch.setenv(training.PROGRESS_ENV, "on")
    bar = training.progress_bar(items, "x", file=open(os.devnull, "w"))
    assert bar is not items and list(bar) == items  # a reader's run: a live bar
    assert training.progress_bar(items, "x", progress=False) is items
    monkeypatch.setenv(training.PROGRESS_ENV, "sometimes")
    with pytest.raises(ValueError, match="FOURPAPERS_PROGRESS"):
        training.progress_bar(items, "x")
